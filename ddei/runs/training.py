"""Training loop with exact resume.

deepinv's :class:`~deepinv.Trainer` checkpoints the model and optimizer but not the random streams (data order,
transforms, splitting masks), so a resumed run diverges from an uninterrupted one. This loop is deliberately
small and uses deepinv's losses, physics and metrics unchanged. It adds what a long unattended run needs:

- a checkpoint after every epoch (model, optimizer, every random state, the loss log), written atomically, so a
  killed job resumes from its last epoch and ends with the same weights as an uninterrupted run;
- a checksum of the checkpoint's and the model's content (:mod:`ddei.runs.weights`), verified before resuming: a
  checkpoint changed on disk is reported (log and console) and training starts afresh;
- a per-epoch loss log (CSV), a tqdm progress bar, and a clear error when the loss becomes NaN or infinite, naming
  the batch's slices and whether their input or the network went non-finite;
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
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm

import ddei  # noqa: F401
from ddei.io.files import CorruptFileError, atomic_write, exclusive, warn
from ddei.io.layout import REBUILD_EXTRACT, SPLIT
from ddei.methods.config import ConfigError, TrainingConfig
from ddei.mri.losses import generators
from ddei.mri.metrics import HOLDOUT_NMSE
from ddei.mri.precision import warm_up
from ddei.provenance.records import LOGS, log_records
from ddei.runs.preparation import (
    Run,
    RunData,
    build_network,
    data_digest,
    img_size,
    make_physics,
    method_of,
    prepare,
    run_identity,
    training_code,
)
from ddei.runs.validation import VAL_COLUMNS, Validation, dc_weight
from ddei.runs.weights import NonFiniteWeightsError, load_state, save_state


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the message names the batch's slices and the cause."""


#: The parts of a checkpoint that must be finite (``best``: the weights kept by ``training.select: holdout``).
CHECKPOINT_WEIGHTS = ("model", "optimizer", "best")
#: The part of a trained model (``model.pt``) that must be finite.
MODEL_WEIGHTS = ("state_dict",)


def _accepts(model: nn.Module, name: str) -> bool:
    params = inspect.signature(model.forward).parameters
    return name in params


