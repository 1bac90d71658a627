"""Training: every method trains, a killed run resumes to the same weights (and only a killed run of the same
identity resumes), bad checkpoints are ignored, NaN losses stop the run."""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import math

import pandas as pd
import pytest
import torch
from torch.utils.data import Dataset

from ddei.data.dataset import CineSliceDataset
from ddei.methods.config import TrainingConfig
from ddei.methods.registry import METHODS
from ddei.mri.losses import LossContext
from ddei.mri.models import build_model
from ddei.runs.preparation import RunData, build_method, make_physics
from ddei.runs.training import NonFiniteLossError, RunFiles, TrainingJob, train
from ddei.runs.validation import Validation

IMG = (2, 12, 32, 32)
TRAINED = [name for name, m in METHODS.items() if m.trained]
SETTINGS = {
    "transform_mode": "fixed",
    "split_ratio": 0.6,
    "eval_n_samples": 2,
    "split_mask": "gaussian",
    "split_centre": "reference",
    "split_dc": "learned",
}


@pytest.fixture
def dataset(extracted):
    return CineSliceDataset(extracted, "train", extracted.parent / "masks", 4, img_size=IMG[2:])


def settings(epochs=2, steps=3, validate_every=False) -> TrainingConfig:
    return TrainingConfig(
        epochs=epochs,
        steps_per_epoch=steps,
        lr=1e-3,
        batch_size=1,
        precision="fp32",
        compile=False,
        validate_every=validate_every,
        channels_last=True,
        select="last",
    )


def _initial_weights() -> dict:
    torch.manual_seed(123)  # the model initialisation of _run
    return {k: v.clone() for k, v in build_model("crnn", chans=4).state_dict().items()}


def _run(
    method,
    dataset,
    tmp_path,
    epochs=2,
    steps=3,
    noise=0.0,
    name="run",
    run_id=None,
    validation=None,
    every=False,
):
    torch.manual_seed(123)  # model initialisation
    rng = torch.Generator().manual_seed(0)
    net = build_model("crnn", chans=4)
    model, losses = build_method(METHODS[method], net, LossContext(IMG, rng, noise, SETTINGS, "cpu"))
    data = RunData("cpu", dataset, IMG[1], make_physics(IMG, noise, rng, "cpu"), rng)
    files = RunFiles(tmp_path / f"{name}.pt", tmp_path / f"{name}.csv", tmp_path / f"{name}.val.csv")
    job = TrainingJob(run_id or method, 0, files, progress=False)
    return train(model, losses, data, settings(epochs, steps, every), job, validation)


@pytest.mark.parametrize("method", TRAINED)
def test_every_method_trains(method, extracted, tmp_path):
    noise = 0.05 if METHODS[method].needs_noise else 0.0
    ds = CineSliceDataset(
        extracted, "train", extracted.parent / "masks", 4, img_size=IMG[2:], noise_sigma=noise
    )
    before = _initial_weights()
    model = _run(method, ds, tmp_path, epochs=1, steps=2, noise=noise)
    log = pd.read_csv(tmp_path / "run.csv")
    assert list(log.columns) == ["epoch", "loss", "seconds"] and len(log) == 1
    assert torch.isfinite(torch.tensor(log.loss.values)).all()
    after = {k.removeprefix("model."): v for k, v in model.state_dict().items()}
    assert set(before) <= set(after)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    # every trainable weight moves (the DC weight lambda too: it is a registered parameter)
    assert sorted(changed) == sorted(before), f"unchanged by training: {sorted(set(before) - set(changed))}"


def test_initial_weights_are_the_seeds(extracted, tmp_path, dataset):
    """The comparison above is against the run's own initial weights: 0 epochs would leave them all equal."""
    model = _run("sup", dataset, tmp_path, epochs=1, steps=1)
    before = _initial_weights()
    torch.manual_seed(123)
    untouched = build_model("crnn", chans=4).state_dict()
    assert all(torch.equal(before[k], untouched[k]) for k in before)
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_unknown_method_and_sure_without_noise():
    from ddei.methods.registry import lookup

    with pytest.raises(ValueError, match="not a trained method"):
        build_method(
            lookup("zf"), build_model("crnn", chans=4), LossContext(IMG, torch.Generator(), 0.0, {}, "cpu")
        )
    with pytest.raises(ValueError, match="noise_sigma > 0"):
        build_method(
            METHODS["ddei-sure"],
            build_model("crnn", chans=4),
            LossContext(IMG, torch.Generator(), 0.0, SETTINGS, "cpu"),
        )


class _Killer(Dataset):
    """Raises after ``limit`` samples, like a job killed in the middle of an epoch."""

    def __init__(self, base, limit):
        self.base, self.limit, self.count = base, limit, 0

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        self.count += 1
        if self.count > self.limit:
            raise KeyboardInterrupt("killed")
        return self.base[i]


