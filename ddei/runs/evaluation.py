"""Evaluation on the test split: PSNR, SSIM and NMSE per slice, as the paper computes them.

:func:`run_evaluation` evaluates one trained model (or an external one, or the zero-filled baseline) of the
workflow; :func:`evaluate` does the work for any model.

Metrics are :mod:`ddei.mri.metrics` (deepinv's, as the reference ``train.py`` configures them). The zero-filled baseline :math:`A^H y` goes through the same code.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

import ddei  # noqa: F401
from ddei.io.files import atomic_write
from ddei.io.layout import slice_key
from ddei.methods.config import RunConfig
from ddei.methods.registry import lookup
from ddei.mri.metrics import KSPACE_REGIONS, METRICS, kspace_errors, metric_functions
from ddei.mri.precision import configure
from ddei.provenance.fingerprints import versions_of
from ddei.provenance.records import rebuild, write_record
from ddei.runs.preparation import CHANNELS_LAST, Run, RunData, build_network, method_of, prepare
from ddei.runs.weights import load_state

#: Columns of a metrics file: the run, the test slice, the metrics and the versions of the packages the evaluation
#: ran with (:func:`ddei.provenance.fingerprints.versions_of`; ``collect_metrics`` refuses to mix them).
COLUMNS = ["method", "acceleration", "seed", "patient", "view", "slice", *METRICS, "versions"]


def magnitude(x: torch.Tensor) -> np.ndarray:
    """``(B, 2, T, H, W)`` to the magnitude ``(B, T, H, W)`` as float32 numpy."""
    return x.detach().pow(2).sum(1).sqrt().cpu().numpy().astype(np.float32)


@dataclass(frozen=True)
class SavedRecon:
    """The reconstructions an evaluation keeps for the figures.

    :param path: an ``.npz`` with the magnitudes of the first ``slices`` slices and of the first ``slices`` slices
        that have a ground truth (keys ``<patient>_<view>_s<slice>``), and their ground truth under ``gt/...`` where
        there is one: the figures show a slice with its ground truth wherever the test scans have one.
    :param int slices: how many slices to save (``-1``: all).
    """

    path: str | os.PathLike
    slices: int = 2


@torch.no_grad()
def evaluate(
    model: nn.Module | None,
    data: RunData,
    run: Run,
    recon: SavedRecon | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Reconstruct every slice of ``data`` and compute its metrics.

    Slices without ground truth (acquired scans without a fully sampled twin) get no metric row.

    :param model: trained network ``model(y, physics)``, or ``None`` for the zero-filled baseline.
    :param RunData data: the device, the slices (:class:`ddei.data.dataset.CineSliceDataset`) and the physics.
    :param Run run: the run the rows name (its method, acceleration and seed).
    :param SavedRecon recon: the reconstructions to keep (``None``: none).
    :param bool progress: show a progress bar.
    :return: one row per slice with the columns :data:`COLUMNS`.
    """
    dataset, physics, device = data.dataset, data.physics, data.device
    method, acceleration, seed = run.cfg.method, run.acceleration, run.seed
    metrics = metric_functions()
    versions = versions_of([__name__])
    if model is not None:
        model.to(device).eval()
    rows, saved, with_truth = [], {}, 0
    for i in tqdm(
        range(len(dataset)),
        desc=f"evaluate {method} x{acceleration}",
        disable=not progress,
        mininterval=1.0 if sys.stderr.isatty() else 30.0,
    ):
        sample = dataset[i]
        x = sample["x"][None].to(device)
        y = sample["y"][None].to(device)
        physics.update(mask=sample["params"]["mask"][None].to(device))
        x_hat = physics.A_adjoint(y) if model is None else model(y, physics)
        rec = dataset.record(i)
        truth = bool(sample.get("truth", True))  # an acquired scan without a fully sampled twin: no metric
        if truth:
            row = {"method": method, "acceleration": acceleration, "seed": seed}
            row |= {k: rec[k] for k in ("patient", "view", "slice")}
            row |= {name: float(fn(x_hat, x).mean()) for name, fn in metrics.items()}
            row["versions"] = versions
            rows.append(row)
        if recon is not None and (
            recon.slices < 0 or i < recon.slices or (truth and with_truth < recon.slices)
        ):
            key = slice_key(rec["patient"], rec["view"], rec["slice"])
            saved[key] = magnitude(x_hat)[0]
            if truth:
                saved[f"gt/{key}"] = magnitude(x)[0]
                with_truth += 1
    if recon is not None:
        atomic_write(recon.path, lambda tmp: _savez(tmp, saved))
    return pd.DataFrame(rows, columns=COLUMNS)


class ForeignModelError(ValueError):
    """A ``model.pt`` trained with another configuration or acceleration than the run that would use it; the message
    names the file, what differs and the command that rebuilds it."""


_RUN_ID = re.compile(r"-x(\d+)-seed\d+-[0-9a-f]+$")


