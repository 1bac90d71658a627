"""File formats of the data: MATLAB ``.mat`` files (v7.3/HDF5 and older), in MATLAB axis order.

The names below are imported from :mod:`ddei.io.matlab` on first use, so that importing a light module of this
package (:mod:`ddei.io.files`, at the workflow's parse time) does not import h5py and scipy.
"""

__all__ = ["MatFileError", "write_mat73", "read_mat", "read_mat_slice", "mat_shape"]


def __getattr__(name: str):
    if name in __all__:
        from ddei.io import matlab

        return getattr(matlab, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
