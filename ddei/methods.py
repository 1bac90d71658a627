"""The methods compared in the paper, as deepinv losses around a reconstruction network.

Names follow the reference ``train.py``:

=============== ==================================================================================
``ddei``        measurement consistency (MC) + equivariant imaging over diffeomorphisms, rotations and
                temporal shifts (the paper's method)
``ei-r``        MC + equivariant imaging over rotations only
``t-ssdu``      SSDU-style measurement splitting (split ratio 0.6, Gaussian splitting masks)
``t-ssdu*``     the same, splitting the input at test time too and averaging 5 splits
``phase2phase`` temporal splitting into even/odd frames (Phase2Phase)
``sup``         supervised oracle (needs ground truth)
``zf``          zero-filled :math:`A^H y`, no training
=============== ==================================================================================

With measurement noise (``noise_sigma > 0``) the ``-sure`` variants of ``ddei`` and ``ei-r`` replace MC by
Stein's unbiased risk estimate, interleaved with EI as in the reference code.
"""

from __future__ import annotations

import torch
from torch import nn

import ddei  # noqa: F401  (torchvision shim before deepinv)
from ddei.transforms import ddei_transform, rotate_transform

SUPERVISED = ("sup",)
UNSUPERVISED = ("ddei", "ei-r", "t-ssdu", "t-ssdu*", "phase2phase")
SURE = ("ddei-sure", "ei-r-sure")
TRAINED = SUPERVISED + UNSUPERVISED + SURE
METHODS = TRAINED + ("zf",)

#: Display names used in tables and figures.
LABELS = {
    "zf": "Zero-filled",
    "sup": "Supervised (oracle)",
    "ddei": "DDEI (ours)",
    "ei-r": "EI-rotate",
    "t-ssdu": "T-SSDU",
    "t-ssdu*": "T-SSDU*",
    "phase2phase": "Phase2Phase",
    "ddei-sure": "DDEI + SURE",
    "ei-r-sure": "EI-rotate + SURE",
}


def device_rng(rng: torch.Generator, device: str | torch.device) -> torch.Generator:
    """A generator on ``device`` seeded from ``rng`` (deepinv's mask generators need one on their device).

    :param torch.Generator rng: the run's CPU generator.
    :param device: torch device.
    """
    device = torch.device(device)
    if device.type == rng.device.type:
        return rng
    seed = int(torch.randint(0, 2**62, (1,), generator=rng))
    return torch.Generator(device).manual_seed(seed)


def generators(rng: torch.Generator, losses: list[nn.Module]) -> list[torch.Generator]:
    """Every generator a run draws from: ``rng`` and those of the losses' mask generators (saved on resume)."""
    found = [rng]
    for loss in losses:
        g = getattr(getattr(loss, "mask_generator", None), "rng", None)
        if isinstance(g, torch.Generator) and all(g is not f for f in found):
            found.append(g)
    return found


def build_method(
    name: str,
    model: nn.Module,
    img_size: tuple[int, int, int, int],
    rng: torch.Generator,
    noise_sigma: float = 0.0,
    split_ratio: float = 0.6,
    eval_n_samples: int = 5,
    transform_mode: str = "fixed",
    device: str | torch.device = "cpu",
) -> tuple[nn.Module, list[nn.Module]]:
    """The losses of a method, and the model adapted to it (splitting methods wrap the model).

    :param str name: one of :data:`TRAINED`.
    :param torch.nn.Module model: reconstruction network ``model(y, physics)``.
    :param tuple img_size: ``(C, T, H, W)`` of one sample.
    :param torch.Generator rng: the generator every random component draws from (transforms, splitting masks,
        SURE's probe), so a run is reproducible from its seed.
    :param float noise_sigma: measurement noise level (needed by the SURE variants).
    :param float split_ratio: fraction of measurements kept at the input by the splitting methods.
    :param int eval_n_samples: splits averaged at test time by ``t-ssdu*``.
    :param str transform_mode: ``"fixed"`` or ``"upstream"`` DDEI transform (see :func:`ddei.transforms.ddei_transform`).
    :param device: torch device.
    :return: ``(model, losses)``.
    """
    import deepinv as dinv
    from deepinv.loss.mri import Phase2PhaseLoss
    from deepinv.physics.generator import GaussianSplittingMaskGenerator

    if name not in TRAINED:
        raise ValueError(
            f"Unknown method {name!r}; trained methods are {TRAINED} (and 'zf', which is not trained)"
        )
    if name in SURE:
        if noise_sigma <= 0:
            raise ValueError(f"{name} needs noise_sigma > 0 (SURE estimates the risk under Gaussian noise)")
        mc = dinv.loss.SureGaussianLoss(sigma=noise_sigma, tau=0.1, rng=rng)
    else:
        mc = dinv.loss.MCLoss()
    base = name.removesuffix("-sure")

    if base == "sup":
        losses = [dinv.loss.SupLoss()]
    elif base == "ei-r":
        losses = [mc, dinv.loss.EILoss(rotate_transform(rng=rng))]
    elif base == "ddei":
        losses = [mc, dinv.loss.EILoss(ddei_transform(mode=transform_mode, rng=rng, device=device))]
    elif base in ("t-ssdu", "t-ssdu*"):
        splitter = GaussianSplittingMaskGenerator(
            img_size, split_ratio=split_ratio, device=device, rng=device_rng(rng, device)
        )
        loss = dinv.loss.SplittingLoss(
            split_ratio=split_ratio,
            mask_generator=splitter,
            eval_split_input=base.endswith("*"),
            eval_n_samples=eval_n_samples,
        )
        losses, model = [loss], loss.adapt_model(model)
    else:  # phase2phase
        loss = Phase2PhaseLoss(img_size, dynamic_model=True, device=device)
        loss.mask_generator.rng = device_rng(rng, device)
        losses, model = [loss], loss.adapt_model(model)

    if name in SURE:  # SURE and EI in one step do not fit in memory at paper scale: alternate them
        losses = [dinv.loss.InterleavedLossScheduler(*losses)]
    return model, losses