def _random_states(rngs: list[torch.Generator]) -> dict:
    """Every random state of a run, as tensors and plain values (what ``torch.load(weights_only=True)`` reads)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    states = {
        "rng": [g.get_state() for g in rngs],
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },  # fmt: skip
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_random_states(states: dict, rngs: list[torch.Generator]) -> None:
    for g, state in zip(rngs, states["rng"], strict=True):
        g.set_state(state)
    torch.set_rng_state(states["torch"])
    n = states["numpy"]
    np.random.set_state(
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=g).tolist()


def train_step(
    model: nn.Module, losses: list[nn.Module], batch: dict, physics, optimizer, epoch: int
) -> torch.Tensor:
    """One optimisation step: forward, the sum of the losses, backward, Adam step.

    :param torch.nn.Module model: network (already adapted by the method), called as ``model(y, physics)``.
    :param list losses: deepinv losses, called as ``loss(x=, x_net=, y=, physics=, model=, epoch=)``.
    :param dict batch: ``{"x", "y", "params": {"mask"}}``; the physics' mask is updated from it.
    :param physics: :class:`deepinv.physics.DynamicMRI`.
    :param optimizer: the optimizer.
    :param int epoch: current epoch (0-based; some deepinv losses use it).
    :return: the loss value (a tensor, not synchronised).
    """
    device = next(model.parameters()).device
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
        state = load_state(checkpoint, CHECKPOINT_WEIGHTS, map_location=device)
        keys = {
            "run_id",
            "settings",
            "epoch",
            "model",
            "optimizer",
            "random",
            "log",
            "val",
            "torch",
            "complete",
        }
        if not isinstance(state, dict) or not keys <= set(state):
            raise ValueError("not a checkpoint of this pipeline (keys missing)")
    except Exception as e:  # noqa: BLE001 - a checkpoint that cannot be read is never fatal
        why = "corrupt" if isinstance(e, (CorruptFileError, NonFiniteWeightsError)) else "unreadable"
        warn(f"Ignoring {checkpoint}: {why} ({type(e).__name__}: {e}); training from scratch")
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


@dataclass(frozen=True)
class RunFiles:
    """The files of one training run.

    :param checkpoint: checkpoint, rewritten after every epoch; marked complete after the last one.
    :param loss_csv: per-epoch log: epoch, loss, seconds (rewritten from the checkpoint's log on resume).
    :param val_csv: validation log (:data:`ddei.runs.validation.VAL_COLUMNS`), or ``None`` without validation.
    """

    checkpoint: Path
    loss_csv: Path
    val_csv: Path | None = None

    def __post_init__(self):
        for name in ("checkpoint", "loss_csv", "val_csv"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))


@dataclass(frozen=True)
class TrainingJob:
    """Who a training run is and where it writes.

    :param str run_id: the run's identity (method, acceleration, seed, configuration, data and code, see
        :func:`ddei.runs.preparation.run_identity`); only an interrupted checkpoint of the same identity is resumed.
    :param int seed: seed of the data order (and of the global RNGs of a fresh run).
    :param RunFiles files: checkpoint, loss log and validation log.
    :param bool progress: show a progress bar.
    """

    run_id: str
    seed: int
    files: RunFiles
    progress: bool = True


@dataclass
class RunState:
    """The state of one training run: what its checkpoint saves after every epoch and a resumed run restores.

    :param torch.nn.Module model: the network being trained.
    :param optimizer: its optimizer.
    :param list rngs: every generator the run draws from (:func:`ddei.mri.losses.generators`).
    :param RunFiles files: checkpoint, loss log and validation log.
    :param str run_id: the run's identity; only a checkpoint of the same identity is resumed.
    :param dict fingerprint: the settings (and seed) a resumed checkpoint must have been written with.
    :param int epochs: the run's length; its checkpoint is marked complete after the last epoch.
    :param int epoch: epochs done.
    :param list log: one row per epoch done (epoch, loss, seconds).
    :param list val: one row per validation measurement (:data:`ddei.runs.validation.VAL_COLUMNS`).
    :param dict best: with ``training.select: holdout``, the weights of the validation step with the lowest
        held-out-line error so far, ``{"step", "score", "state"}`` (``None`` before the first measurement).
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    rngs: list[torch.Generator]
    files: RunFiles
    run_id: str
    fingerprint: dict
    epochs: int
    epoch: int = 0
    log: list = field(default_factory=list)
    val: list = field(default_factory=list)
    best: dict | None = None

    @property
    def seconds(self) -> float:
        """Training seconds of the completed epochs (validation excluded)."""
        return sum(row["seconds"] for row in self.log)


def _resume(run: RunState, seed: int, device) -> None:
    """Restore an interrupted run of this identity from its checkpoint, or start afresh (seeded)."""
    state = _load_checkpoint(run.files.checkpoint, run.run_id, run.fingerprint, device)
    if state is None:
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)
        return
    try:
        run.model.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        _set_random_states(state["random"], run.rngs)
    except Exception as e:  # noqa: BLE001
        raise RuntimeError(
            f"{run.files.checkpoint} matches this run but cannot be restored ({e}); delete it"
        ) from e
    print(f"Resuming {run.run_id} from {run.files.checkpoint} after epoch {state['epoch']}")
    run.epoch, run.log, run.val, run.best = state["epoch"], state["log"], state["val"], state.get("best")