def _differences(ours, theirs, prefix: str = "") -> list[str]:
    """``key: theirs, here ours`` for every leaf where two configuration dicts differ."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return [d for k in sorted({*ours, *theirs}, key=str)
                for d in _differences(ours.get(k), theirs.get(k), f"{prefix}.{k}" if prefix else str(k))]  # fmt: skip
    return [] if ours == theirs else [f"{prefix or 'value'}: {theirs!r} there, {ours!r} here"]


def check_trained_with(state: dict, cfg: RunConfig, model_path, acceleration: int | None = None) -> None:
    """Check that a ``model.pt``'s state was trained with the run's configuration (its weights config,
    :meth:`ddei.methods.config.RunConfig.weights_config`) and, if given, at its acceleration (the ``-x<acc>-`` of the
    state's ``run_id``).

    :param dict state: the loaded state (``cfg``, ``run_id``).
    :param RunConfig cfg: the configuration of the run that would use the model.
    :param model_path: the file, named by the message.
    :param int acceleration: the run's acceleration factor (``None``: not checked).
    :raises ForeignModelError: naming the file, what differs and the ``snakemake --forcerun`` that retrains it.
    """
    remedy = rebuild(model_path)  # retrains it, and reruns what uses it
    differs = _differences(cfg.weights_config(), RunConfig.from_dict(state["cfg"]).weights_config())
    if acceleration is not None:
        found = _RUN_ID.search(str(state.get("run_id", "")))
        trained_at = int(found.group(1)) if found else None
        if trained_at != int(acceleration):
            differs.insert(0, f"acceleration: {trained_at} there, {int(acceleration)} here")
    if differs:
        shown = "; ".join(differs[:6]) + (f"; and {len(differs) - 6} more" if len(differs) > 6 else "")
        raise ForeignModelError(
            f"{model_path} was trained with another configuration than this run's ({shown}); it is not this run's "
            f"model: rebuild it with `{remedy}`"
        )


def load_model(
    cfg: RunConfig, model_path, data: RunData, precision: str, acceleration: int | None = None
) -> torch.nn.Module:
    """A trained model of the workflow (or an external one, ``cfg.external``), ready to evaluate on ``data``'s
    device (the method's random components draw from its generator).

    :param RunConfig cfg: the configuration of the run that uses it; the file must have been trained with it.
    :param int acceleration: the run's acceleration; the file must have been trained at it (``None``: not checked).
    :raises ForeignModelError: the file was trained with another configuration or acceleration
        (:func:`check_trained_with`).
    """
    device = data.device
    if cfg.external is not None:
        from ddei.mri.models.reference import load_reference_state_dict

        net = load_reference_state_dict(cfg.external, device=device)
        return configure(net, precision, CHANNELS_LAST, False, device)
    remedy = rebuild(model_path)  # retrains it, and reruns what uses it
    state = load_state(model_path, ("state_dict",), remedy, map_location=device)
    check_trained_with(state, cfg, model_path, acceleration)
    net = build_network(cfg, precision, False, device)
    model, _ = method_of(cfg, net, data)
    model.load_state_dict(state["state_dict"])
    return model.to(device)


def evaluation_data(run: Run, precision: str = "fp32") -> RunData:
    """The test split of a run as an evaluation sees it: its randomness (t-ssdu*'s input splits) has its own stream,
    fixed by the seed.

    :param Run run: the run (its configuration, acceleration, seed and data).
    :param str precision: ``fp32`` or ``bf16`` (``evaluation.precision``).
    """
    return prepare(run, "test", precision, 10_000 + run.seed, "evaluation.precision")


@torch.no_grad()
def kspace_region_errors(run: Run, model_path: str | os.PathLike) -> pd.DataFrame:
    """A trained model's k-space error on each test slice, region by region (:func:`ddei.mri.metrics.kspace_errors`:
    the measured points, the unmeasured ones, and of those the ones another frame measured and the ones no frame
    did), in fp32.

    :param Run run: the run (its configuration, acceleration, seed and data).
    :param model_path: its trained model.
    :return: one row per test slice with ground truth: ``slice`` (its index in the test split) and one column per
        region.
    """
    data = evaluation_data(run)
    model = load_model(run.cfg, model_path, data, "fp32", run.acceleration).eval()
    rows = []
    for i in range(len(data.dataset)):
        sample = data.dataset[i]
        # an acquired scan without a fully sampled twin has no ground truth to compare with
        if not bool(sample.get("truth", True)):
            continue
        x, y, mask = (t[None].to(data.device) for t in (sample["x"], sample["y"], sample["params"]["mask"]))
        data.physics.update(mask=mask)
        x_hat = model(y, data.physics)
        data.physics.update(mask=torch.ones_like(mask))  # the whole k-space
        k_hat, k = data.physics.A(x_hat), data.physics.A(x)
        arrays = (a.cpu().numpy() for a in (k_hat, k, y, mask))
        # deepinv's dynamic MRI layout: (batch, real/imaginary, frames, H, W)
        rows.append({"slice": i, **kspace_errors(*arrays, time_dim=2)})
    return pd.DataFrame(rows, columns=["slice", *KSPACE_REGIONS])


def run_evaluation(
    run: Run,
    model_path: str | os.PathLike | None,
    metrics_out: str | os.PathLike,
    recon: SavedRecon | None = None,
    precision: str = "fp32",
    progress: bool = True,
) -> pd.DataFrame:
    """Evaluate a trained model, an external one, or the zero-filled baseline (``cfg.method == "zf"``) on the
    test split, and write its metrics to ``metrics_out``, with its record beside it
    (:func:`ddei.provenance.records.write_record`).

    :param Run run: the method's resolved configuration, the acceleration, the model's seed and the data.
    :param model_path: the trained weights (``None`` for the zero-filled baseline and external models).
    :param SavedRecon recon: the reconstructions to keep for the figures.
    :param str precision: ``fp32`` or ``bf16`` for the network (``evaluation.precision``).
    """
    cfg = run.cfg
    data = evaluation_data(run, precision)
    model = None
    if cfg.external is not None or lookup(cfg.base).trained:
        model = load_model(cfg, model_path, data, precision, run.acceleration)
    df = evaluate(model, data, run, recon, progress)
    atomic_write(metrics_out, lambda tmp: df.to_csv(tmp, index=False))
    write_record(metrics_out)  # checked by collect_metrics
    return df


def _savez(path: Path, arrays: dict) -> None:
    with open(path, "wb") as f:  # a file object: numpy would append .npz to the temporary name
        np.savez_compressed(f, **arrays)