@pytest.mark.parametrize("method", ["ddei", "t-ssdu"])
def test_killed_run_resumes_to_identical_weights(method, dataset, tmp_path, capsys):
    reference = _run(method, dataset, tmp_path, epochs=3, name="reference").state_dict()

    with pytest.raises(KeyboardInterrupt):  # killed during the second epoch
        _run(method, _Killer(dataset, limit=4), tmp_path, epochs=3, name="killed")
    assert torch.load(tmp_path / "killed.pt", weights_only=True)["epoch"] == 1
    counted = _Killer(dataset, limit=10**9)
    capsys.readouterr()
    resumed = _run(method, counted, tmp_path, epochs=3, name="killed").state_dict()
    # it resumed: it trained epochs 2 and 3 only (a fresh restart would also end with the same weights)
    assert "Resuming" in capsys.readouterr().out and counted.count == 2 * 3

    for key, value in reference.items():
        assert torch.equal(value, resumed[key]), f"{key} differs after resuming"
    killed, ref = pd.read_csv(tmp_path / "killed.csv"), pd.read_csv(tmp_path / "reference.csv")
    assert killed.epoch.tolist() == [1, 2, 3] and killed.loss.tolist() == ref.loss.tolist()


def _validation(extracted):
    val = CineSliceDataset(extracted, "val", extracted.parent / "masks", 4, img_size=IMG[2:])
    return Validation(val, make_physics(IMG, 0.0, torch.Generator().manual_seed(9), "cpu"), "cpu")


def test_validation_zero_filled_level_is_the_evaluations(extracted):
    """The zero-filled level of val.csv is the evaluation's zero-filled baseline on the validation slices."""
    from ddei.runs.evaluation import evaluate

    validation = _validation(extracted)
    from ddei.methods.config import RunConfig
    from ddei.runs.preparation import Run, prepare

    zf_run = Run(
        RunConfig("zf", "zf", IMG[2:], "reference", 0.0, "cpu", 1),
        4,
        0,
        extracted,
        extracted.parent / "masks",
    )
    zf = evaluate(None, prepare(zf_run, "val", "fp32", 9), zf_run, progress=False)
    assert validation.zero_filled["zf_psnr"] == pytest.approx(zf["psnr"].mean(), abs=1e-9)
    assert validation.zero_filled["zf_ssim"] == pytest.approx(zf["ssim"].mean(), abs=1e-9)


def test_validation_log_and_resume_continues_it_exactly(dataset, extracted, tmp_path):
    """val.csv: a row before the first step, every 2 steps and after the last; a killed run that resumes writes
    the same rows as an uninterrupted one (the metrics to the bit), and validation leaves the weights alone."""
    plain = _run("t-ssdu", dataset, tmp_path, epochs=3, name="plain").state_dict()
    reference = _run(
        "t-ssdu", dataset, tmp_path, epochs=3, name="reference", validation=_validation(extracted), every=2
    ).state_dict()
    assert all(torch.equal(plain[k], reference[k]) for k in plain), "validation changed the trained weights"
    ref = pd.read_csv(tmp_path / "reference.val.csv")
    assert list(ref.columns) == ["step", "epoch", "psnr", "ssim", "seconds", "zf_psnr", "zf_ssim", "holdout_nmse",
                                 "zf_holdout_nmse", "dc_weight", "kept"]  # fmt: skip
    assert ref.kept.tolist() == [0, 0, 0, 0, 0, 1]  # training.select: last
    assert ref.dc_weight.iloc[0] == pytest.approx(
        math.log(math.e - 1)
    )  # the CRNN's initial lambda, then trained
    assert ref.dc_weight.iloc[-1] == pytest.approx(float(reference["model.lam"]), abs=1e-7)
    assert ref.holdout_nmse.isna().all()  # it has ground truth
    assert ref.zf_psnr.nunique() == 1 and ref.zf_psnr.iloc[0] < ref.psnr.max()  # the zero-filled level, once
    assert ref.step.tolist() == [0, 2, 4, 6, 8, 9] and ref.epoch.iloc[-1] == 3
    assert ref.psnr.iloc[-1] != ref.psnr.iloc[0] and (ref.seconds.diff().iloc[1:] >= 0).all()

    with pytest.raises(KeyboardInterrupt):  # killed during the second epoch, after the validation at step 4
        _run("t-ssdu", _Killer(dataset, limit=5), tmp_path, epochs=3, name="killed",
             validation=_validation(extracted), every=2)  # fmt: skip
    assert pd.read_csv(tmp_path / "killed.val.csv").step.tolist() == [0, 2]  # as of the epoch-1 checkpoint
    _run("t-ssdu", dataset, tmp_path, epochs=3, name="killed", validation=_validation(extracted), every=2)
    resumed = pd.read_csv(tmp_path / "killed.val.csv")
    cols = ["step", "epoch", "psnr", "ssim", "zf_psnr", "zf_ssim"]
    pd.testing.assert_frame_equal(resumed[cols], ref[cols])


