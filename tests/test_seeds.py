"""A training run's seed: the documented rule of :func:`ddei.runs.training.run_training` is that seed ``s`` builds
the network right after ``torch.manual_seed(s)`` (its initial weights), seeds the generator every random component
of the method draws from (``torch.Generator().manual_seed(s)``, :func:`ddei.runs.preparation.prepare`) and the
order of the training slices. Different seeds therefore start from different weights and draw different streams;
one seed, twice, gives identical ones."""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import pytest
import torch
from test_training import settings

import ddei.runs.training as training
from ddei.methods.config import ModelConfig, RunConfig
from ddei.mri.models import build_model
from ddei.runs.preparation import Run

SIZE = (32, 32)


def _config() -> RunConfig:
    tr = settings(epochs=1, steps=1)
    return RunConfig(
        "ddei",
        "ddei",
        SIZE,
        "reference",
        0.0,
        "cpu",
        1,
        ModelConfig("crnn", 1, 4),
        tr,
        {"transform_mode": "fixed"},
    )


def _start(seed: int, extracted, tmp_path, monkeypatch) -> dict:
    """What training run ``seed`` starts from: the network's initial weights, the first draws of the method's
    generator and of its EI transform (the training loop itself is replaced)."""
    seen = {}

    def start(model, losses, data, settings, job, validation=None):
        seen["weights"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        seen["draws"] = torch.rand(4, generator=data.rng)
        seen["angles"] = [losses[1].T.get_params(torch.zeros(1, 2, 4, 8, 8)) for _ in range(5)]
        seen["job seed"] = job.seed
        for log in (job.files.loss_csv, job.files.val_csv):  # what the loop writes, which model.pt records
            log.write_text("epoch\n")
        return model

    monkeypatch.setattr(training, "train", start)
    run = Run(_config(), 4, seed, extracted, extracted.parent / "masks")
    files = training.RunFiles(tmp_path / f"{seed}.pt", tmp_path / f"{seed}.csv", tmp_path / f"{seed}.val.csv")
    training.run_training(run, tmp_path / f"model{seed}.pt", files, code="c", progress=False)
    return seen


def _same_draws(a: list[dict], b: list[dict]) -> bool:
    return all(
        x.keys() == y.keys() and all(torch.equal(torch.as_tensor(x[k]), torch.as_tensor(y[k])) for k in x)
        for x, y in zip(a, b)
    )


def test_seed_s_starts_from_the_network_built_after_manual_seed_s(extracted, tmp_path, monkeypatch):
    runs = {s: _start(s, extracted, tmp_path, monkeypatch) for s in (0, 1)}
    (tmp_path / "again").mkdir()
    again = _start(1, extracted, tmp_path / "again", monkeypatch)
    for s, seen in runs.items():
        torch.manual_seed(s)
        reference = build_model("crnn", num_cascades=1, chans=4).state_dict()
        assert seen["weights"].keys() == reference.keys()
        assert all(torch.equal(seen["weights"][k], reference[k]) for k in reference), f"seed {s}"
        assert torch.equal(seen["draws"], torch.rand(4, generator=torch.Generator().manual_seed(s)))
        assert seen["job seed"] == s
    # different seeds: different weights and draws; the same seed: the same ones
    assert any(not torch.equal(runs[0]["weights"][k], runs[1]["weights"][k]) for k in runs[0]["weights"])
    assert not torch.equal(runs[0]["draws"], runs[1]["draws"]) and not _same_draws(
        runs[0]["angles"], runs[1]["angles"]
    )
    assert all(torch.equal(runs[1]["weights"][k], again["weights"][k]) for k in again["weights"])
    assert torch.equal(runs[1]["draws"], again["draws"]) and _same_draws(runs[1]["angles"], again["angles"])


@pytest.mark.parametrize("n", [12, 50])
def test_the_slice_order_is_a_permutation_of_the_seed_and_the_epoch(n):
    orders = {(s, e): training._epoch_order(n, s, e) for s in (0, 1, 2) for e in (0, 1)}
    assert all(sorted(o) == list(range(n)) for o in orders.values())
    assert len({tuple(o) for o in orders.values()}) == len(orders)  # every seed and epoch its own order
    assert orders[(1, 0)] == training._epoch_order(n, 1, 0)


def test_a_fresh_run_seeds_the_global_generators_with_its_seed(tmp_path):
    """torch's, numpy's and Python's global generators (what deepinv components without a generator draw from)
    start from the run's seed when the run does not resume."""
    import random

    import numpy as np

    net = build_model("crnn", num_cascades=1, chans=4)
    state = training.RunState(
        net,
        torch.optim.Adam(net.parameters()),
        [torch.Generator()],
        training.RunFiles(tmp_path / "x.pt", tmp_path / "x.csv", None),
        "x",
        {},
        1,
    )
    draws = {}
    for seed in (3, 4):
        training._resume(state, seed, "cpu")
        draws[seed] = (torch.rand(3), np.random.rand(3), random.random())
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        assert torch.equal(draws[seed][0], torch.rand(3))
        assert np.array_equal(draws[seed][1], np.random.rand(3)) and draws[seed][2] == random.random()
    assert not torch.equal(draws[3][0], draws[4][0])
