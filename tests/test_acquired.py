"""Undersampled scans as acquired: the synthetic release's AccFactorXX folders, their reading and checks,
their extraction, learning without ground truth, and the reconstruction of any scan (data consistency, the output
file, bad input)."""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import re
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


def _line_the_scan_lacks(root):
    path = _scan(root).with_name("cine_lax_mask.mat")
    mask = read_mat(path, "mask08")
    assert not mask[:, 1].any() and not np.abs(read_mat(_scan(root), "kspace_single_sub08")[:, 1]).any()
    mask[:, 1] = 1
    write_mat73(path, {"mask08": mask})
    return (
        rf"{path}: 1 of its 6 sampled phase-encode line\(s\) \(ky = 1\) hold no measured k-space in any frame of "
        rf"{_scan(root)}, slice 0: its lines are not this scan's. Likely a mask of another factor"
    )


def _mask_of_another_factor(root):
    """The 4x mask (its lines include the 8x mask's) under the 8x key, in the 8x folder."""
    path = _scan(root).with_name("cine_lax_mask.mat")
    mask04 = read_mat(_scan(root, acceleration=4).with_name("cine_lax_mask.mat"), "mask04")
    write_mat73(path, {"mask08": mask04})
    return (  # by hand: the 4x lines are ky = 0, 4, 8, 11, 12, 16, 20 of 24; the 8x ones 0, 8, 11, 12, 16
        rf"{path}: 2 of its 7 sampled phase-encode line\(s\) \(ky = 4, 20\) hold no measured k-space in any frame "
        r".*Likely a mask of another factor \(3\.4x of lines, in the folder of 8x\)"
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
       "mask line the scan lacks": _line_the_scan_lacks, "mask of another factor": _mask_of_another_factor,
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


def _cfg(measurements: str, chans: int = 4, normalisation: str = "measurement"):
    """The configuration of a small DDEI run on simulated or acquired data."""
    from ddei.methods.config import ModelConfig, RunConfig, TrainingConfig

    return RunConfig("ddei", "ddei", (32, 32), normalisation, 0.0, "cpu", 1, ModelConfig("crnn", 2, chans),
                     TrainingConfig(1, 1, 1e-3, 1, "fp32", False, False, True, "last"), {"transform_mode": "fixed"},
                     trained_as="ddei", measurements=measurements)  # fmt: skip


def _model(tmp_path, measurements: str, chans: int = 4, acceleration: int = 8) -> Path:
    """A model.pt of this pipeline (random weights), trained on simulated or acquired data at ``acceleration``."""
    from ddei.mri.models import build_model
    from ddei.runs.weights import save_state

    torch.manual_seed(0)
    net = build_model("crnn", chans=chans)
    path = tmp_path / f"{measurements}.pt"
    state = {"run_id": f"ddei-x{acceleration}-seed0-0123456789ab", "cfg": _cfg(measurements, chans).to_dict(),
             "state_dict": net.state_dict()}  # fmt: skip
    save_state(path, state, ("state_dict",))
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


@pytest.mark.parametrize(
    "case, differs",
    [
        ("4x simulated", r"acceleration: 4 there, 8 here; measurements: 'simulated' there, 'acquired' here"),
        ("width", r"model\.chans: 8 there, 4 here"),
        ("normalisation", r"normalisation: 'measurement' there, 'gt' here"),
    ],
)
def test_reconstruct_refuses_a_model_of_another_configuration(tmp_path, case, differs):
    """A model.pt at the path of the run's model, trained with another acceleration, data kind, width or
    normalisation, is refused with its path, what differs and the command that retrains it; the run's own loads."""
    from ddei.runs.evaluation import ForeignModelError
    from ddei.runs.reconstruction import load_reconstructor

    expected = _cfg("acquired", normalisation="gt" if case == "normalisation" else "measurement")
    path = _model(tmp_path, "simulated", acceleration=4) if case == "4x simulated" else (
        _model(tmp_path, "acquired", chans=8 if case == "width" else 4)
    )  # fmt: skip
    with pytest.raises(ForeignModelError) as error:
        load_reconstructor(path, 12, "cpu", expected=expected, acceleration=8)
    message = str(error.value)
    assert message.startswith(f"{path} was trained with another configuration than this run's")
    assert re.search(differs, message), message
    assert message.endswith(f"rebuild it with `snakemake --forcerun {path}`")
    (tmp_path / "own").mkdir()
    own = _model(tmp_path / "own", "acquired")
    loaded = load_reconstructor(own, 12, "cpu", expected=_cfg("acquired"), acceleration=8)
    assert loaded.cfg == _cfg("acquired")


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


def test_reconstruct_refuses_a_mask_of_another_factor(release, tmp_path):
    """The 4x mask in the 8x folder claims lines the scan lacks: reconstruct would force them to a "measured" zero;
    it is refused and nothing is written."""
    from ddei.runs.reconstruction import load_reconstructor, reconstruct_scan

    root = _copy(release, tmp_path)
    message = _mask_of_another_factor(root)
    reconstructor = load_reconstructor(_model(tmp_path, "acquired"), 12, "cpu")
    with pytest.raises(MatFileError, match=message):
        reconstruct_scan(reconstructor, _scan(root), 8, tmp_path / "out" / "cine_lax.mat", progress=False)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------------------------------
# Ground truth decided per scan, from the files
# ------------------------------------------------------------------------------------------------------------------

#: 2 test patients of 4 (and one validation patient), so that a test split can mix scans with and without a twin.
TWO_TEST = Selection(train_fraction=0.5, val_fraction=0.25, img_size=(32, 32))


def _twins_only_for(root: Path, keep: set[str]) -> None:
    """Remove the FullSample twins of every patient but ``keep`` (none: the folder itself)."""
    full = root / fullsample_dir()
    if not keep:
        shutil.rmtree(full)
    for patient in full.glob("P*") if keep else ():
        if patient.name not in keep:
            shutil.rmtree(patient)


def test_ground_truth_is_decided_per_scan_from_the_files(release, tmp_path):
    """Whether a test scan has a twin: from the FullSample files, whatever the set's name; the test patients are those
    the extraction puts in the test split (read from its split.csv)."""
    from ddei.data.acquired import has_test_truth

    extract_acquired(release, tmp_path / "e", tmp_path / "m", "TrainingSet", (8,), TWO_TEST, progress=False)
    split = pd.read_csv(tmp_path / "e" / "split.csv", dtype=str).set_index("patient")["split"]
    test = sorted(split[split == "test"].index)
    others = sorted(split[split != "test"].index)
    assert len(test) == 2 and len(others) == 2
    cases = {
        "whole": None,
        "no FullSample": set(),
        "one test patient": {test[0]},
        "training patients only": set(others),
    }
    expected = {
        "whole": True,
        "no FullSample": False,
        "one test patient": True,
        "training patients only": False,
    }
    for case, keep in cases.items():
        root = _copy(release, tmp_path / case.replace(" ", "_"))
        if keep is not None:
            _twins_only_for(root, keep)
        assert has_test_truth(root, "TrainingSet", (8,), TWO_TEST) is expected[case], case
    assert has_test_truth(release, "ValidationSet", (8,), TWO_TEST) is False


@pytest.mark.parametrize("keep", ["none", "some"])
def test_a_set_with_twins_for_some_scans_is_measured_on_those(release, tmp_path, keep):
    """A TrainingSet without FullSample, or with twins for one test patient only: the extraction takes every scan;
    the evaluation measures the scans with a twin only (none without FullSample) and keeps a slice with its ground
    truth for the figures, which show that slice."""
    from ddei.methods.config import RunConfig
    from ddei.report.figures import load_slice
    from ddei.runs.evaluation import SavedRecon, run_evaluation
    from ddei.runs.preparation import Run

    root = _copy(release, tmp_path)
    out = tmp_path / "extracted"
    extract_acquired(root, out / "extract", out / "masks", "TrainingSet", (8,), TWO_TEST, progress=False)
    split = pd.read_csv(out / "extract" / "split.csv", dtype=str).set_index("patient")["split"]
    test = sorted(split[split == "test"].index)
    twin = test[1]  # the second: the first test slices saved are the other patient's, without a twin
    _twins_only_for(root, {twin} if keep == "some" else set())
    shutil.rmtree(out)
    index = extract_acquired(
        root, out / "extract", out / "masks", "TrainingSet", (8,), TWO_TEST, progress=False
    )
    assert set(index.patient) == set(split.index)  # every scan, with or without a twin
    assert set(index[index.truth == 1].patient) == ({twin} if keep == "some" else set())
    zf = RunConfig("zf", "zf", (32, 32), "measurement", 0.0, "cpu", 1, measurements="acquired")
    metrics = run_evaluation(Run(zf, 8, 0, out / "extract", out / "masks"), None, tmp_path / "zf.csv",
                             SavedRecon(tmp_path / "zf.npz", 1), progress=False)  # fmt: skip
    tested = index[(index.split == "test") & (index.truth == 1)]
    assert sorted(zip(metrics.patient, metrics.view, metrics.slice)) == sorted(
        zip(tested.patient, tested.view, tested.slice)
    )
    with np.load(tmp_path / "zf.npz") as npz:
        keys = set(npz.files)
    first = index[index.split == "test"].iloc[0]
    assert first.patient != twin and f"{first.patient}_{first.view}_s{first.slice}" in keys  # the first slice
    if keep == "none":
        assert not any(k.startswith("gt/") for k in keys)
        with pytest.raises(ValueError, match=r"has a fully sampled twin to compare with"):
            load_slice({"zf": tmp_path / "zf.npz"})
        return
    first_twin = tested.iloc[0]
    shown = f"{twin}_{first_twin.view}_s{first_twin.slice}"
    assert {shown, f"gt/{shown}"} <= keys  # and the first slice with a twin, with its ground truth
    key, gt, recon = load_slice({"zf": tmp_path / "zf.npz"})
    assert key == shown and gt.shape == recon["zf"].shape