def train(
    model: nn.Module,
    losses: list[nn.Module],
    data: RunData,
    settings: TrainingConfig,
    job: TrainingJob,
    validation: Validation | None = None,
) -> nn.Module:
    """Train ``model`` with the sum of ``losses``; resume an interrupted run of the same identity.

    :param torch.nn.Module model: network (already adapted by the method), called as ``model(y, physics)``.
    :param list losses: deepinv losses, called as ``loss(x=, x_net=, y=, physics=, model=, epoch=)``.
    :param RunData data: the device, the training samples (dict samples ``{"x", "y", "params": {"mask"}}``), the
        physics (its mask is updated from each batch) and the generator the method's random components draw from;
        it and the losses' own mask generators (see :func:`ddei.mri.losses.generators`) are saved and restored.
    :param TrainingConfig settings: optimisation settings (``validate_every``: steps between validations).
    :param TrainingJob job: the run's identity, seed, files and progress bar.
    :param Validation validation: measured before the first step, every ``settings.validate_every`` steps and
        after the last one (``None`` or ``validate_every`` off: no validation).
    :return: the trained model (in eval mode).
    :raises NonFiniteLossError: if a loss is NaN or infinite.
    """
    dataset, physics, device, seed = data.dataset, data.physics, torch.device(data.device), job.seed
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    fingerprint = asdict(settings) | {"seed": seed}
    run = RunState(
        model, optimizer, generators(data.rng, losses), job.files, job.run_id, fingerprint, settings.epochs
    )
    _resume(run, seed, device)
    every = int(settings.validate_every or 0) if validation is not None else 0
    n, steps = len(dataset), _steps_per_epoch(len(dataset), settings)
    total = settings.epochs * steps

    def validate(step: int, seconds: float) -> None:
        if every and (step % every == 0 or step == total) and not any(r["step"] == step for r in run.val):
            row = {"step": step, "epoch": step / steps, **validation(model)}
            run.val.append(
                row | {"seconds": seconds, **validation.zero_filled, "dc_weight": dc_weight(model)}
            )
            if settings.select == "holdout":
                _keep_if_best(run, step, row[HOLDOUT_NMSE])

    bar = _progress_bar(total, run.epoch * steps, job.run_id, job.progress)
    validate(run.epoch * steps, run.seconds)
    for epoch in range(run.epoch, settings.epochs):
        model.train()
        order = _epoch_order(n, seed, epoch)[: steps * settings.batch_size]
        loader = DataLoader(
            Subset(dataset, order), batch_size=settings.batch_size, shuffle=False, pin_memory=pin(device)
        )
        values, checked, t0, val_before = [], 0, time.perf_counter(), validation.seconds if every else 0.0
        for batch in loader:
            values.append(train_step(model, losses, batch, physics, optimizer, epoch))
            if len(values) % 10 == 0 or len(values) == steps:  # one host sync per 10 steps
                _check_finite(values, checked, job.run_id, epoch, loader)
                bar.update(len(values) - checked)
                checked = len(values)
                bar.set_postfix(epoch=epoch + 1, loss=f"{torch.stack(values).float().mean().item():.4g}")
            if every:
                spent = time.perf_counter() - t0 - (validation.seconds - val_before)
                validate(epoch * steps + len(values), run.seconds + spent)
        mean = torch.stack(values).float().mean().item() if values else float("nan")
        spent = time.perf_counter() - t0 - ((validation.seconds - val_before) if every else 0.0)
        run.log.append({"epoch": epoch + 1, "loss": mean, "seconds": spent})
        run.epoch = epoch + 1
        _save_checkpoint(run)
    bar.close()
    _select(run, settings.select, total)
    _write_logs(run)
    if every:
        _print_validation_share(run, validation)
    model.eval()
    return model


def _keep_if_best(run: RunState, step: int, score: float) -> None:
    """Keep the model's weights if ``score`` (the held-out-line error at ``step``) is the lowest so far."""
    if not math.isfinite(score):
        raise ValueError(
            f"{run.run_id}: training.select is holdout, but the held-out-line error at step {step} is {score}"
        )
    if run.best is None or score < run.best["score"]:
        state = {k: v.detach().clone() for k, v in run.model.state_dict().items()}
        run.best = {"step": step, "score": score, "state": state}


def _select(run: RunState, select: str, total: int) -> None:
    """Restore the weights that ``select`` keeps and mark their step in the validation log (``kept``).

    :param str select: ``last`` (the weights after the last step) or ``holdout`` (:func:`_keep_if_best`'s).
    :param int total: the run's last step.
    """
    if select not in ("last", "holdout"):
        raise ValueError(f"training.select must be 'last' or 'holdout', got {select!r}")
    kept = total
    if select == "holdout" and run.best is not None:
        run.model.load_state_dict(run.best["state"])
        kept = run.best["step"]
    for row in run.val:
        row["kept"] = int(row["step"] == kept)
    if run.best is not None:
        print(f"training.select: holdout kept the weights of step {kept} of {total}")


def _steps_per_epoch(n: int, settings: TrainingConfig) -> int:
    """Steps of an epoch: every sample once in batches, or ``settings.steps_per_epoch`` if fewer."""
    steps = math.ceil(n / settings.batch_size)
    return min(steps, settings.steps_per_epoch) if settings.steps_per_epoch > 0 else steps


