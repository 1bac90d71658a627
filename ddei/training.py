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
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

import ddei  # noqa: F401
from ddei.config import TrainingConfig
from ddei.methods import generators


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


def pick_device(requested: str) -> torch.device:
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


def train_step(
    model: nn.Module, losses: list[nn.Module], batch: dict, physics, optimizer, epoch: int, device
) -> float:
    """One optimisation step: forward, the sum of the losses, backward, Adam step.

    :param torch.nn.Module model: network (already adapted by the method), called as ``model(y, physics)``.
    :param list losses: deepinv losses, called as ``loss(x=, x_net=, y=, physics=, model=, epoch=)``.
    :param dict batch: ``{"x", "y", "params": {"mask"}}``; the physics' mask is updated from it.
    :param physics: :class:`deepinv.physics.DynamicMRI`.
    :param optimizer: the optimizer.
    :param int epoch: current epoch (0-based; some deepinv losses use it).
    :param device: torch device.
    :return: the loss value (a tensor, not synchronised).
    """
    x, y = batch["x"].to(device, non_blocking=True), batch["y"].to(device, non_blocking=True)
    physics.update(mask=batch["params"]["mask"].to(device, non_blocking=True))
    optimizer.zero_grad(set_to_none=True)
    kwargs = {"update_parameters": True} if _accepts(model, "update_parameters") else {}
    x_net = model(y, physics, **kwargs)
    loss = sum(fn(x=x, x_net=x_net, y=y, physics=physics, model=model, epoch=epoch).mean() for fn in losses)
    loss.backward()
    optimizer.step()
    return loss.detach()


def _load_checkpoint(checkpoint: Path, run_id: str, settings: dict, device) -> dict | None:
    """The state of an *interrupted* run of exactly this identity, or ``None`` (with the reason printed).

    A finished run's checkpoint is never resumed: a new job (forced, or triggered by a change of code, data or
    configuration) trains from epoch 0. An unreadable, truncated or foreign checkpoint is ignored.
    """
    if not checkpoint.is_file():
        return None
    try:
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        keys = {"run_id", "settings", "epoch", "model", "optimizer", "random", "log", "torch", "complete"}
        if not isinstance(state, dict) or not keys <= set(state):
            raise ValueError("not a checkpoint of this pipeline (keys missing)")
    except Exception as e:  # noqa: BLE001 - a checkpoint that cannot be read is never fatal
        print(f"Ignoring {checkpoint}: unreadable ({type(e).__name__}: {e}); training from scratch")
        return None
    if state["torch"] != torch.__version__:
        print(f"Ignoring {checkpoint}: written by torch {state['torch']}, this is {torch.__version__}")
    elif state["run_id"] != run_id or state["settings"] != settings:
        print(f"Ignoring {checkpoint}: it belongs to another run (other code, data or settings)")
    elif state["complete"]:
        print(f"Ignoring {checkpoint}: that run finished; this job trains from epoch 0")
    else:
        return state
    return None


def train(
    model: nn.Module,
    losses: list[nn.Module],
    dataset: Dataset,
    physics,
    rng: torch.Generator,
    settings: TrainingConfig,
    seed: int,
    checkpoint: str | os.PathLike,
    log_csv: str | os.PathLike,
    device: torch.device | str,
    run_id: str,
    progress: bool = True,
) -> nn.Module:
    """Train ``model`` with the sum of ``losses``; resume an interrupted run of the same identity.

    :param torch.nn.Module model: network (already adapted by the method), called as ``model(y, physics)``.
    :param list losses: deepinv losses, called as ``loss(x=, x_net=, y=, physics=, model=, epoch=)``.
    :param torch.utils.data.Dataset dataset: dict samples ``{"x", "y", "params": {"mask"}}``.
    :param physics: :class:`deepinv.physics.DynamicMRI`; its mask is updated from each batch.
    :param torch.Generator rng: the generator the method's random components draw from; it and the losses' own
        mask generators (see :func:`ddei.methods.generators`) are saved and restored.
    :param TrainingConfig settings: optimisation settings.
    :param int seed: seed of the data order (and of the global RNGs of a fresh run).
    :param checkpoint: checkpoint file, rewritten after every epoch; marked complete after the last one.
    :param log_csv: per-epoch log: epoch, loss, seconds (rewritten from the checkpoint's log on resume).
    :param device: torch device.
    :param str run_id: the run's identity (method, acceleration, seed, configuration, data and code,
        see :func:`ddei.pipeline.run_identity`); only an interrupted checkpoint of the same identity is resumed.
    :param bool progress: show a progress bar.
    :return: the trained model (in eval mode).
    :raises NonFiniteLossError: if a loss is NaN or infinite.
    """
    device = torch.device(device)
    checkpoint, log_csv = Path(checkpoint), Path(log_csv)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    rngs = generators(rng, losses)
    fingerprint = asdict(settings) | {"seed": seed}

    start_epoch, log = 0, []
    state = _load_checkpoint(checkpoint, run_id, fingerprint, device)
    if state is not None:
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            _set_random_states(state["random"], rngs)
            start_epoch, log = state["epoch"], state["log"]
            print(f"Resuming {run_id} from {checkpoint} after epoch {start_epoch}")
        except Exception as e:  # noqa: BLE001
            raise RuntimeError(
                f"{checkpoint} matches this run but cannot be restored ({e}); delete it"
            ) from e
    else:
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)

    n = len(dataset)
    steps = math.ceil(n / settings.batch_size)
    if settings.steps_per_epoch > 0:
        steps = min(steps, settings.steps_per_epoch)
    bar = tqdm(
        total=settings.epochs * steps,
        initial=start_epoch * steps,
        desc=run_id,
        unit="step",
        disable=not progress,
        mininterval=1.0 if sys.stderr.isatty() else 30.0,
    )
    pin = device.type == "cuda"
    for epoch in range(start_epoch, settings.epochs):
        model.train()
        order = _epoch_order(n, seed, epoch)[: steps * settings.batch_size]
        loader = DataLoader(
            Subset(dataset, order), batch_size=settings.batch_size, shuffle=False, pin_memory=pin
        )
        values, checked, t0 = [], 0, time.perf_counter()
        for batch in loader:
            values.append(train_step(model, losses, batch, physics, optimizer, epoch, device))
            if len(values) % 10 == 0 or len(values) == steps:  # one host sync per 10 steps
                recent = torch.stack(values[checked:]).float()
                if not torch.isfinite(recent).all():
                    first = checked + int((~torch.isfinite(recent)).nonzero()[0])
                    raise NonFiniteLossError(
                        f"{run_id}: loss is {values[first].item()} at epoch {epoch + 1}, step {first + 1}. "
                        "Lower the learning rate or check the data normalisation."
                    )
                bar.update(len(values) - checked)
                checked = len(values)
                bar.set_postfix(epoch=epoch + 1, loss=f"{torch.stack(values).float().mean().item():.4g}")
        mean = torch.stack(values).float().mean().item() if values else float("nan")
        log.append({"epoch": epoch + 1, "loss": mean, "seconds": time.perf_counter() - t0})
        _atomic_save(
            {
                "run_id": run_id,
                "settings": fingerprint,
                "torch": torch.__version__,
                "complete": epoch + 1 == settings.epochs,
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
