"""Undersampled scans as acquired (issue 20): the synthetic release's AccFactorXX folders, their reading and checks,
their extraction, learning without ground truth, and the reconstruction of any scan (data consistency, the output
file, bad input)."""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from ddei.data.acquired import extract_acquired, scan_acquired
from ddei.data.dataset import CineSliceDataset
from ddei.data.extract import Selection
from ddei.data.synthetic import acs_lines, generate_cmrxrecon, uniform_mask
from ddei.io.layout import accfactor_dir, fullsample_dir
from ddei.io.matlab import MatFileError, read_mat, write_mat73
from ddei.mri.fft import image_to_kspace

SHAPES = dict(lax_shape=(30, 24), sax_shape=(32, 28))
#: The split and size of the extractions here: 3 of 4 patients train or validate, one validates.
SPLIT = Selection(train_fraction=0.75, val_fraction=0.25, img_size=(32, 32))


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """4 synthetic patients in the release's layout: TrainingSet (FullSample and AccFactor04/08) and ValidationSet
    (AccFactor08 only, other patients)."""
    root = tmp_path_factory.mktemp("release")
    generate_cmrxrecon(root, 4, n_sax_slices=1, seed=5, progress=False, accelerations=(4, 8), **SHAPES)
    generate_cmrxrecon(root, 4, n_sax_slices=1, seed=5, progress=False, accelerations=(8,), cmr_set="ValidationSet",
                       **SHAPES)  # fmt: skip
    return root


