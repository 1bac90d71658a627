"""File formats of the data: MATLAB ``.mat`` files (v7.3/HDF5 and older), in MATLAB axis order."""

from ddei.io.matlab import MatFileError, mat_shape, read_mat, read_mat_slice, write_mat73

__all__ = ["MatFileError", "write_mat73", "read_mat", "read_mat_slice", "mat_shape"]
