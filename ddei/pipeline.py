"""The steps of the workflow as functions of a resolved per-run configuration.

The Snakemake scripts in ``workflow/scripts/`` only unpack ``snakemake.input/output/params`` and call these, so the
same steps can be run from Python or tests. A run configuration (``cfg``) is the dict the workflow resolves per
method (``workflow/rules/common.smk: method_config``)::

    {"model": {"name", "cascades", "chans"},
     "training": {"epochs", "steps_per_epoch", "lr", "batch_size", "device", "threads", ...},
     "transform_mode", "split_ratio", "eval_n_samples", "image_size", "normalisation", "noise_sigma"}
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import torch

import ddei  # noqa: F401
from ddei.data.dataset import CineSliceDataset
from ddei.evaluation import evaluate
from ddei.methods import build_method
from ddei.models import build_model
from ddei.training import TrainSettings, make_physics, pick_device, train


def run_id(method: str, acceleration: int, seed: int, cfg: dict) -> str:
    """Identifier of a training run: method, acceleration, seed and a hash of its configuration."""
    digest = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:12]
    return f"{method}-x{acceleration}-seed{seed}-{digest}"


def _img_size(cfg: dict, frames: int) -> tuple[int, int, int, int]:
    return (2, frames, *cfg["image_size"])


def _dataset(extract_dir, split, mask_root, acceleration, cfg, seed) -> CineSliceDataset:
    return CineSliceDataset(
        extract_dir,
        split=split,
        mask_root=mask_root,
        acceleration=acceleration,
        img_size=tuple(cfg["image_size"]),
        normalisation=cfg["normalisation"],
        noise_sigma=cfg["noise_sigma"],
        noise_seed=seed,
    )


def _model(method: str, cfg: dict, frames: int, rng: torch.Generator, device) -> tuple[torch.nn.Module, list]:
    spec = dict(cfg["model"])
    name = spec.pop("name")
    kwargs = (
        {"num_cascades": spec["cascades"], "chans": spec["chans"]}
        if name == "crnn"
        else {"chans": spec["chans"]}
    )
    model = build_model(name, **kwargs)
    return build_method(
        method,
        model,
        _img_size(cfg, frames),
        rng=rng,
        noise_sigma=cfg["noise_sigma"],
        split_ratio=cfg.get("split_ratio", 0.6),
        eval_n_samples=cfg.get("eval_n_samples", 5),
        transform_mode=cfg.get("transform_mode", "fixed"),
        device=device,
    )


def _frames(dataset: CineSliceDataset) -> int:
    return int(dataset.index["frames"].iloc[0])


def run_training(
    method: str,
    acceleration: int,
    seed: int,
    cfg: dict,
    extract_dir: str | os.PathLike,
    mask_root: str | os.PathLike,
    model_out: str | os.PathLike,
    log_csv: str | os.PathLike,
    checkpoint: str | os.PathLike,
    progress: bool = True,
) -> None:
    """Train one method at one acceleration and seed; write the weights to ``model_out``.

    Resumes from ``checkpoint`` if it belongs to the same run (see :func:`ddei.training.train`).
    """
    tr = cfg["training"]
    torch.set_num_threads(int(tr.get("threads", 1)))
    device = pick_device(tr.get("device", "auto"))
    rng = torch.Generator(device="cpu").manual_seed(seed)
    dataset = _dataset(extract_dir, "train", mask_root, acceleration, cfg, seed)
    frames = _frames(dataset)
    torch.manual_seed(seed)  # the network's initial weights
    model, losses = _model(method, cfg, frames, rng, device)
    physics = make_physics(_img_size(cfg, frames), cfg["noise_sigma"], rng, device)
    settings = TrainSettings(
        epochs=tr["epochs"],
        lr=tr["lr"],
        batch_size=tr["batch_size"],
        seed=seed,
        steps_per_epoch=tr.get("steps_per_epoch", 0),
    )
    rid = run_id(method, acceleration, seed, cfg)
    model = train(model, losses, dataset, physics, rng, settings, checkpoint, log_csv, device, rid, progress)
    model_out = Path(model_out)
    model_out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"run_id": rid, "method": method, "cfg": cfg, "state_dict": model.state_dict()}, model_out)


def run_evaluation(
    method: str,
    acceleration: int,
    seed: int,
    cfg: dict,
    extract_dir: str | os.PathLike,
    mask_root: str | os.PathLike,
    model_path: str | os.PathLike | None,
    metrics_out: str | os.PathLike,
    recon_out: str | os.PathLike,
    save_recon: int = 2,
    progress: bool = True,
) -> pd.DataFrame:
    """Evaluate a trained model (or the zero-filled baseline when ``method == "zf"``) on the test split."""
    tr = cfg["training"]
    torch.set_num_threads(int(tr.get("threads", 1)))
    device = pick_device(tr.get("device", "auto"))
    dataset = _dataset(extract_dir, "test", mask_root, acceleration, cfg, seed)
    frames = _frames(dataset)
    # evaluation randomness (t-ssdu* input splits) gets its own stream, fixed by the seed
    rng = torch.Generator(device="cpu").manual_seed(10_000 + seed)
    physics = make_physics(_img_size(cfg, frames), cfg["noise_sigma"], rng, device)
    model = None
    if method != "zf":
        model, _ = _model(method, cfg, frames, rng, device)
        state = torch.load(model_path, map_location=device, weights_only=False)
        model.load_state_dict(state["state_dict"])
        model.to(device)
    df = evaluate(
        model, dataset, physics, method, acceleration, seed, device, recon_out, save_recon, progress
    )
    metrics_out = Path(metrics_out)
    metrics_out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(metrics_out, index=False)
    return df
