"""Training: every method trains, a killed run resumes to the same weights, NaN losses stop the run."""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import pandas as pd
import pytest
import torch
from torch.utils.data import Dataset

from ddei.data.dataset import CineSliceDataset
from ddei.methods import TRAINED, build_method
from ddei.models import build_model
from ddei.training import NonFiniteLossError, TrainSettings, make_physics, train

IMG = (2, 12, 32, 32)


@pytest.fixture
def dataset(extracted):
    return CineSliceDataset(extracted, "train", extracted.parent / "masks", 4, img_size=IMG[2:])


def _run(method, dataset, tmp_path, epochs=2, steps=3, noise=0.0, name="run"):
    torch.manual_seed(123)  # model initialisation
    rng = torch.Generator().manual_seed(0)
    model, losses = build_method(method, build_model("crnn", chans=4), IMG, rng, noise_sigma=noise)
    physics = make_physics(IMG, noise, rng, "cpu")
    settings = TrainSettings(epochs=epochs, steps_per_epoch=steps, seed=0)
    return train(
        model,
        losses,
        dataset,
        physics,
        rng,
        settings,
        tmp_path / f"{name}.pt",
        tmp_path / f"{name}.csv",
        run_id=method,
        progress=False,
    )


@pytest.mark.parametrize("method", TRAINED)
def test_every_method_trains(method, extracted, tmp_path):
    noise = 0.05 if method.endswith("sure") else 0.0
    ds = CineSliceDataset(
        extracted, "train", extracted.parent / "masks", 4, img_size=IMG[2:], noise_sigma=noise
    )
    before = {k: v.clone() for k, v in build_model("crnn", chans=4).state_dict().items()}
    model = _run(method, ds, tmp_path, epochs=1, steps=2, noise=noise)
    log = pd.read_csv(tmp_path / "run.csv")
    assert list(log.columns) == ["epoch", "loss", "seconds"] and len(log) == 1
    assert torch.isfinite(torch.tensor(log.loss.values)).all()
    after = model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after.get(k, after.get(f"model.{k}")))]
    assert changed, "training must change the weights"


def test_unknown_method_and_sure_without_noise():
    with pytest.raises(ValueError, match="Unknown method"):
        build_method("noise2noise", build_model("crnn", chans=4), IMG, torch.Generator())
    with pytest.raises(ValueError, match="noise_sigma > 0"):
        build_method("ddei-sure", build_model("crnn", chans=4), IMG, torch.Generator())


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
def test_killed_run_resumes_to_identical_weights(method, dataset, tmp_path):
    reference = _run(method, dataset, tmp_path, epochs=3, name="reference").state_dict()

    with pytest.raises(KeyboardInterrupt):  # killed during the second epoch
        _run(method, _Killer(dataset, limit=4), tmp_path, epochs=3, name="killed")
    assert torch.load(tmp_path / "killed.pt", weights_only=False)["epoch"] == 1
    resumed = _run(method, dataset, tmp_path, epochs=3, name="killed").state_dict()

    for key, value in reference.items():
        assert torch.equal(value, resumed[key]), f"{key} differs after resuming"
    killed, ref = pd.read_csv(tmp_path / "killed.csv"), pd.read_csv(tmp_path / "reference.csv")
    assert killed.epoch.tolist() == [1, 2, 3] and killed.loss.tolist() == ref.loss.tolist()


def test_checkpoint_of_another_run_is_ignored(dataset, tmp_path, capsys):
    _run("sup", dataset, tmp_path, epochs=1, name="x")
    _run("ei-r", dataset, tmp_path, epochs=1, name="x")  # same file, other run id: starts afresh
    assert "Ignoring" in capsys.readouterr().out


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
