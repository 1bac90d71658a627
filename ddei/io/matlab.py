"""Reading and writing MATLAB ``.mat`` files as the CMRxRecon data uses them.

CMRxRecon ships MATLAB v7.3 files: HDF5 files behind a 512-byte user block holding the MATLAB text header. MATLAB
stores arrays column-major, so the HDF5 dataset of a MATLAB array of size ``(kx, ky, slice, t)`` has the reversed
shape ``(t, slice, ky, kx)``, and complex arrays are an HDF5 compound type with fields ``real`` and ``imag``.
Every function here speaks MATLAB axis order: arrays come back with the shape MATLAB's ``size`` reports.

Older (v4, v5, v7) files, which masks may come in, are read with :func:`scipy.io.loadmat`.

>>> import tempfile
>>> import numpy as np
>>> from ddei.io.matlab import mat_shape, read_mat, write_mat73
>>> kspace = np.ones((4, 3, 2), dtype=np.complex64)
>>> path = write_mat73(Path(tempfile.mkdtemp()) / "x.mat", {"kspace_single_full": kspace})
>>> read_mat(path, "kspace_single_full", expected_ndim=3).shape
(4, 3, 2)
>>> mat_shape(path, "kspace_single_full")
(4, 3, 2)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np
import scipy.io
from scipy.io.matlab import MatReadError

from ddei.io.files import atomic_write

__all__ = ["MatFileError", "write_mat73", "read_mat", "read_mat_slice", "mat_shape", "mat_variables"]

#: Size of the user block in front of the HDF5 data, which holds the MATLAB header (as MATLAB writes it).
USERBLOCK_SIZE = 512
#: Fixed creation date in the header, so that the same arrays always give the same bytes.
_HEADER_DATE = "Mon Jan  1 00:00:00 2024"
_HEADER_TEXT = f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: {_HEADER_DATE} HDF5 schema 1.00 ."
#: 116 bytes of text, 8 bytes of subsystem offset, version 0x0200 and endian indicator, written little-endian.
_HEADER = _HEADER_TEXT.encode("ascii").ljust(116, b" ") + b" " * 8 + b"\x00\x02IM"

#: MATLAB class of each storable numpy dtype (complex types are stored as their component type).
_MATLAB_CLASS = {
    np.dtype(np.float64): "double",
    np.dtype(np.float32): "single",
    np.dtype(np.int8): "int8",
    np.dtype(np.int16): "int16",
    np.dtype(np.int32): "int32",
    np.dtype(np.int64): "int64",
    np.dtype(np.uint8): "uint8",
    np.dtype(np.uint16): "uint16",
    np.dtype(np.uint32): "uint32",
    np.dtype(np.uint64): "uint64",
    np.dtype(np.bool_): "logical",
}
_NON_NUMERIC_CLASSES = ("char", "cell", "struct", "function_handle")
_VARIABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")
#: What :func:`scipy.io.loadmat` raises on files that are not MAT-files.
_SCIPY_ERRORS = (MatReadError, ValueError, TypeError, OSError, EOFError, OverflowError, MemoryError)


class MatFileError(ValueError):
    """A ``.mat`` file is missing, unreadable, or does not hold the expected array."""


def write_mat73(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> Path:
    r"""
    Write arrays to a MATLAB v7.3 file, as MATLAB's ``save -v7.3`` does.

    The file is HDF5 behind a 512-byte user block with the MATLAB header. Each array is given in MATLAB axis order
    and stored transposed (the HDF5 dataset has the reversed shape) with its ``MATLAB_class`` attribute; complex
    arrays are stored as the compound type ``{real, imag}``, logical arrays as ``uint8``. Arrays of fewer than two
    dimensions become ``1 x n`` rows, like MATLAB's vectors. Shapes are written as given (MATLAB itself would drop
    trailing singleton dimensions), so they read back unchanged.

    The output is byte-for-byte deterministic (no timestamps, fixed header date) and written atomically: to a
    temporary file in the same folder, which then replaces ``path``.

    :param str, os.PathLike path: file to write; its folder must exist.
    :param collections.abc.Mapping[str, numpy.ndarray] arrays: variables by MATLAB name, in MATLAB axis order.
    :return: (:class:`pathlib.Path`) ``path``.
    :raises MatFileError: for an invalid variable name, an empty array or an unsupported dtype.
    """
    path = Path(path)
    datasets = {name: _to_matlab_storage(path, name, np.asarray(array)) for name, array in arrays.items()}

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w", userblock_size=USERBLOCK_SIZE) as f:
            for name, (data, matlab_class) in datasets.items():
                dset = f.create_dataset(name, data=data, track_times=False)
                dset.attrs.create("MATLAB_class", np.bytes_(matlab_class))
        with open(tmp, "r+b") as f:
            f.write(_HEADER)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(path, write)
    return path


def _to_matlab_storage(path: Path, name: str, array: np.ndarray) -> tuple[np.ndarray, str]:
    """Validate one variable and lay it out as MATLAB stores it in HDF5.

    :return: the (transposed, C-ordered) data for the HDF5 dataset and the MATLAB class name.
    """
    if not isinstance(name, str) or not _VARIABLE_NAME.fullmatch(name):
        raise MatFileError(f"{path}: {name!r} is not a valid MATLAB variable name")
    if array.size == 0:
        raise MatFileError(f"{path}: variable {name!r} is empty, which is not supported")
    if array.ndim < 2:
        array = array.reshape((1,) * (2 - array.ndim) + array.shape)
    component = array.real.dtype
    if component not in _MATLAB_CLASS or (np.iscomplexobj(array) and component.kind != "f"):
        raise MatFileError(f"{path}: variable {name!r} has dtype {array.dtype}, which MATLAB cannot store")
    if array.dtype == np.bool_:
        return np.ascontiguousarray(array.T, dtype=np.uint8), "logical"
    if np.iscomplexobj(array):
        data = np.empty(array.T.shape, dtype=[("real", component), ("imag", component)])
        data["real"] = array.real.T
        data["imag"] = array.imag.T
        return data, _MATLAB_CLASS[component]
    return np.ascontiguousarray(array.T), _MATLAB_CLASS[component]


def read_mat(path: str | os.PathLike, key: str, expected_ndim: int | None = None) -> np.ndarray:
    r"""
    Read one array from a ``.mat`` file, in MATLAB axis order.

    MATLAB v7.3 (HDF5) files are read lazily: only the requested variable is read. Complex variables come back as
    ``complex64`` (``single``) or ``complex128`` (``double``), logical ones as ``bool``. Older files are read with
    :func:`scipy.io.loadmat`.

    :param str, os.PathLike path: the ``.mat`` file.
    :param str key: variable name, e.g. ``"kspace_single_full"``.
    :param int, None expected_ndim: if given, the number of dimensions the array must have.
    :return: (:class:`numpy.ndarray`) the array, with the shape MATLAB reports.
    :raises MatFileError: if the file is missing or is not a readable MAT-file, if ``key`` is not a numeric
        variable in it (the message lists the variables), or if the array does not have ``expected_ndim``
        dimensions.
    """
    path = _existing_file(path)
    if h5py.is_hdf5(path):
        with _open_h5(path) as f:
            dset = _h5_dataset(f, path, key)
            _check_ndim(path, key, dset.shape[::-1], expected_ndim)
            return _h5_read(path, dset, ())
    array = _v5_read(path, key)
    _check_ndim(path, key, array.shape, expected_ndim)
    return array


def read_mat_slice(path: str | os.PathLike, key: str, index: int, axis: int) -> np.ndarray:
    r"""
    Read one index along one (MATLAB) axis of an array, e.g. one slice of ``(kx, ky, slice, t)`` k-space.

    For v7.3 files only that hyperslab is read from disk; older files are loaded whole, then indexed.

    :param str, os.PathLike path: the ``.mat`` file.
    :param str key: variable name.
    :param int index: position along ``axis``; negative values count from the end.
    :param int axis: axis in MATLAB order (0-based), e.g. ``2`` for the slice axis of ``(kx, ky, slice, t)``.
    :return: (:class:`numpy.ndarray`) the array without ``axis``, in MATLAB order.
    :raises MatFileError: as :func:`read_mat`, and if ``axis`` or ``index`` is out of range.
    """
    path = _existing_file(path)
    if h5py.is_hdf5(path):
        with _open_h5(path) as f:
            dset = _h5_dataset(f, path, key)
            shape = dset.shape[::-1]
            index = _check_index(path, key, shape, index, axis)
            selection = [slice(None)] * len(shape)
            selection[len(shape) - 1 - axis] = index
            return _h5_read(path, dset, tuple(selection))
    array = _v5_read(path, key)
    index = _check_index(path, key, array.shape, index, axis)
    return np.take(array, index, axis=axis)


def mat_shape(path: str | os.PathLike, key: str) -> tuple[int, ...]:
    """
    Shape of one array of a ``.mat`` file, in MATLAB order, without reading its data.

    :param str, os.PathLike path: the ``.mat`` file.
    :param str key: variable name.
    :return: (tuple[int, ...]) the shape MATLAB's ``size`` reports.
    :raises MatFileError: as :func:`read_mat`.
    """
    path = _existing_file(path)
    if h5py.is_hdf5(path):
        with _open_h5(path) as f:
            return tuple(int(n) for n in _h5_dataset(f, path, key).shape[::-1])
    variables = {name: shape for name, shape, _ in _v5_whos(path)}
    if key not in variables:
        raise _missing_key(path, key, variables)
    return tuple(int(n) for n in variables[key])


def mat_variables(path: str | os.PathLike) -> list[str]:
    """The names of the variables of a ``.mat`` file, sorted, without reading any.

    :raises MatFileError: as :func:`read_mat`.
    """
    path = _existing_file(path)
    if h5py.is_hdf5(path):
        with _open_h5(path) as f:
            return sorted(name for name in f if not name.startswith("#"))
    return sorted(name for name, _, _ in _v5_whos(path))


def _existing_file(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise MatFileError(f"{path}: no such file" + (" (it is a directory)" if path.is_dir() else ""))
    return path


@contextmanager
def _open_h5(path: Path) -> Iterator[h5py.File]:
    """Open a v7.3 file, turning HDF5 errors (on opening or reading) into :class:`MatFileError`."""
    try:
        with h5py.File(path, "r") as f:
            yield f
    except OSError as e:
        raise MatFileError(
            f"{path}: not a readable MATLAB v7.3 (HDF5) file, truncated or corrupt? ({e})"
        ) from e


def _h5_dataset(f: h5py.File, path: Path, key: str) -> h5py.Dataset:
    variables = [name for name in f if not name.startswith("#")]
    if key not in variables:
        raise _missing_key(path, key, variables)
    dset = f[key]
    matlab_class = _h5_class(dset)
    if not isinstance(dset, h5py.Dataset) or matlab_class in _NON_NUMERIC_CLASSES:
        raise MatFileError(
            f"{path}: variable {key!r} is a MATLAB {matlab_class or 'group'}, not a numeric array"
        )
    if dset.attrs.get("MATLAB_empty", 0):
        raise MatFileError(f"{path}: variable {key!r} is empty")
    return dset


def _h5_class(obj: h5py.HLObject) -> str | None:
    matlab_class = obj.attrs.get("MATLAB_class")
    return matlab_class.decode() if isinstance(matlab_class, bytes) else matlab_class


def _h5_read(path: Path, dset: h5py.Dataset, selection: tuple) -> np.ndarray:
    """Read ``dset[selection]`` and return it in MATLAB order with numpy's complex and bool types."""
    try:
        raw = dset[selection]
    except OSError as e:
        raise MatFileError(
            f"{path}: cannot read variable {dset.name.lstrip('/')!r}, truncated or corrupt? ({e})"
        ) from e
    if raw.dtype.names is not None:
        if set(raw.dtype.names) != {"real", "imag"}:
            raise MatFileError(f"{path}: variable {dset.name.lstrip('/')!r} has an unsupported compound type")
        out = np.empty(raw.shape, dtype=np.result_type(raw.dtype["real"], np.complex64))
        out.real = raw["real"]
        out.imag = raw["imag"]
        raw = out
    elif _h5_class(dset) == "logical":
        raw = raw.astype(bool)
    return raw.T


