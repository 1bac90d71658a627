"""Training runs of the workflow, as functions of a typed run configuration, and what evaluation shares with them.

The Snakemake scripts in ``workflow/scripts/`` only unpack ``snakemake.input/output/params`` and call
:func:`run_training` (and :func:`ddei.evaluation.run_evaluation`), so the same steps can be run from Python or
tests. A run is configured by a :class:`ddei.config.RunConfig`, built from the dict the workflow resolves per method
(:func:`ddei.config.method_config`). This module does not import :mod:`ddei.evaluation`, so that an edit of the
evaluation reruns no training (:mod:`ddei.provenance`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

import ddei  # noqa: F401
from ddei.config import ConfigError, RunConfig
from ddei.data.dataset import CineSliceDataset
from ddei.masks import mask_folder_name
from ddei.methods import build_method, lookup
from ddei.models import build_model
from ddei.precision import check_precision, configure, warm_up
from ddei.provenance import code_fingerprint, files_digest
from ddei.training import RunFiles, make_physics, pick_device, train

#: 2D convolutions in NHWC memory format, on every device: faster on the GPU's tensor cores and with oneDNN on
#: the CPU (``benchmarks/bench_train_step.py``).
CHANNELS_LAST = True


def training_code() -> str:
    """Fingerprint of the ``ddei`` code a training run executes (:func:`ddei.provenance.code_fingerprint`)."""
    return code_fingerprint([__name__])


def data_digest(extract_dir: str | os.PathLike, mask_root: str | os.PathLike, acceleration: int) -> str:
    """Content hash of the data a run learns from: the slice index (with each slice's statistics), the patient
    split and the mask files of its acceleration."""
    extract_dir = Path(extract_dir)
    return files_digest(
        [
            extract_dir / "index.csv",
            extract_dir / "split.csv",
            Path(mask_root) / mask_folder_name(acceleration),
        ]
    )


def run_identity(cfg: RunConfig, acceleration: int, seed: int, data: str, code: str) -> str:
    """Identity of a training run: everything that determines its weights.

    :param RunConfig cfg: the method's resolved configuration.
    :param int acceleration: acceleration factor.
    :param int seed: training seed.
    :param str data: :func:`data_digest` of its data.
    :param str code: :func:`training_code` (or the rule's code fingerprint).
    :return: ``<method>-x<acc>-seed<seed>-<hash>``.
    """
    blob = json.dumps({"cfg": cfg.to_dict(), "data": data, "code": code}, sort_keys=True)
    digest = hashlib.sha256(blob.encode()).hexdigest()[:12]
    return f"{cfg.method}-x{acceleration}-seed{seed}-{digest}"


def img_size(cfg: RunConfig, frames: int) -> tuple[int, int, int, int]:
    return (2, frames, *cfg.image_size)


def cine_dataset(extract_dir, split, mask_root, acceleration, cfg: RunConfig, seed) -> CineSliceDataset:
    return CineSliceDataset(
        extract_dir,
        split=split,
        mask_root=mask_root,
        acceleration=acceleration,
        img_size=cfg.image_size,
        normalisation=cfg.normalisation,
        noise_sigma=cfg.noise_sigma,
        noise_seed=seed,
    )


def build_network(cfg: RunConfig, precision: str, compile: bool, device) -> torch.nn.Module:
    """The configured network of a run (:func:`ddei.models.build_model`, :func:`ddei.precision.configure`)."""
    spec = cfg.model
    kwargs = (
        {"num_cascades": spec.cascades, "chans": spec.chans} if spec.name == "crnn" else {"chans": spec.chans}
    )
    net = build_model(spec.name, **kwargs).to(device)
    return configure(net, precision, CHANNELS_LAST, compile, device)


def method_of(cfg: RunConfig, net, frames, rng, device):
    return build_method(
        lookup(cfg.base), net, img_size(cfg, frames), rng, cfg.noise_sigma, cfg.settings, device
    )


def frames_of(dataset: CineSliceDataset) -> int:
    return int(dataset.index["frames"].iloc[0])


def setup(cfg: RunConfig) -> torch.device:
    torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return device


def validation_of(cfg: RunConfig, extract_dir, mask_root, acceleration: int, seed: int, frames: int, device):
    """The run's :class:`ddei.validation.Validation` on the ``val`` patients, or ``None`` if validation is off.

    :raises ConfigError: validation is on but the split has no validation patient.
    """
    if not cfg.training.validate_every:
        return None
    from ddei.data.extract import load_index
    from ddei.validation import Validation

    if not (load_index(extract_dir)["split"] == "val").any():
        raise ConfigError(
            f"training.validate_every is {cfg.training.validate_every} but {Path(extract_dir) / 'split.csv'} has "
            "no validation patient: raise data.val_fraction (or add patients), or set training.validate_every: "
            "false"
        )
    dataset = cine_dataset(extract_dir, "val", mask_root, acceleration, cfg, seed)
    rng = torch.Generator(device="cpu").manual_seed(seed)  # never drawn from: the model's inputs are fixed
    return Validation(dataset, make_physics(img_size(cfg, frames), cfg.noise_sigma, rng, device), device)


def run_training(
    cfg: RunConfig,
    acceleration: int,
    seed: int,
    extract_dir: str | os.PathLike,
    mask_root: str | os.PathLike,
    model_out: str | os.PathLike,
    files: RunFiles,
    code: str | None = None,
    progress: bool = True,
) -> str:
    """Train one method at one acceleration and seed; write the weights to ``model_out``.

    Resumes from ``files.checkpoint`` only if it holds an interrupted run of the same identity
    (:func:`run_identity`); the checkpoint is removed once the weights are written.

    :param RunConfig cfg: the method's resolved configuration (a trained method).
    :param RunFiles files: checkpoint, loss log and validation log of the run.
    :param str code: fingerprint of the code (the rule's ``params.code``); ``None``: :func:`training_code`.
    :return: the run's identity.
    """
    tr = cfg.training
    device = setup(cfg)
    check_precision(tr.precision, device)
    rng = torch.Generator(device="cpu").manual_seed(seed)
    dataset = cine_dataset(extract_dir, "train", mask_root, acceleration, cfg, seed)
    frames = frames_of(dataset)
    validation = validation_of(cfg, extract_dir, mask_root, acceleration, seed, frames, device)
    rid = run_identity(
        cfg, acceleration, seed, data_digest(extract_dir, mask_root, acceleration), code or training_code()
    )
    torch.manual_seed(seed)  # the network's initial weights
    net = build_network(cfg, tr.precision, tr.compile, device)
    physics = make_physics(img_size(cfg, frames), cfg.noise_sigma, rng, device)
    if tr.compile:
        sample = dataset[0]
        physics.update(mask=sample["params"]["mask"][None].to(device))
        seconds = warm_up(net, sample["y"][None].to(device), physics)
        print(f"compiled the network in {seconds:.1f} s")
    model, losses = method_of(cfg, net, frames, rng, device)
    model = train(
        model, losses, dataset, physics, rng, tr,
        seed=seed, files=files, device=device, run_id=rid, validation=validation, progress=progress,
    )  # fmt: skip
    model_out = Path(model_out)
    model_out.parent.mkdir(parents=True, exist_ok=True)
    tmp = model_out.with_name(f".{model_out.name}.tmp")
    torch.save({"run_id": rid, "cfg": cfg.to_dict(), "state_dict": model.state_dict()}, tmp)
    os.replace(tmp, model_out)
    files.checkpoint.unlink(missing_ok=True)
    return rid
