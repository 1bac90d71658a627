"""Checkpoint selection without ground truth (``training.select``): ``holdout`` keeps the weights of the validation
step with the lowest held-out-line error, marks it in val.csv, survives an interruption, and never reads a
validation patient's ground-truth image; ``last`` keeps the last step's."""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from test_training import IMG, SETTINGS, _Killer, settings
from test_training import dataset as dataset  # the fixture

from ddei.data import dataset as dataset_module
from ddei.data.dataset import CineSliceDataset
from ddei.methods.config import ConfigError
from ddei.methods.registry import METHODS
from ddei.mri.losses import LossContext
from ddei.mri.models import build_model
from ddei.runs.preparation import RunData, build_method, make_physics
from ddei.runs.training import RunFiles, TrainingJob, train
from ddei.runs.validation import Validation


def _validation(extracted, ground_truth: bool) -> Validation:
    val = CineSliceDataset(
        extracted, "val", extracted.parent / "masks", 4, img_size=IMG[2:], ground_truth=ground_truth
    )
    return Validation(val, make_physics(IMG, 0.0, torch.Generator().manual_seed(9), "cpu"), "cpu")


def _train(dataset, validation, tmp_path, name, select, epochs=3, data=None):
    torch.manual_seed(123)
    rng = torch.Generator().manual_seed(0)
    model, losses = build_method(
        METHODS["t-ssdu"], build_model("crnn", chans=4), LossContext(IMG, rng, 0.0, SETTINGS, "cpu")
    )
    run_data = RunData("cpu", data or dataset, IMG[1], make_physics(IMG, 0.0, rng, "cpu"), rng)
    files = RunFiles(tmp_path / f"{name}.pt", tmp_path / f"{name}.csv", tmp_path / f"{name}.val.csv")
    tr = dataclasses.replace(settings(epochs, 3, 1), lr=1e-2, select=select)
    return train(model, losses, run_data, tr, TrainingJob(name, 0, files, progress=False), validation)


def test_holdout_keeps_the_step_with_the_lowest_held_out_error(dataset, extracted, tmp_path):
    """The kept weights score the logged minimum when measured again by a validation built independently; the
    last step's weights (select: last) score the last row; the two runs train identically."""
    last = _train(dataset, _validation(extracted, True), tmp_path, "last", "last")
    held = _train(dataset, _validation(extracted, False), tmp_path, "held", "holdout")
    log = pd.read_csv(tmp_path / "held.val.csv")
    assert log.psnr.isna().all() and log.holdout_nmse.notna().all()  # no ground truth read, none reported
    assert log.kept.sum() == 1
    best = log.loc[log.holdout_nmse.idxmin()]
    assert best.kept == 1 and best.step < log.step.max(), "the test needs a minimum before the last step"
    again = _validation(extracted, False)(held)
    assert again["holdout_nmse"] == pytest.approx(best.holdout_nmse, rel=1e-6)
    last_score = _validation(extracted, False)(last)["holdout_nmse"]
    assert (
        last_score == pytest.approx(log.holdout_nmse.iloc[-1], rel=1e-6) != pytest.approx(best.holdout_nmse)
    )
    assert pd.read_csv(tmp_path / "last.val.csv").kept.tolist()[-1] == 1


def test_holdout_selection_survives_an_interruption(dataset, extracted, tmp_path):
    reference = _train(dataset, _validation(extracted, False), tmp_path, "ref", "holdout").state_dict()
    with pytest.raises(KeyboardInterrupt):  # killed in the third epoch, after the best step of the first two
        _train(
            dataset, _validation(extracted, False), tmp_path, "k", "holdout", data=_Killer(dataset, limit=7)
        )
    resumed = _train(dataset, _validation(extracted, False), tmp_path, "k", "holdout").state_dict()
    assert all(torch.equal(reference[k], resumed[k]) for k in reference)
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "k.val.csv").drop(columns="seconds"),
        pd.read_csv(tmp_path / "ref.val.csv").drop(columns="seconds"),
    )


