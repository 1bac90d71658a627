"""What a training run and an evaluation share: a run's device, data, physics, network and losses, built from its
typed configuration (:class:`ddei.methods.config.RunConfig`, resolved per method by
:func:`ddei.methods.config.method_config`), and its identity.

:mod:`ddei.runs.training` and :mod:`ddei.runs.evaluation` both build on this module and neither imports the
other, so that an edit of the evaluation reruns no training (:mod:`ddei.provenance.fingerprints`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

import ddei  # noqa: F401
from ddei.data.dataset import CineSliceDataset
from ddei.io.layout import INDEX, SPLIT
from ddei.methods.config import RunConfig
from ddei.methods.registry import Method, lookup
from ddei.mri import losses
from ddei.mri.models import build_model
from ddei.mri.precision import check_precision, configure
from ddei.provenance.fingerprints import code_fingerprint, files_digest

#: 2D convolutions in NHWC memory format where the configuration does not say (``training.channels_last``):
#: faster on the GPU's tensor cores, and on some CPUs, slower on others (``benchmarks/bench_cpu_speed.py``).
CHANNELS_LAST = True


def training_code() -> str:
    """Fingerprint of the ``ddei`` code a training run executes (:func:`ddei.provenance.fingerprints.code_fingerprint`)."""
    return code_fingerprint(["ddei.runs.training"])


def data_digest(dataset: CineSliceDataset) -> str:
    """Content hash of the data a run learns from: the slice index (with each slice's statistics), the patient
    split and the mask files of its acceleration."""
    extract_dir = Path(dataset.extract_dir)
    return files_digest([extract_dir / INDEX, extract_dir / SPLIT, dataset.mask_root / dataset.mask_folder])


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


@dataclass(frozen=True)
class Run:
    """One run of the grid: a method's configuration at one acceleration and seed, and the data it reads.

    :param RunConfig cfg: the method's resolved configuration.
    :param int acceleration: acceleration factor.
    :param int seed: the run's seed (training) or the trained model's (evaluation).
    :param extract_dir: the extraction (``slices/``, ``index.csv``, ``split.csv``).
    :param mask_root: the folder of the mask folders.
    """

    cfg: RunConfig
    acceleration: int
    seed: int
    extract_dir: str | os.PathLike
    mask_root: str | os.PathLike

    def __post_init__(self):
        object.__setattr__(self, "extract_dir", Path(self.extract_dir))
        object.__setattr__(self, "mask_root", Path(self.mask_root))

    def dataset(self, split: str, ground_truth: bool = True) -> CineSliceDataset:
        """The slices of one split (``train``, ``val`` or ``test``) as the run's method sees them.

        :param bool ground_truth: read the fully sampled images (see :class:`ddei.data.dataset.CineSliceDataset`).
        """
        cfg = self.cfg
        return CineSliceDataset(
            self.extract_dir,
            split=split,
            mask_root=self.mask_root,
            acceleration=self.acceleration,
            img_size=cfg.image_size,
            normalisation=cfg.normalisation,
            noise_sigma=cfg.noise_sigma,
            noise_seed=self.seed,
            ground_truth=ground_truth,
        )


@dataclass(frozen=True)
class RunData:
    """What a run computes on.

    :param torch.device device: the run's device.
    :param dataset: the slices of one split (:class:`ddei.data.dataset.CineSliceDataset`, or any dataset of dict
        samples ``{"x", "y", "params": {"mask"}}``); ``None`` where the run reads scans of its own.
    :param int frames: the frames of a sample.
    :param physics: :class:`deepinv.physics.DynamicMRI`, its mask set per sample (``None`` without a dataset).
    :param torch.Generator rng: the generator the method's random components (and the noise) draw from.
    """

    device: torch.device | str
    dataset: torch.utils.data.Dataset | None
    frames: int
    physics: torch.nn.Module | None
    rng: torch.Generator


def prepare(run: Run, split: str, precision: str, rng_seed: int, key: str = "training.precision") -> RunData:
    """The set-up a training run and an evaluation share: threads and device, a check of the precision on it, the
    split's slices and the operator.

    :param str split: ``train``, ``val`` or ``test``.
    :param str precision: ``fp32`` or ``bf16``.
    :param int rng_seed: seed of the generator the method and the noise draw from.
    :param str key: the config key of ``precision``, named if the device cannot run it.
    """
    device = setup(run.cfg)
    check_precision(precision, device, key)
    rng = torch.Generator(device="cpu").manual_seed(rng_seed)
    dataset = run.dataset(split)
    frames = frames_of(dataset)
    physics = make_physics(img_size(run.cfg, frames), run.cfg.noise_sigma, rng, device)
    return RunData(device, dataset, frames, physics, rng)


def build_network(cfg: RunConfig, precision: str, compile: bool, device) -> torch.nn.Module:
    """The configured network of a run (:func:`ddei.mri.models.build_model`, :func:`ddei.mri.precision.configure`)."""
    spec = cfg.model
    kwargs = (
        {"num_cascades": spec.cascades, "chans": spec.chans} if spec.name == "crnn" else {"chans": spec.chans}
    )
    net = build_model(spec.name, **kwargs).to(device)
    channels_last = cfg.training.channels_last if cfg.training is not None else CHANNELS_LAST
    return configure(net, precision, channels_last, compile, device)


def method_of(cfg: RunConfig, net: nn.Module, data: RunData) -> tuple[nn.Module, list[nn.Module]]:
    """The configured method of a run on its data: the model adapted to it, and its losses (:func:`build_method`)."""
    context = losses.LossContext(
        img_size(cfg, data.frames), data.rng, float(cfg.noise_sigma), dict(cfg.settings), data.device
    )
    return build_method(lookup(cfg.base), net, context)


def frames_of(dataset: CineSliceDataset) -> int:
    return int(dataset.index["frames"].iloc[0])


def setup(cfg: RunConfig) -> torch.device:
    torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return device


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

    from ddei.mri.physics import DynamicMRI

    physics = DynamicMRI(img_size=(1, *img_size), device=device)
    if noise_sigma > 0:
        physics.noise_model = dinv.physics.GaussianNoise(sigma=noise_sigma, rng=rng)
    return physics


def build_method(
    method: Method, model: nn.Module, context: losses.LossContext
) -> tuple[nn.Module, list[nn.Module]]:
    """The losses of a method, and the model adapted to it (splitting methods wrap the model).

    :param Method method: a trained method (see :data:`METHODS`, :func:`variant`).
    :param torch.nn.Module model: reconstruction network ``model(y, physics)``.
    :param LossContext context: image size, generator, noise level (the SURE methods need it), the method's
        settings (every key of ``method.settings``) and device.
    :return: ``(model, losses)``.
    """
    if not method.trained:
        raise ValueError(f"{method.name!r} is not a trained method")
    if method.needs_noise and context.noise_sigma <= 0:
        raise ValueError(
            f"{method.name} needs noise_sigma > 0 (SURE estimates the risk under Gaussian noise)"
        )
    missing = [k for k in method.settings if k not in context.settings]
    if missing:
        raise KeyError(f"{method.name} needs the settings {missing}")
    function, args = method.build
    return losses.builder(function, *args)(model, context)
