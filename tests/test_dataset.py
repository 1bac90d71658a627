"""Samples: shapes, consistency with deepinv's DynamicMRI, padding, normalisation, fixed noise."""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import numpy as np
import pytest
import torch

from ddei.data.dataset import CineSliceDataset
from ddei.data.extract import center_fit
from ddei.mri.physics import DynamicMRI


@pytest.fixture
def dataset(extracted):
    return CineSliceDataset(extracted, "train", extracted.parent / "masks", 8, img_size=(32, 32))


def test_sample_is_consistent_with_physics(dataset):
    sample = dataset[0]
    x, y, mask = sample["x"], sample["y"], sample["params"]["mask"]
    assert x.shape == y.shape == mask.shape == (2, 12, 32, 32)
    physics = DynamicMRI(img_size=(1, 2, 12, 32, 32))
    physics.update(mask=mask[None])
    torch.testing.assert_close(physics.A(x[None])[0], y, atol=1e-5, rtol=1e-5)
    assert 1 / mask[0, 0].amax(0).mean() > 4  # padded ky lines are unsampled: at least 8x on the padded grid


@pytest.mark.parametrize("i", [0, 3])
def test_none_normalisation_restores_the_raw_data(extracted, raw_root, i):
    """normalisation: none gives back the file's own image: its k-space, inverse-FFT'd here with numpy (centred,
    orthonormal), zero-padded at the centre to the training size."""
    from ddei.data.extract import fullsample_dir
    from ddei.io.matlab import read_mat_slice

    ds = CineSliceDataset(extracted, "train", None, 4, normalisation="none")
    row = ds.record(i)
    k = read_mat_slice(fullsample_dir(raw_root) / row["patient"] / f"cine_{row['view']}.mat", "kspace_single_full",
                       int(row["slice"]), axis=2)  # fmt: skip
    k = np.moveaxis(k, -1, 0)  # (t, kx, ky)
    image = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    expected = np.zeros((12, 32, 32), complex)
    r0, c0 = 16 - image.shape[1] // 2, 16 - image.shape[2] // 2
    expected[:, r0 : r0 + image.shape[1], c0 : c0 + image.shape[2]] = image
    x = ds[i]["x"].numpy()
    np.testing.assert_allclose(x[0] + 1j * x[1], expected, atol=1e-6 * np.abs(expected).max())


def test_reference_normalisation(dataset):
    x = dataset[1]["x"]
    assert x.mean().abs() < 1e-5 and x.std() == pytest.approx(1.0, abs=1e-3)


def test_measurement_normalisation_uses_no_ground_truth(extracted):
    ds = CineSliceDataset(
        extracted, "train", extracted.parent / "masks", 8, (32, 32), normalisation="measurement"
    )
    s = ds[0]
    zf = DynamicMRI(img_size=(1, 2, 12, 32, 32))
    zf.update(mask=s["params"]["mask"][None])
    x0 = zf.A_adjoint(s["y"][None])
    assert x0.mean().abs() < 1e-4 and x0.std() == pytest.approx(1.0, rel=1e-2)


def test_center_fit_keeps_kspace_centre():
    a = np.arange(6 * 5).reshape(6, 5)
    padded = center_fit(a, (10, 8))
    assert padded.shape == (10, 8) and padded[10 // 2, 8 // 2] == a[6 // 2, 5 // 2]
    assert np.array_equal(center_fit(padded, (6, 5)), a)


def test_noise_is_fixed_per_sample(extracted):
    kw = dict(split="train", mask_root=extracted.parent / "masks", acceleration=4, img_size=(32, 32))
    clean = CineSliceDataset(extracted, **kw)[0]["y"]
    noisy = CineSliceDataset(extracted, noise_sigma=0.1, noise_seed=1, **kw)
    a, b = noisy[0]["y"], noisy[0]["y"]
    assert torch.equal(a, b)
    residual = (a - clean)[clean != 0]
    assert residual.std() == pytest.approx(0.1, rel=0.15)
    assert (a[clean == 0] == 0).all(), "noise only on sampled k-space"


def test_fully_sampled_without_masks(extracted):
    ds = CineSliceDataset(extracted, "test", None, 4)
    row, mask = ds.record(0), ds[0]["params"]["mask"]
    assert mask.sum() == 2 * 12 * row["kx"] * row["ky"], "ones on the original k-space, zeros in the padding"


def test_bad_arguments(extracted):
    with pytest.raises(ValueError, match="normalisation"):
        CineSliceDataset(extracted, normalisation="minmax")
    with pytest.raises(ValueError, match="split"):
        CineSliceDataset(extracted, split="validation")
    with pytest.raises(ValueError, match="rerun the extract rule"):
        CineSliceDataset(extracted, img_size=(64, 64))
    with pytest.raises(FileNotFoundError, match="extract rule"):
        CineSliceDataset(extracted.parent / "nothing")
