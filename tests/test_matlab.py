"""MATLAB v7.3 writing and reading (:mod:`ddei.io.matlab`)."""

from __future__ import annotations

import filecmp
import re

import h5py
import mat73
import numpy as np
import pytest
import scipy.io

from ddei.io.matlab import MatFileError, mat_shape, read_mat, read_mat_slice, write_mat73

KEY = "kspace_single_full"


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    shape = (5, 4, 3, 2)
    return {
        KEY: (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64),
        "double_complex": rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2)),
        "mask": rng.integers(0, 9, (6, 7)).astype(np.int16),
        "flags": rng.random((2, 3)) > 0.5,
        "real": rng.standard_normal((4, 3, 2)),
    }


@pytest.fixture
def mat_file(tmp_path, arrays):
    return write_mat73(tmp_path / "data.mat", arrays)


def test_layout_is_matlab_v73(mat_file, arrays):
    with h5py.File(mat_file, "r") as f:
        assert f.userblock_size == 512
        dset = f[KEY]
        assert dset.shape == arrays[KEY].shape[::-1]
        assert dset.dtype.names == ("real", "imag")
        assert dset.dtype["real"] == np.float32
        assert dset.attrs["MATLAB_class"] == b"single"
        assert f["double_complex"].attrs["MATLAB_class"] == b"double"
        assert f["mask"].attrs["MATLAB_class"] == b"int16"
        assert f["flags"].attrs["MATLAB_class"] == b"logical" and f["flags"].dtype == np.uint8
        np.testing.assert_array_equal(dset["real"], arrays[KEY].real.T)
    header = mat_file.read_bytes()[:128]
    assert header.startswith(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: ")
    assert b"HDF5 schema 1.00 ." in header[:116]
    assert header[124:128] == b"\x00\x02IM"


def test_mat73_reads_back_and_scipy_refuses(mat_file, arrays):
    loaded = mat73.loadmat(str(mat_file))
    for name, array in arrays.items():
        assert loaded[name].shape == array.shape
        np.testing.assert_array_equal(loaded[name], array)
    with pytest.raises(NotImplementedError):
        scipy.io.loadmat(mat_file)


def test_read_mat_roundtrip(mat_file, arrays):
    for name, array in arrays.items():
        out = read_mat(mat_file, name, expected_ndim=array.ndim)
        assert out.dtype == array.dtype and out.shape == array.shape
        np.testing.assert_array_equal(out, array)
        assert mat_shape(mat_file, name) == array.shape
    kspace = arrays[KEY]
    for axis in range(kspace.ndim):
        for index in (0, -1):
            np.testing.assert_array_equal(
                read_mat_slice(mat_file, KEY, index, axis), np.take(kspace, index, axis)
            )


def test_read_v5(tmp_path, arrays):
    path = tmp_path / "v5.mat"
    scipy.io.savemat(path, {"mask": arrays["mask"], KEY: arrays[KEY]})
    np.testing.assert_array_equal(read_mat(path, KEY, expected_ndim=4), arrays[KEY])
    np.testing.assert_array_equal(read_mat_slice(path, KEY, 1, 2), arrays[KEY][:, :, 1])
    assert mat_shape(path, "mask") == (6, 7)


def test_deterministic_and_atomic(tmp_path, arrays, monkeypatch):
    first = write_mat73(tmp_path / "a.mat", arrays)
    second = write_mat73(tmp_path / "b.mat", arrays)
    assert filecmp.cmp(first, second, shallow=False)
    before = first.read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(h5py.Group, "create_dataset", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_mat73(first, {"other": np.ones((2, 2))})
    assert first.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mat", "b.mat"]


@pytest.mark.parametrize(
    "array, match",
    [(np.zeros((0, 3)), "empty"), (np.ones(3, np.float16), "float16"), (np.array(["a"]), "dtype")],
)
def test_write_rejects(tmp_path, array, match):
    with pytest.raises(MatFileError, match=match):
        write_mat73(tmp_path / "x.mat", {"x": array})
    with pytest.raises(MatFileError, match="variable name"):
        write_mat73(tmp_path / "x.mat", {"1x": np.ones(2)})
    assert not any(tmp_path.iterdir())


def _corrupt(tmp_path, mat_file, kind):
    """A bad file of the given kind."""
    path = tmp_path / f"{kind}.mat"
    data = mat_file.read_bytes()
    if kind == "random":
        path.write_bytes(np.random.default_rng(1).bytes(4096))
    elif kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "header_only":
        path.write_bytes(data[:300])
    else:
        path = tmp_path / "missing.mat"
    return path


@pytest.mark.parametrize("kind", ["missing", "random", "truncated", "header_only"])
def test_bad_files(tmp_path, mat_file, kind):
    path = _corrupt(tmp_path, mat_file, kind)
    for read in (
        lambda: read_mat(path, KEY),
        lambda: read_mat_slice(path, KEY, 0, 0),
        lambda: mat_shape(path, KEY),
    ):
        with pytest.raises(MatFileError, match=re.escape(str(path))):
            read()


def test_bad_requests(tmp_path, mat_file, arrays):
    with pytest.raises(MatFileError, match=re.escape(str(tmp_path))) as error:
        read_mat(mat_file, "kspace")
    assert "'kspace'" in str(error.value) and f"'{KEY}'" in str(error.value) and "'mask'" in str(error.value)
    with pytest.raises(MatFileError, match=r"should have 3 dimensions, got 4 \(shape \(5, 4, 3, 2\)\)"):
        read_mat(mat_file, KEY, expected_ndim=3)
    with pytest.raises(MatFileError, match="out of range"):
        read_mat_slice(mat_file, KEY, 3, 2)
    with pytest.raises(MatFileError, match="no axis 4"):
        read_mat_slice(mat_file, KEY, 0, 4)
    with pytest.raises(MatFileError, match="directory"):
        read_mat(tmp_path, KEY)
