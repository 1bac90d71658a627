"""The cardiac phantom (:mod:`ddei.data.phantom`) and the synthetic CMRxRecon dataset (:mod:`ddei.data.synthetic`)."""

from __future__ import annotations

import ddei  # noqa: F401  (must be imported before deepinv)

# isort: split
import filecmp

import numpy as np
import pytest
import torch
from deepinv.datasets import CMRxReconSliceDataset
from deepinv.utils.mixins import MRIMixin

from ddei.data.phantom import (
    TISSUES,
    VIEWS,
    cardiac_cine,
    cardiac_phases,
    sample_patient,
)
from ddei.data.synthetic import DATA_DIR, KEY, generate_cmrxrecon, main
from ddei.io.matlab import mat_shape, read_mat, read_mat_slice
from ddei.mri.fft import image_to_kspace, kspace_to_image

TINY = dict(lax_shape=(40, 32), sax_shape=(48, 36), progress=False)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmrxrecon")
    return root, generate_cmrxrecon(root, 2, seed=3, **TINY)


def _area(labels, tissue):
    return (labels == TISSUES.index(tissue)).sum(axis=(1, 2))


def test_fft_matches_deepinv():
    x = cardiac_cine((32, 24), frames=3, rng=0)
    ours = image_to_kspace(x)
    theirs = MRIMixin().im_to_kspace(torch.from_numpy(np.stack([x.real, x.imag]))[None])[0]
    np.testing.assert_allclose(ours, (theirs[0] + 1j * theirs[1]).numpy(), atol=1e-5)
    np.testing.assert_allclose(kspace_to_image(ours), x, atol=1e-5)


@pytest.mark.parametrize("view", VIEWS)
def test_phantom_is_a_cine(view):
    x, labels = cardiac_cine((128, 96), frames=12, view=view, rng=1, labels=True)
    assert x.shape == labels.shape == (12, 128, 96) and x.dtype == np.complex64
    np.testing.assert_array_equal(x, cardiac_cine((128, 96), frames=12, view=view, rng=1))
    assert not np.allclose(x, cardiac_cine((128, 96), frames=12, view=view, rng=2))
    magnitude = np.abs(x)
    assert np.abs(magnitude[1:] - magnitude[:-1]).max(axis=(1, 2)).min() > 0.01  # no two frames alike
    assert np.abs(magnitude - magnitude.mean(axis=0)).max() > 0.5  # and the heart beats
    body = magnitude[0] > 0.2
    assert np.angle(x[0][body] * np.conj(x[0][body].mean())).std() > 0.1  # genuinely complex
    lv = _area(labels, "lv_blood")
    assert 0.3 < 1 - lv.min() / lv.max() < 0.8  # ejection-fraction-like cavity area change
    assert _area(labels, "myocardium").min() > 0 and _area(labels, "lung").min() > 0


def test_phantom_is_aperiodic():
    rng = np.random.default_rng(0)
    patient = sample_patient(rng)
    phases = cardiac_phases(12, patient.cycles, rng)
    steps = np.diff(phases)
    assert steps.min() > 0 and steps.std() > 0.01 * steps.mean()  # the heart rate varies
    extrapolated = phases[-1] + steps.mean()  # the phase a 13th frame would have
    assert abs(extrapolated - (phases[0] + 1)) > 0.02  # which is not frame 0 again


def test_phantom_anatomy():
    rng = np.random.default_rng(4)
    patient = sample_patient(rng)
    cavities = []
    for z in (0.2, 0.5, 0.8):  # base to apex
        _, labels = cardiac_cine((128, 96), 12, "sax", rng, patient=patient, slice_position=z, labels=True)
        cavities.append(_area(labels, "lv_blood").max())
    assert cavities[0] > cavities[1] > cavities[2]
    _, labels = cardiac_cine((256, 192), 12, "sax", rng, patient=patient, labels=True)
    rows = np.arange(256)[:, None]
    liver = labels == TISSUES.index("liver")
    centre = (liver * rows).sum(axis=(1, 2)) / liver.sum(axis=(1, 2))
    assert 0.5 < np.ptp(centre) < 6  # respiratory drift of a few pixels along the readout axis
    _, labels = cardiac_cine((128, 96), 12, "lax4ch", rng, patient=patient, labels=True)
    for chamber in ("lv_blood", "rv_blood", "atrial_blood"):
        assert _area(labels, chamber).min() > 0
    with pytest.raises(ValueError, match="view"):
        cardiac_cine((64, 64), view="axial")


def test_dataset_files(dataset):
    root, files = dataset
    folder = root / DATA_DIR
    assert files == [folder / f"P00{k}" / name for k in (1, 2) for name in ("cine_lax.mat", "cine_sax.mat")]
    assert mat_shape(files[0], KEY) == (40, 32, 3, 12) and mat_shape(files[1], KEY) == (48, 36, 3, 12)
    kspace = read_mat(files[1], KEY, expected_ndim=4)
    assert kspace.dtype == np.complex64
    images = kspace_to_image(np.moveaxis(kspace, (2, 3), (0, 1)))
    assert 4e-4 < np.abs(images).max() < 2.1e-3  # real-data scale, not unit scale


def test_deepinv_reads_dataset(dataset):
    root, files = dataset
    ds = CMRxReconSliceDataset(
        root=root, data_dir=DATA_DIR, apply_mask=False, mask_dir=None, pad_size=None, use_dict_output=True
    )
    assert len(ds) == 12
    for i in (0, 5):
        fname, index, _ = ds.samples[i]
        sample = ds[i]
        frames = kspace_to_image(np.moveaxis(read_mat_slice(fname, KEY, index, axis=2), -1, 0))
        ours = torch.from_numpy(np.stack([frames.real, frames.imag]))
        ours = (ours - ours.mean()) / (ours.std() + 1e-11)  # deepinv's normalisation
        assert sample["x"].shape == ours.shape
        torch.testing.assert_close(sample["x"], ours, atol=1e-4, rtol=0)


def test_dataset_is_deterministic(dataset, tmp_path):
    _, files = dataset
    again = generate_cmrxrecon(tmp_path / "again", 1, seed=3, **TINY)  # patient 1 whatever n_patients
    for ours, theirs in zip(files, again):
        assert filecmp.cmp(ours, theirs, shallow=False)
    other = generate_cmrxrecon(tmp_path / "other", 1, seed=4, **TINY)
    assert not filecmp.cmp(files[0], other[0], shallow=False)


def test_shape_jitter_and_cli(tmp_path):
    files = generate_cmrxrecon(tmp_path / "jitter", 4, shape_jitter=4, **TINY)
    widths = {mat_shape(f, KEY)[1] for f in files}
    assert len(widths) > 2 and all(w % 2 == 0 and abs(w - 34) <= 6 for w in widths)
    main(
        [
            str(tmp_path / "cli"),
            "--patients",
            "1",
            "--lax",
            "24",
            "20",
            "--sax",
            "24",
            "20",
            "--sax-slices",
            "2",
            "--quiet",
        ]
    )
    assert mat_shape(tmp_path / "cli" / DATA_DIR / "P001" / "cine_sax.mat", KEY) == (24, 20, 2, 12)