def _v5_whos(path: Path) -> list[tuple[str, tuple[int, ...], str]]:
    """List the variables of a pre-v7.3 MAT-file, or explain why it is not one."""
    try:
        return scipy.io.whosmat(path)
    except NotImplementedError as e:  # scipy's answer to a v7.3 header
        raise MatFileError(
            f"{path}: has a MATLAB v7.3 header but no readable HDF5 data, truncated or corrupt?"
        ) from e
    except _SCIPY_ERRORS as e:
        raise MatFileError(f"{path}: neither a MATLAB v7.3 (HDF5) nor a v4/v5 MAT-file ({e})") from e


def _v5_read(path: Path, key: str) -> np.ndarray:
    variables = {name: matlab_class for name, _, matlab_class in _v5_whos(path)}
    if key not in variables:
        raise _missing_key(path, key, variables)
    if variables[key] in _NON_NUMERIC_CLASSES:
        raise MatFileError(f"{path}: variable {key!r} is a MATLAB {variables[key]}, not a numeric array")
    try:
        return scipy.io.loadmat(path, variable_names=[key])[key]
    except _SCIPY_ERRORS as e:
        raise MatFileError(f"{path}: cannot read variable {key!r}, truncated or corrupt? ({e})") from e


def _missing_key(path: Path, key: str, variables) -> MatFileError:
    return MatFileError(f"{path}: no variable {key!r}; the file holds {sorted(variables) or 'no variables'}")


def _check_ndim(path: Path, key: str, shape: tuple[int, ...], expected_ndim: int | None) -> None:
    if expected_ndim is not None and len(shape) != expected_ndim:
        raise MatFileError(
            f"{path}: variable {key!r} should have {expected_ndim} dimensions, got {len(shape)} (shape {tuple(shape)})"
        )


def _check_index(path: Path, key: str, shape: tuple[int, ...], index: int, axis: int) -> int:
    """Validate ``axis`` and ``index`` against ``shape``; return the non-negative index."""
    if not 0 <= axis < len(shape):
        raise MatFileError(f"{path}: variable {key!r} of shape {tuple(shape)} has no axis {axis}")
    if not -shape[axis] <= index < shape[axis]:
        raise MatFileError(
            f"{path}: index {index} is out of range for axis {axis} of size {shape[axis]} of variable {key!r}"
        )
    return index % shape[axis]