def _progress_bar(total: int, initial: int, run_id: str, progress: bool) -> tqdm:
    """The run's progress bar over steps (refreshed every 30 s when the output is a log file)."""
    interval = 1.0 if sys.stderr.isatty() else 30.0
    return tqdm(
        total=total, initial=initial, desc=run_id, unit="step", disable=not progress, mininterval=interval
    )


def _print_validation_share(run: RunState, validation: Validation) -> None:
    share = validation.seconds / max(run.seconds, 1e-9)
    print(
        f"validation: {len(run.val)} measurements on {len(validation)} slices, {validation.seconds:.1f} s in "
        f"this job, {100 * share:.1f} % of its training time"
    )


def pin(device: torch.device) -> bool:
    return device.type == "cuda"


def _check_finite(values: list, checked: int, run_id: str, epoch: int, loader: DataLoader) -> None:
    """Raise :class:`NonFiniteLossError` if a loss after the first ``checked`` is NaN or infinite, naming the
    batch's slices (``loader`` reads a :class:`~torch.utils.data.Subset` of the dataset in the epoch's order)."""
    recent = torch.stack(values[checked:]).float()
    if not torch.isfinite(recent).all():
        first = checked + int((~torch.isfinite(recent)).nonzero()[0])
        size, epoch_slices = loader.batch_size, loader.dataset
        indices = list(epoch_slices.indices[first * size : (first + 1) * size])
        raise NonFiniteLossError(
            f"{run_id}: loss is {values[first].item()} at epoch {epoch + 1}, step {first + 1}. "
            + _nonfinite_cause(epoch_slices.dataset, indices)
        )


def _nonfinite_cause(dataset, indices: list[int]) -> str:
    """Which slices the failing step trained on, and whether their input or the network went non-finite (the
    samples are read again: only when the run fails)."""
    if dataset is None or not indices:
        return "Lower the learning rate or check the data normalisation."
    names, bad = [], []
    for i in indices:
        name = f"sample {i}"
        if hasattr(dataset, "record"):
            rec = dataset.record(i)
            name = f"{rec['patient']} {rec['view']} slice {rec['slice']} ({rec['file']})"
        names.append(name)
        sample = dataset[i]
        if not all(bool(torch.isfinite(sample[k]).all()) for k in ("x", "y") if k in sample):
            bad.append(name)
    if bad:
        return (
            f"The input of {'; '.join(bad)} is NaN or infinite: the data is damaged, not the training. Rebuild "
            f"the extraction with `{REBUILD_EXTRACT}` (and check the source .mat files)."
        )
    return (
        f"The batch's inputs are finite ({'; '.join(names)}), so the network's output or the loss diverged: lower "
        "training.lr, or check the data normalisation."
    )


def _save_checkpoint(run: RunState) -> None:
    try:
        _write_checkpoint(run)
    except NonFiniteWeightsError as e:
        raise NonFiniteWeightsError(
            f"{run.run_id}: the network's weights went NaN or infinite in epoch {run.epoch} although its losses "
            f"were finite ({e}): lower training.lr"
        ) from None
    _write_logs(run)


def _write_checkpoint(run: RunState) -> None:
    save_state(
        run.files.checkpoint,
        {
            "run_id": run.run_id,
            "settings": run.fingerprint,
            "torch": str(torch.__version__),
            "complete": run.epoch == run.epochs,
            "epoch": run.epoch,
            "model": run.model.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "random": _random_states(run.rngs),
            "log": run.log,
            "val": run.val,
            "best": run.best,
        },
        CHECKPOINT_WEIGHTS,
    )


def _write_logs(run: RunState) -> None:
    _write_log(run.log, run.files.loss_csv, ["epoch", "loss", "seconds"])
    if run.files.val_csv is not None:
        _write_log(run.val, run.files.val_csv, list(VAL_COLUMNS))


def _write_log(log: list[dict], path: Path, columns: list[str]) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(log)

    atomic_write(path, write)


