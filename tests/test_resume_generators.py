"""Resume where a loss has a generator of its own: on a GPU the splitting masks draw from a generator on the device
(:func:`ddei.mri.losses.device_rng`), apart from the run's CPU generator, and the checkpoint must save and restore it
too (:func:`ddei.mri.losses.generators`). Simulated on the CPU by giving the mask generator its own
:class:`torch.Generator`: two epochs straight through end with the same weights as one epoch, a kill and a
resume."""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import pandas as pd
import pytest
import torch
from test_training import SETTINGS, _Killer, settings

from ddei.methods.registry import METHODS
from ddei.mri.losses import LossContext, generators
from ddei.mri.models import build_model
from ddei.runs.preparation import RunData, build_method, make_physics
from ddei.runs.training import RunFiles, TrainingJob, train

IMG = (2, 4, 16, 16)


@pytest.fixture(scope="module")
def dataset() -> list[dict]:
    """Four measured videos ``{"x", "y", "params": {"mask"}}``, k-t line masks with the centre line."""
    g = torch.Generator().manual_seed(5)
    physics = make_physics(IMG, 0.0, g, "cpu")
    samples = []
    for _ in range(4):
        lines = (torch.rand(1, 1, IMG[1], 1, IMG[3], generator=g) < 0.5).float()
        lines[..., IMG[3] // 2] = 1
        mask = lines.expand(1, *IMG).contiguous()
        x = torch.randn(1, *IMG, generator=g)
        physics.update(mask=mask)
        samples.append({"x": x[0], "y": physics.A(x)[0], "params": {"mask": mask[0]}})
    return samples


def _run(data, tmp_path, name: str, epochs: int = 2, steps: int = 2, seed: int = 99):
    torch.manual_seed(123)
    rng = torch.Generator().manual_seed(0)
    model, losses = build_method(
        METHODS["t-ssdu"],
        build_model("crnn", num_cascades=1, chans=4),
        LossContext(IMG, rng, 0.0, SETTINGS, "cpu"),
    )
    own = torch.Generator().manual_seed(seed)  # as device_rng gives on a GPU: seeded apart from the run's
    losses[0].mask_generator.rng = own
    assert generators(rng, losses) == [rng, own]
    run = RunData("cpu", data, IMG[1], make_physics(IMG, 0.0, rng, "cpu"), rng)
    files = RunFiles(tmp_path / f"{name}.pt", tmp_path / f"{name}.csv", None)
    return train(model, losses, run, settings(epochs, steps), TrainingJob("t-ssdu", 0, files, progress=False))


def test_a_resumed_run_restores_the_mask_generator_of_its_loss(dataset, tmp_path, capsys):
    reference = _run(dataset, tmp_path, "reference").state_dict()
    with pytest.raises(KeyboardInterrupt):  # killed in the second epoch
        _run(_Killer(dataset, limit=3), tmp_path, "killed")
    assert torch.load(tmp_path / "killed.pt", weights_only=True)["epoch"] == 1
    resumed = _run(dataset, tmp_path, "killed").state_dict()
    assert "Resuming" in capsys.readouterr().out
    for key, value in reference.items():
        assert torch.equal(value, resumed[key]), f"{key} differs after resuming"
    killed, ref = pd.read_csv(tmp_path / "killed.csv"), pd.read_csv(tmp_path / "reference.csv")
    assert killed.loss.tolist() == ref.loss.tolist()


def test_the_run_draws_the_masks_from_the_losss_own_generator(dataset, tmp_path):
    """The resume above is a test of that generator: the masks do come from it (another seed, other weights)."""
    a = _run(dataset, tmp_path, "a", epochs=1).state_dict()
    b = _run(dataset, tmp_path, "b", epochs=1, seed=100).state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_a_device_generator_is_seeded_from_the_runs_generator(monkeypatch):
    """:func:`ddei.mri.losses.device_rng`: on the run generator's device it is that generator; on another (a GPU),
    a generator of its own seeded by a draw of the run's, so that one run seed gives one stream of masks and
    another seed another. The GPU generator is stood in for by a CPU one."""
    from ddei.mri.losses import device_rng

    rng = torch.Generator().manual_seed(0)
    assert device_rng(rng, "cpu") is rng
    real = torch.Generator
    monkeypatch.setattr(torch, "Generator", lambda device="cpu": real("cpu"))

    def stream(seed: int) -> torch.Tensor:
        run = real().manual_seed(seed)
        own = device_rng(run, "cuda")
        assert own is not run
        return torch.rand(6, generator=own)

    assert torch.equal(stream(0), stream(0)) and not torch.equal(stream(0), stream(1))