@pytest.fixture(scope="module")
def extracted_acquired(release, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("acquired")
    extract_acquired(release, out / "extract", out / "masks", "TrainingSet", (4, 8), SPLIT, progress=False)
    return out


def test_the_synthetic_release_has_the_challenges_masks(release):
    """Uniform lines from the first, the central lines always, the same mask for every slice and frame; the measured
    k-space is the fully sampled one on those lines and zero elsewhere; the ValidationSet has no FullSample."""
    full = read_mat(release / fullsample_dir() / "P001" / "cine_lax.mat", "kspace_single_full")
    sub = read_mat(release / accfactor_dir("TrainingSet", 8) / "P001" / "cine_lax.mat", "kspace_single_sub08")
    mask = read_mat(release / accfactor_dir("TrainingSet", 8) / "P001" / "cine_lax_mask.mat", "mask08")
    assert mask.shape == full.shape[:2] == (30, 24) and set(np.unique(mask)) == {0, 1}
    lines = mask[0].astype(bool)
    assert (mask == mask[0]).all() and lines[::8].all() and lines[12 - acs_lines(24) // 2 : 12 + 1].all()
    np.testing.assert_array_equal(sub, full * mask[:, :, None, None])
    assert (np.abs(sub[:, ~lines]) == 0).all() and (np.abs(sub[:, lines]) > 0).all()
    assert not (release / fullsample_dir("ValidationSet")).exists()
    validation = read_mat(
        release / accfactor_dir("ValidationSet", 8) / "P001" / "cine_lax.mat", "kspace_single_sub08"
    )
    assert not np.array_equal(np.abs(validation), np.abs(sub))  # other patients
    assert acs_lines(246) == 24 and acs_lines(32) == 3
    assert uniform_mask((4, 10), 4)[0].tolist() == [1, 0, 0, 0, 1, 1, 0, 0, 1, 0]


def test_extraction_reads_the_measurements_as_they_are(release, extracted_acquired):
    """Each slice's stored k-space is the file's measurement on the padded grid (its lines, nothing else), scaled by
    the zero-filled image's statistics; the ground truth is the twin's image on the same grid and scale."""
    index = pd.read_csv(extracted_acquired / "extract" / "index.csv", dtype={"patient": str})
    assert set(index.acceleration) == {4, 8} and index.truth.eq(1).all()
    row = index[(index.acceleration == 8) & (index.view == "lax")].iloc[0]
    stored = np.load(extracted_acquired / "extract" / row.file)
    x, y = stored[:, 0] + 1j * stored[:, 1]  # (T, 32, 32) each
    sub = read_mat(
        release / accfactor_dir("TrainingSet", 8) / row.patient / "cine_lax.mat", "kspace_single_sub08"
    )
    measured = np.moveaxis(sub[:, :, row.slice], -1, 0)  # (T, 30, 24)
    inner = y[:, 1:31, 4:28]  # the padded k-space's centre is the scan's
    scaled = measured / row["std"]
    outside = np.ones(inner.shape, bool)
    outside[:, 15, 12] = False  # each frame's DC coefficient also carries the mean shift of the normalisation
    np.testing.assert_allclose(inner[outside], scaled[outside], rtol=1e-4, atol=1e-4 * np.abs(scaled).max())
    assert np.abs(np.delete(y, np.s_[1:31], axis=1)).max() == 0  # nothing measured in the padding
    # the twin on the same grid and scale: its k-space equals the measurement on the measured lines
    kx = image_to_kspace(x.astype(np.complex64))
    lines = np.abs(y).sum(axis=(0, 1)) > 0
    np.testing.assert_allclose(kx[:, :, lines], y[:, :, lines], atol=1e-3 * np.abs(y).max())
    masks = sorted(p.name for p in (extracted_acquired / "masks").iterdir())
    assert masks == ["AccFactor04", "AccFactor08"]


def test_the_dataset_serves_one_factors_measurements(extracted_acquired):
    ds = CineSliceDataset(extracted_acquired / "extract", "train", extracted_acquired / "masks", 8,
                          img_size=(32, 32), normalisation="measurement")  # fmt: skip
    assert ds.acquired and set(ds.index.acceleration) == {8} and ds.mask_folder == "AccFactor08"
    sample = ds[0]
    stored = np.load(extracted_acquired / "extract" / ds.index.file.iloc[0])
    np.testing.assert_array_equal(sample["y"].numpy(), stored[1] * sample["params"]["mask"].numpy())
    assert np.array_equal(sample["y"].numpy(), stored[1])  # already measured: masking changes nothing
    assert bool(sample["truth"])
    frames = sample["params"]["mask"][0]
    assert all(torch.equal(frames[0], f) for f in frames)  # the challenge's mask: the same in every frame


# ------------------------------------------------------------------------------------------------------------------
# Bad input: each names the file and what is wrong, and nothing is written
# ------------------------------------------------------------------------------------------------------------------


def _copy(release, tmp_path) -> Path:
    root = tmp_path / "release"
    shutil.copytree(release, root)
    return root


def _scan(root: Path, patient="P002", view="lax", acceleration=8) -> Path:
    return root / accfactor_dir("TrainingSet", acceleration) / patient / f"cine_{view}.mat"


def _transposed_mask(root):
    path = _scan(root).with_name("cine_lax_mask.mat")
    write_mat73(path, {"mask08": read_mat(path, "mask08").T.copy()})
    return rf"{path}: mask of shape \(24, 30\) is the transpose of its k-space's \(kx, ky\) = \(30, 24\)"


def _shifted_mask(root):
    path = _scan(root).with_name("cine_lax_mask.mat")
    write_mat73(path, {"mask08": np.roll(read_mat(path, "mask08"), 1, axis=1)})
    return (
        rf"{_scan(root)}, slice 0: .*measured phase-encode line.*outside the sampled lines of its mask {path}"
    )


def _missing_mask(root):
    path = _scan(root).with_name("cine_lax_mask.mat")
    path.unlink()
    return rf"{path} is missing: the undersampled scan {_scan(root)} needs its mask"


def _other_factor(root):
    path = _scan(root)
    write_mat73(path, {"kspace_single_sub04": read_mat(path, "kspace_single_sub08")})
    return rf"{path}: holds 'kspace_single_sub04', the key of AccFactor04, not 'kspace_single_sub08' of its folder"


def _other_frames(root):
    path = _scan(root)
    write_mat73(path, {"kspace_single_sub08": read_mat(path, "kspace_single_sub08")[..., :10]})
    return rf"{path}: 10 frames, where every scan must have 12"


BAD = {"transposed mask": _transposed_mask, "mask of another scan": _shifted_mask, "missing mask": _missing_mask,
       "key of another factor": _other_factor, "another number of frames": _other_frames}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_named_and_nothing_is_written(release, tmp_path, case):
    root = _copy(release, tmp_path)
    message = BAD[case](root)
    with pytest.raises(MatFileError, match=message):
        extract_acquired(root, tmp_path / "extract", tmp_path / "masks", "TrainingSet", (8,), SPLIT,
                         progress=False)  # fmt: skip
    assert not (tmp_path / "extract").exists() and not (tmp_path / "masks").exists()


def test_a_missing_factor_names_the_folder_and_the_factors_there(release):
    with pytest.raises(
        FileNotFoundError, match=r"AccFactor10 does not exist \(found AccFactor04, AccFactor08\)"
    ):
        scan_acquired(release, "TrainingSet", 10)


# ------------------------------------------------------------------------------------------------------------------
# Reconstruction of any scan
# ------------------------------------------------------------------------------------------------------------------


def _model(tmp_path, measurements: str, chans: int = 4) -> Path:
    """A model.pt of this pipeline (random weights), trained on simulated or acquired data."""
    from ddei.methods.config import ModelConfig, RunConfig, TrainingConfig
    from ddei.mri.models import build_model
    from ddei.runs.weights import save_state

    cfg = RunConfig("ddei", "ddei", (32, 32), "measurement", 0.0, "cpu", 1, ModelConfig("crnn", 2, chans),
                    TrainingConfig(1, 1, 1e-3, 1, "fp32", False, False, True, "last"), {"transform_mode": "fixed"},
                    trained_as="ddei", measurements=measurements)  # fmt: skip
    torch.manual_seed(0)
    net = build_model("crnn", chans=chans)
    path = tmp_path / f"{measurements}.pt"
    save_state(path, {"run_id": "x", "cfg": cfg.to_dict(), "state_dict": net.state_dict()}, ("state_dict",))
    return path


@pytest.mark.parametrize("measurements", ["simulated", "acquired"])
def test_a_reconstruction_keeps_the_measurement_at_the_scans_size(release, tmp_path, measurements):
    """Every slice, at the scan's shape (a model of acquired data works on k-space padded to its training size and
    cropped back), in a v7.3 file h5py and mat73 read; on the sampled lines its k-space is the measurement."""
    import mat73

    from ddei.runs.reconstruction import OUTPUT_KEY, load_reconstructor, reconstruct_scan

    scan = _scan(release)
    reconstructor = load_reconstructor(_model(tmp_path, measurements), 12, "cpu")
    cost = reconstruct_scan(reconstructor, scan, 8, tmp_path / "out" / "cine_lax.mat", tmp_path / "out" / "cine_lax.gif",
                            progress=False)  # fmt: skip
    assert cost["slices"] == 3 and cost["seconds_per_slice"] > 0
    x = read_mat(tmp_path / "out" / "cine_lax.mat", OUTPUT_KEY)
    sub = read_mat(scan, "kspace_single_sub08")
    assert x.shape == sub.shape == (30, 24, 3, 12) and x.dtype == np.complex64
    with h5py.File(tmp_path / "out" / "cine_lax.mat") as f:
        assert f[OUTPUT_KEY].shape == (12, 3, 24, 30)  # MATLAB order, stored transposed
    assert mat73.loadmat(tmp_path / "out" / "cine_lax.mat")[OUTPUT_KEY].shape == (30, 24, 3, 12)
    mask = read_mat(scan.with_name("cine_lax_mask.mat"), "mask08").astype(bool)
    k = image_to_kspace(np.moveaxis(x, (2, 3), (0, 1)))  # (slice, t, kx, ky)
    measured = np.moveaxis(sub, (2, 3), (0, 1))
    np.testing.assert_allclose(k[..., mask], measured[..., mask], atol=1e-5 * np.abs(measured).max())
    assert not np.allclose(k[..., ~mask], 0)  # the network filled the unsampled lines
    import imageio.v3 as iio

    assert iio.imread(tmp_path / "out" / "cine_lax.gif", index=None).shape[0] == 12


def test_a_checkpoint_of_another_width_is_refused_naming_it(tmp_path):
    from ddei.runs.reconstruction import ModelMismatchError, load_reconstructor
    from ddei.runs.weights import load_state, save_state

    path = _model(tmp_path, "acquired", chans=4)
    state = load_state(path, ("state_dict",))
    (tmp_path / "w").mkdir()
    other = load_state(_model(tmp_path / "w", "acquired", chans=8), ("state_dict",))
    state = {k: v for k, v in state.items() if k != "sha256"} | {"state_dict": other["state_dict"]}
    save_state(path, state, ("state_dict",))
    with pytest.raises(
        ModelMismatchError,
        match=rf"{path}: its weights do not fit the network it names \(crnn with 2 "
        r"cascades and 4 channels\), another architecture or width: size mismatch",
    ):
        load_reconstructor(path, 12, "cpu")


def test_learning_from_acquired_scans_refuses_the_oracle():
    from shipped import merged
    from snakemake.utils import validate

    from ddei.methods.config import ConfigError, check_config

    config = merged("config/undersampled.yaml")
    config["methods"] = ["ddei", "sup"]
    validate(config, str(Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"))
    with pytest.raises(ConfigError, match=r"methods: \['sup'\] need fully sampled ground truth to train"):
        check_config(config)


def test_validation_without_ground_truth_scores_held_out_lines(release, tmp_path):
    """The ValidationSet has no twin: validation holds one measured line in five out of the input and scores the
    model's k-space there. The zero-filled reconstruction scores exactly 1 (nothing on the held-out lines); a model
    that knew every measured line scores 0; PSNR and SSIM are empty."""
    from ddei.runs.preparation import make_physics
    from ddei.runs.validation import Validation

    extract_acquired(
        release, tmp_path / "extract", tmp_path / "masks", "ValidationSet", (8,), SPLIT, progress=False
    )
    ds = CineSliceDataset(tmp_path / "extract", "val", tmp_path / "masks", 8, img_size=(32, 32),
                          normalisation="measurement")  # fmt: skip
    physics = make_physics((2, 12, 32, 32), 0.0, torch.Generator().manual_seed(0), "cpu")
    validation = Validation(ds, physics, "cpu")
    assert not validation.truth
    assert validation.zero_filled["zf_holdout_nmse"] == pytest.approx(1.0, abs=1e-6)
    assert np.isnan(validation.zero_filled["zf_psnr"])

    class KnowsEveryLine(torch.nn.Module):  # A^H of the whole measurement, held-out lines included
        def forward(self, y, physics):
            sample = next(s for s in validation.samples if torch.equal(s["y"][None], y))
            physics.update(mask=(sample["params"]["mask"] + sample["holdout"])[None])
            return physics.A_adjoint(sample["y"][None] + sample["measured"][None])

    assert validation(KnowsEveryLine())["holdout_nmse"] == pytest.approx(0.0, abs=1e-10)


@pytest.mark.slow
def test_the_oracle_is_refused_at_a_dry_run(tmp_path):
    from shipped import merged, shrink
    from test_workflow import snakemake

    config = shrink(merged("config/undersampled.yaml"), str(tmp_path / "results"))
    config["methods"] = ["ddei", "sup"]
    result = snakemake(tmp_path, config, "-n")
    assert result.returncode != 0
    assert "methods: ['sup'] need fully sampled ground truth to train" in result.stdout + result.stderr