def test_holdout_never_reads_a_validation_patients_ground_truth(dataset, extracted, tmp_path, monkeypatch):
    """Every slice file's image array (index 0 of the stored array) is watched while the run trains and validates:
    the validation patients' images are never read (their k-space, masked, is)."""
    read = []
    real_load = np.load

    class Watched:
        def __init__(self, array, path):
            self.array, self.path = array, str(path)

        def __getitem__(self, key):
            read.append((self.path, key))
            return self.array[key]

    monkeypatch.setattr(dataset_module.np, "load", lambda path, **kw: Watched(real_load(path, **kw), path))
    validation = _validation(extracted, False)
    _train(dataset, validation, tmp_path, "held", "holdout", epochs=1)
    index = pd.read_csv(extracted / "index.csv")
    split = pd.read_csv(extracted / "split.csv")
    val_patients = set(split.loc[split.split == "val", "patient"])
    val_files = {str(extracted / f) for f in index.loc[index.patient.isin(val_patients), "file"]}
    assert val_files and {p for p, _ in read} >= val_files  # the watch sees the validation slices' reads
    assert [(p, k) for p, k in read if p in val_files and k == 0] == []
    # the training patients' images are read (the watch can see a read of index 0)
    assert any(k == 0 for p, k in read if p not in val_files)


def test_holdout_needs_validation(tmp_path):
    from test_config import load

    from ddei.methods.config import check_config

    check_config(load(training={"select": "holdout", "epochs": 1, "seeds": [0]}))
    with pytest.raises(ConfigError, match="training.select: holdout"):
        check_config(load(training={"select": "holdout", "validate_every": False, "epochs": 1, "seeds": [0]}))


@pytest.mark.parametrize("select", ["last", "holdout"])
def test_a_runs_validation_reads_ground_truth_only_when_it_selects_the_last_weights(select, extracted):
    """``validation_of``, what a train job validates with: PSNR on the images with ``last``; the held-out lines of
    the measurements alone with ``holdout`` (its samples carry no image)."""
    from ddei.methods.config import ModelConfig, RunConfig
    from ddei.runs.preparation import Run
    from ddei.runs.training import validation_of

    tr = dataclasses.replace(settings(1, 1, 1), select=select)
    cfg = RunConfig(
        "t-ssdu", "t-ssdu", IMG[2:], "reference", 0.0, "cpu", 1, ModelConfig("crnn", 1, 4), tr, SETTINGS
    )
    validation = validation_of(Run(cfg, 4, 0, extracted, extracted.parent / "masks"), IMG[1], "cpu")
    assert validation.truth == (select == "last")
    assert all(("x" in sample) == (select == "last") for sample in validation.samples)


def test_a_checkpoint_with_non_finite_kept_weights_is_not_written(tmp_path):
    """The weights kept for ``training.select: holdout`` are checked as the model's are: a NaN among them stops the
    run with the failure named, and no checkpoint is written."""
    from ddei.runs.training import RunState, _write_checkpoint
    from ddei.runs.weights import NonFiniteWeightsError

    net = torch.nn.Linear(2, 2)
    files = RunFiles(tmp_path / "ckpt.pt", tmp_path / "loss.csv", tmp_path / "val.csv")
    best = {k: v.detach().clone() for k, v in net.state_dict().items()}
    best["weight"][0, 0] = float("nan")
    run = RunState(net, torch.optim.Adam(net.parameters()), [], files, "run", {}, 1)
    run.best = {"step": 1, "score": 0.5, "state": best}
    with pytest.raises(NonFiniteWeightsError, match=r"best\.state\.weight"):
        _write_checkpoint(run)
    assert not files.checkpoint.exists()
    run.best["state"]["weight"][0, 0] = 0.0
    _write_checkpoint(run)
    assert files.checkpoint.is_file()
