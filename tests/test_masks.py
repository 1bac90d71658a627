"""k-t masks: statistics per acceleration, determinism, the paper's file format, importing published masks."""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import filecmp

import h5py
import numpy as np
import pytest

from ddei.io.matlab import MatFileError, write_mat73
from ddei.mri.masks import (
    acceleration_of,
    gaussian_kt_mask,
    mask_folder_name,
    mask_path,
    read_mask,
    write_mask,
    write_mask_folder,
)


@pytest.mark.parametrize("acc, centre", [(4, 0.08), (8, 0.04), (16, 0.02)])
def test_mask_statistics(acc, centre):
    kx, ky = 96, 200
    mask = gaussian_kt_mask((kx, ky), acc, frames=12, seed=1)
    assert mask.shape == (kx, ky, 12) and mask.dtype == np.uint8
    assert set(np.unique(mask)) == {0, 1}
    lines = mask.any(axis=0)  # (ky, T)
    assert (mask.all(axis=0) == lines).all(), "lines must be full kx columns"
    assert (lines.sum(axis=0) == ky // acc).all(), "each frame samples floor(ky / R) lines"
    n_centre = int(centre * ky)
    c0 = ky // 2 - n_centre // 2
    assert lines[c0 : c0 + n_centre].all(), "the centre block is sampled in every frame"
    assert len({tuple(np.flatnonzero(lines[:, t])) for t in range(12)}) > 6, "masks vary across frames"
    assert acceleration_of(mask) == pytest.approx(ky / (ky // acc))


def test_gaussian_density_favours_low_frequencies():
    mask = np.stack([gaussian_kt_mask((8, 200), 8, 12, seed=s) for s in range(20)])
    lines = mask.any(axis=1).mean(axis=(0, 2))  # sampling probability per ky
    centre, edge = lines[70:130].mean(), np.r_[lines[:40], lines[160:]].mean()
    assert centre > 2 * edge


def test_masks_are_seeded(tmp_path):
    a = gaussian_kt_mask((32, 40), 4, seed=5)
    assert np.array_equal(a, gaussian_kt_mask((32, 40), 4, seed=5))
    assert not np.array_equal(a, gaussian_kt_mask((32, 40), 4, seed=6))
    write_mask(tmp_path / "a.mat", a)
    write_mask(tmp_path / "b.mat", gaussian_kt_mask((32, 40), 4, seed=5))
    assert filecmp.cmp(tmp_path / "a.mat", tmp_path / "b.mat", shallow=False)


def test_paper_file_format(tmp_path):
    mask = gaussian_kt_mask((30, 24), 4, seed=0)
    path = write_mask(mask_path(tmp_path, 4, "P001", "lax"), mask)
    assert path == tmp_path / "TimeVaryingGaussianMask04" / "P001" / "cine_lax_mask.mat"
    with h5py.File(path) as f:  # MATLAB v7.3: h5py sees the reversed shape
        assert f["mask"].shape == (12, 24, 30) and f["mask"].dtype == np.uint8
    assert np.array_equal(read_mask(path, shape=(30, 24), frames=12), mask)
    assert mask_folder_name(16) == "TimeVaryingGaussianMask16"


def test_mask_folder_from_extraction(extracted):
    index = __import__("pandas").read_csv(extracted / "index.csv", dtype={"patient": str})
    folder = extracted.parent / "masks" / "TimeVaryingGaussianMask08"
    files = sorted(folder.glob("P*/cine_*_mask.mat"))
    assert len(files) == len(index.drop_duplicates(["patient", "view"]))
    for row in index.drop_duplicates(["patient", "view"]).itertuples():
        m = read_mask(mask_path(extracted.parent / "masks", 8, row.patient, row.view), (row.kx, row.ky), 12)
        assert (m.any(axis=0).sum(axis=0) == row.ky // 8).all()


def test_import_published_masks(extracted, tmp_path):
    """Masks from a folder in the paper's layout are checked and copied; wrong ones are refused."""
    published = extracted.parent / "masks"  # stands in for the paper's published folder
    out = write_mask_folder(
        extracted / "index.csv", tmp_path / "imported", 4, import_dir=published, progress=False
    )
    for src in (published / "TimeVaryingGaussianMask04").glob("P*/*.mat"):
        assert filecmp.cmp(src, out / src.parent.name / src.name, shallow=False)

    bad = tmp_path / "bad"
    for src in (published / "TimeVaryingGaussianMask04").glob("P*/*.mat"):
        dst = bad / "TimeVaryingGaussianMask04" / src.parent.name / src.name
        write_mask(dst, read_mask(src)[:, :-2])  # two ky lines short
    with pytest.raises(MatFileError, match="does not match"):
        write_mask_folder(extracted / "index.csv", tmp_path / "out", 4, import_dir=bad, progress=False)
    assert not (tmp_path / "out" / "TimeVaryingGaussianMask04").exists(), "no partial output"
    with pytest.raises(MatFileError, match="no such file"):
        write_mask_folder(extracted / "index.csv", tmp_path / "out", 16, import_dir=published, progress=False)


def test_read_mask_validation(tmp_path):
    write_mat73(tmp_path / "two.mat", {"mask": np.ones((8, 6), np.uint8)})
    assert read_mask(tmp_path / "two.mat", (8, 6), frames=12).shape == (8, 6, 12)
    write_mat73(tmp_path / "nb.mat", {"mask": np.full((8, 6, 12), 2, np.uint8)})
    with pytest.raises(MatFileError, match="binary"):
        read_mask(tmp_path / "nb.mat")
    write_mat73(tmp_path / "ok.mat", {"mask": np.ones((8, 6, 12), np.uint8)})
    with pytest.raises(MatFileError, match="frames"):
        read_mask(tmp_path / "ok.mat", frames=10)
    write_mat73(tmp_path / "key.mat", {"mask04": np.ones((8, 6, 12), np.uint8)})
    with pytest.raises(MatFileError, match="mask04"):
        read_mask(tmp_path / "key.mat")
