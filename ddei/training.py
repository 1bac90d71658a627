"""Training loop with exact resume.

deepinv's :class:`~deepinv.Trainer` checkpoints the model and optimizer but not the random streams (data order,
transforms, splitting masks), so a resumed run diverges from an uninterrupted one. This loop is deliberately
small and uses deepinv's losses, physics and metrics unchanged. It adds what a long unattended run needs:

- a checkpoint after every epoch (model, optimizer, every random state, the loss log), written atomically, so a
  killed job resumes from its last epoch and ends with the same weights as an uninterrupted run;
- a per-epoch loss log (CSV), a tqdm progress bar, and a clear error when the loss becomes NaN or infinite;
- CUDA when available, CPU otherwise.
"""

from __future__ import annotations

import csv
import inspect
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

import ddei  # noqa: F401
from ddei.methods import generators


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings of one run.

    :param int epochs: passes over the training set (the paper: 50).
    :param float lr: Adam learning rate (the paper: 1e-3).
    :param int batch_size: samples per step (the paper: 1).
    :param int seed: seed of the data order and of every random component.
    :param int steps_per_epoch: if > 0, cap the steps of each epoch (for the small default config).
    """

    epochs: int = 50
    lr: float = 1e-3
    batch_size: int = 1
    seed: int = 0
    steps_per_epoch: int = 0


def pick_device(requested: str = "auto") -> torch.device:
    """``cuda`` if available (or requested), else ``cpu``.

    :param str requested: ``"auto"``, ``"cpu"`` or ``"cuda"``.
    """
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but CUDA is not available; use device: auto or cpu")
    return torch.device(requested)


def make_physics(img_size: tuple[int, int, int, int], noise_sigma: float, rng: torch.Generator, device):
    """The dynamic single-coil MRI operator ``y = M F x (+ noise)``; its mask is set per sample.

    :param tuple img_size: ``(C, T, H, W)``.
    """
    import deepinv as dinv

    from ddei.physics import DynamicMRI

    physics = DynamicMRI(img_size=(1, *img_size), device=device)
    if noise_sigma > 0:
        physics.noise_model = dinv.physics.GaussianNoise(sigma=noise_sigma, rng=rng)
    return physics


def _accepts(model: nn.Module, name: str) -> bool:
    params = inspect.signature(model.forward).parameters
    return name in params


def _random_states(rngs: list[torch.Generator]) -> dict:
    states = {
        "rng": [g.get_state() for g in rngs],
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_random_states(states: dict, rngs: list[torch.Generator]) -> None:
    for g, state in zip(rngs, states["rng"], strict=True):
        g.set_state(state)
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _atomic_save(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=g).tolist()


def train(
    model: nn.Module,
    losses: list[nn.Module],
    dataset: Dataset,
    physics,
    rng: torch.Generator,
    settings: TrainSettings,
    checkpoint: str | os.PathLike,
    log_csv: str | os.PathLike,
    device: torch.device | str = "cpu",
    run_id: str = "",
    progress: bool = True,
) -> nn.Module:
    """Train ``model`` with the sum of ``losses``; resume from ``checkpoint`` if it holds the same run.

    :param torch.nn.Module model: network (already adapted by the method), called as ``model(y, physics)``.
    :param list losses: deepinv losses, called as ``loss(x=, x_net=, y=, physics=, model=, epoch=)``.
    :param torch.utils.data.Dataset dataset: dict samples ``{"x", "y", "params": {"mask"}}``.
    :param physics: :class:`deepinv.physics.DynamicMRI`; its mask is updated from each batch.
    :param torch.Generator rng: the generator the method's random components draw from; it and the losses' own
        mask generators (see :func:`ddei.methods.generators`) are saved and restored.
    :param TrainSettings settings: optimisation settings.
    :param checkpoint: checkpoint file, rewritten after every epoch; kept after the run.
    :param log_csv: per-epoch log: epoch, loss, seconds (rewritten from the checkpoint's log on resume).
    :param device: torch device.
    :param str run_id: identifies the run (method, acceleration, config); a checkpoint of another run is ignored.
    :param bool progress: show a progress bar.
    :return: the trained model (in eval mode).
    :raises NonFiniteLossError: if a loss is NaN or infinite.
    """
    device = torch.device(device)
    checkpoint, log_csv = Path(checkpoint), Path(log_csv)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    update_parameters = _accepts(model, "update_parameters")
    rngs = generators(rng, losses)

    start_epoch, log = 0, []
    if checkpoint.is_file():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        if state.get("run_id") == run_id and state.get("settings") == asdict(settings):
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            _set_random_states(state["random"], rngs)
            start_epoch, log = state["epoch"], state["log"]
            print(f"Resuming {run_id or 'run'} from {checkpoint} after epoch {start_epoch}")
        else:
            print(f"Ignoring {checkpoint}: it belongs to another run or other settings")
    else:
        torch.manual_seed(settings.seed)
        np.random.seed(settings.seed % 2**32)
        random.seed(settings.seed)

    n = len(dataset)
    steps = math.ceil(n / settings.batch_size)
    if settings.steps_per_epoch > 0:
        steps = min(steps, settings.steps_per_epoch)
    bar = tqdm(
        total=settings.epochs * steps,
        initial=start_epoch * steps,
        desc=run_id or "train",
        unit="step",
        disable=not progress,
        mininterval=1.0 if sys.stderr.isatty() else 30.0,
    )
    for epoch in range(start_epoch, settings.epochs):
        model.train()
        order = _epoch_order(n, settings.seed, epoch)[: steps * settings.batch_size]
        loader = DataLoader(Subset(dataset, order), batch_size=settings.batch_size, shuffle=False)
        total, count, t0 = 0.0, 0, time.perf_counter()
        for batch in loader:
            x, y = batch["x"].to(device), batch["y"].to(device)
            physics.update(mask=batch["params"]["mask"].to(device))
            optimizer.zero_grad(set_to_none=True)
            kwargs = {"update_parameters": True} if update_parameters else {}
            x_net = model(y, physics, **kwargs)
            loss = sum(
                fn(x=x, x_net=x_net, y=y, physics=physics, model=model, epoch=epoch).mean() for fn in losses
            )
            if not torch.isfinite(loss):
                raise NonFiniteLossError(
                    f"{run_id}: loss is {loss.item()} at epoch {epoch + 1}, step {count + 1}. "
                    "Lower the learning rate or check the data normalisation."
                )
            loss.backward()
            optimizer.step()
            total += loss.item()
            count += 1
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{total / count:.4g}")
        log.append({"epoch": epoch + 1, "loss": total / max(count, 1), "seconds": time.perf_counter() - t0})
        _atomic_save(
            {
                "run_id": run_id,
                "settings": asdict(settings),
                "epoch": epoch + 1,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "random": _random_states(rngs),
                "log": log,
            },
            checkpoint,
        )
        _write_log(log, log_csv)
    bar.close()
    _write_log(log, log_csv)
    model.eval()
    return model


def _write_log(log: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["epoch", "loss", "seconds"])
        writer.writeheader()
        writer.writerows(log)
    os.replace(tmp, path)
