"""Evaluation on the test split: PSNR, SSIM and NMSE per slice, as the paper computes them.

Metrics are deepinv's, on the magnitude of the complex image (``complex_abs=True``) of the whole padded,
normalised frame series, with ``max_pixel=None`` (the peak of each ground truth), exactly as the reference
``train.py`` configures them. The zero-filled baseline :math:`A^H y` goes through the same code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

import ddei  # noqa: F401

COLUMNS = ["method", "acceleration", "seed", "patient", "view", "slice", "psnr", "ssim", "nmse"]


def metric_functions() -> dict:
    """deepinv's PSNR, SSIM and NMSE on magnitudes, as configured by the paper."""
    import deepinv as dinv

    return {
        "psnr": dinv.metric.PSNR(max_pixel=None, complex_abs=True),
        "ssim": dinv.metric.SSIM(max_pixel=None, complex_abs=True),
        "nmse": dinv.metric.NMSE(complex_abs=True),
    }


def magnitude(x: torch.Tensor) -> np.ndarray:
    """``(B, 2, T, H, W)`` to the magnitude ``(B, T, H, W)`` as float32 numpy."""
    return x.detach().pow(2).sum(1).sqrt().cpu().numpy().astype(np.float32)


@torch.no_grad()
def evaluate(
    model: nn.Module | None,
    dataset,
    physics,
    method: str,
    acceleration: int,
    seed: int,
    device: torch.device | str = "cpu",
    recon_path: str | os.PathLike | None = None,
    save_recon: int = 2,
    progress: bool = True,
) -> pd.DataFrame:
    """Reconstruct every test slice and compute its metrics.

    :param model: trained network ``model(y, physics)``, or ``None`` for the zero-filled baseline.
    :param dataset: :class:`ddei.data.dataset.CineSliceDataset` of the test split.
    :param physics: :class:`deepinv.physics.DynamicMRI`.
    :param str method: method name written in the table.
    :param int acceleration: acceleration factor.
    :param int seed: training seed of the model.
    :param device: torch device.
    :param recon_path: if given, an ``.npz`` with the magnitudes of the first ``save_recon`` slices (keys
        ``<patient>_<view>_s<slice>``), and their ground truth under ``gt/...``, for figures.
    :param int save_recon: how many slices to save (``-1``: all).
    :param bool progress: show a progress bar.
    :return: one row per slice with the columns :data:`COLUMNS`.
    """
    metrics = metric_functions()
    if model is not None:
        model.to(device).eval()
    rows, recon = [], {}
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
        row = {"method": method, "acceleration": acceleration, "seed": seed}
        row |= {k: rec[k] for k in ("patient", "view", "slice")}
        row |= {name: float(fn(x_hat, x).mean()) for name, fn in metrics.items()}
        rows.append(row)
        if recon_path is not None and (save_recon < 0 or i < save_recon):
            key = f"{rec['patient']}_{rec['view']}_s{rec['slice']}"
            recon[key] = magnitude(x_hat)[0]
            recon[f"gt/{key}"] = magnitude(x)[0]
    if recon_path is not None:
        recon_path = Path(recon_path)
        recon_path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(recon_path, **recon)
    return pd.DataFrame(rows, columns=COLUMNS)