def validation_of(run: Run, frames: int, device) -> Validation | None:
    """The run's :class:`ddei.runs.validation.Validation` on the ``val`` patients, or ``None`` if validation is off.
    With ``training.select: holdout`` it reads no ground truth and scores the held-out measured lines.

    :raises ConfigError: validation is on but the split has no validation patient.
    """
    every = run.cfg.training.validate_every
    if not every:
        return None
    from ddei.data.extract import load_index

    if not (load_index(run.extract_dir)["split"] == "val").any():
        raise ConfigError(
            f"training.validate_every is {every} but {run.extract_dir / SPLIT} has no validation patient: "
            "raise data.val_fraction (or add patients), or set training.validate_every: false"
        )
    rng = torch.Generator(device="cpu").manual_seed(
        run.seed
    )  # never drawn from: the model's inputs are fixed
    physics = make_physics(img_size(run.cfg, frames), run.cfg.noise_sigma, rng, device)
    # holdout selection chooses without ground truth: the validation patients' images are not used (with the
    # reference normalisation and acquired scans, not even read: ddei.data.dataset.CineSliceDataset)
    truth = run.cfg.training.select != "holdout"
    return Validation(run.dataset("val", ground_truth=truth), physics, device)


def compile_for_training(net: nn.Module, data: RunData, batch_size: int) -> float:
    """Compile a network configured with ``compile`` for the shapes that training runs, before training: one forward
    and backward pass (:func:`ddei.mri.precision.warm_up`) on the first training slice, repeated to a batch.

    :param torch.nn.Module net: the configured network (not the method-adapted model).
    :param RunData data: the run's training data and physics.
    :param int batch_size: the training batch size.
    :return: seconds spent.
    """
    sample = data.dataset[0]
    y, mask = (torch.stack([t] * batch_size).to(data.device) for t in (sample["y"], sample["params"]["mask"]))
    data.physics.update(mask=mask)
    return warm_up(net, y, data.physics)


def run_training(
    run: Run, model_out: str | os.PathLike, files: RunFiles, code: str | None = None, progress: bool = True
) -> str:
    """Train one method at one acceleration and seed; write the weights to ``model_out``.

    Resumes from ``files.checkpoint`` only if it holds an interrupted run of the same identity
    (:func:`run_identity`); the checkpoint is removed once the weights are written. The run holds an exclusive lock
    on ``<checkpoint>.lock`` from start to end: a second process on the same run refuses to start
    (:class:`ddei.io.files.LockedError`, naming the first one's PID).

    :param Run run: the method's resolved configuration (a trained method), acceleration, seed and data.
    :param RunFiles files: checkpoint, loss log and validation log of the run.
    :param str code: fingerprint of the code (the rule's ``params.code``); ``None``: :func:`training_code`.
    :return: the run's identity.
    """
    with run_lock(files):
        return _run_training(run, model_out, files, code, progress)


def run_lock(files: RunFiles) -> AbstractContextManager[Path]:
    """The exclusive lock of a training run, ``<checkpoint>.lock`` (:func:`ddei.io.files.exclusive`): held by
    :func:`run_training`, and by a train job from before it opens its log, so that a refused second writer never
    touches the live job's log.

    :param RunFiles files: the run's files.
    :raises ddei.io.files.LockedError: another process holds it, naming its PID.
    """
    return exclusive(files.checkpoint.with_suffix(".lock"), f"the training run of {files.checkpoint}")


def _run_training(run: Run, model_out, files: RunFiles, code: str | None, progress: bool) -> str:
    cfg, tr = run.cfg, run.cfg.training
    data = prepare(run, "train", tr.precision, run.seed)
    validation = validation_of(run, data.frames, data.device)
    rid = run_identity(cfg, run.acceleration, run.seed, data_digest(data.dataset), code or training_code())
    torch.manual_seed(run.seed)  # the network's initial weights
    net = build_network(cfg, tr.precision, tr.compile, data.device)
    if tr.compile:
        seconds = compile_for_training(net, data, tr.batch_size)
        print(f"compiled the network in {seconds:.1f} s")
    model, losses = method_of(cfg, net, data)
    model = train(model, losses, data, tr, TrainingJob(rid, run.seed, files, progress), validation)
    state = {"run_id": rid, "cfg": cfg.to_dict(), "state_dict": model.state_dict()}
    # the logs as written (whatever their columns), checked by the report rules that read them
    state[LOGS] = log_records({"loss": files.loss_csv, "val": files.val_csv})
    save_state(model_out, state, MODEL_WEIGHTS)
    files.checkpoint.unlink(missing_ok=True)
    return rid