def test_checkpoint_of_another_run_is_ignored(dataset, tmp_path, capsys):
    with pytest.raises(KeyboardInterrupt):
        _run("sup", _Killer(dataset, limit=4), tmp_path, epochs=3, name="x", run_id="sup-data-A")
    _run("sup", dataset, tmp_path, epochs=1, name="x", run_id="sup-data-B")  # other data: starts afresh
    out = capsys.readouterr().out
    assert "Ignoring" in out and "another run" in out and "Resuming" not in out


def test_finished_run_is_never_resumed(dataset, tmp_path, capsys):
    """A new job of a finished run (forced rerun) trains every epoch again, to the same weights."""
    first = {
        k: v.clone() for k, v in _run("ddei", dataset, tmp_path, epochs=2, name="x").state_dict().items()
    }
    assert torch.load(tmp_path / "x.pt", weights_only=True)["complete"]
    second = _run("ddei", dataset, tmp_path, epochs=2, name="x").state_dict()
    out = capsys.readouterr().out
    assert "that run finished" in out and "Resuming" not in out
    assert pd.read_csv(tmp_path / "x.csv").epoch.tolist() == [1, 2]
    assert all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "other torch", "not a checkpoint"])
def test_bad_checkpoint_is_ignored(dataset, tmp_path, capsys, damage):
    with pytest.raises(KeyboardInterrupt):
        _run("sup", _Killer(dataset, limit=4), tmp_path, epochs=3, name="x")
    path = tmp_path / "x.pt"
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    elif damage == "garbage":
        path.write_bytes(b"not a torch file")
    elif damage == "other torch":
        state = torch.load(path, weights_only=True)
        torch.save(state | {"torch": "1.0.0"}, path)
    else:
        torch.save({"weights": torch.zeros(1)}, path)
    reference = _run("sup", dataset, tmp_path, epochs=3, name="reference").state_dict()
    resumed = _run("sup", dataset, tmp_path, epochs=3, name="x").state_dict()
    assert "Ignoring" in capsys.readouterr().out
    assert pd.read_csv(tmp_path / "x.csv").epoch.tolist() == [1, 2, 3]
    assert all(torch.equal(reference[k], resumed[k]) for k in reference)


def test_progress_counts_every_step_once(dataset, tmp_path, monkeypatch):
    import ddei.runs.training

    counted = {}

    class Bar:
        def __init__(self, total, initial, **kwargs):
            counted.update(total=total, n=initial)

        def update(self, n):
            counted["n"] += n

        def set_postfix(self, **kwargs):
            pass

        def close(self):
            pass

    monkeypatch.setattr(ddei.runs.training, "tqdm", Bar)
    _run("sup", dataset, tmp_path, epochs=2, steps=13)  # 12 training slices: 12 steps per epoch, 2 syncs each
    assert counted["n"] == counted["total"] == 2 * min(13, len(dataset))


class _NaN(Dataset):
    def __init__(self, base):
        self.base = base

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        s = self.base[i]
        s["y"][0, 0, 0, 0] = float("nan")
        return s


def test_nan_loss_stops_with_clear_error(dataset, tmp_path):
    with pytest.raises(NonFiniteLossError, match="loss is nan at epoch 1, step 1"):
        _run("sup", _NaN(dataset), tmp_path)


def test_the_network_is_compiled_before_training_for_its_batches(compiled_graphs):
    """compile_for_training compiles at the training batch size: a batch of 2 then compiles nothing more (at batch 1
    it recompiled every graph in the first step, 20 s a step in the GPU scripts' CPU smoke)."""
    from ddei.mri.precision import configure
    from ddei.runs.training import compile_for_training

    img = (2, 4, 8, 8)  # small, so that tracing is quick
    g = torch.Generator().manual_seed(0)
    slices = [
        {"y": torch.randn(img, generator=g), "params": {"mask": (torch.rand(img, generator=g) > 0.5).float()}}
        for _ in range(2)
    ]
    rng = torch.Generator().manual_seed(0)
    data = RunData("cpu", slices, img[1], make_physics(img, 0.0, rng, "cpu"), rng)
    net = configure(build_model("crnn", chans=4), "fp32", True, True, "cpu")
    assert compile_for_training(net, data, batch_size=2) > 0
    compiled = len(compiled_graphs)
    assert compiled > 0
    data.physics.update(mask=torch.stack([s["params"]["mask"] for s in slices]))
    net(torch.stack([s["y"] for s in slices]), data.physics).square().mean().backward()
    assert len(compiled_graphs) == compiled
