"""The losses of the methods compared in the paper, built from deepinv: one builder per method.

A builder takes the reconstruction network and a :class:`LossContext` and returns the model adapted to the method
(the splitting methods wrap it) and its list of losses, summed at every training step. The registry of methods
(:mod:`ddei.methods.registry`) names them; this module knows no method names, configuration or workflow.

deepinv is imported when a builder runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class LossContext:
    """What a method's loss builder needs besides the network.

    :param tuple img_size: ``(C, T, H, W)`` of one sample.
    :param torch.Generator rng: the generator every random component draws from (transforms, splitting masks,
        SURE's probe), so that a run is reproducible from its seed.
    :param float noise_sigma: measurement noise level.
    :param dict settings: the method's own settings (the settings the method reads).
    :param device: torch device.
    """

    img_size: tuple[int, int, int, int]
    rng: torch.Generator
    noise_sigma: float
    settings: Mapping
    device: str | torch.device


#: ``build(model, context) -> (model, losses)``: the losses of a method and the model adapted to it.
Builder = Callable[["nn.Module", LossContext], "tuple[nn.Module, list[nn.Module]]"]


def consistency(ctx: LossContext, sure: bool):
    import deepinv as dinv

    if sure:
        return dinv.loss.SureGaussianLoss(sigma=ctx.noise_sigma, tau=0.1, rng=ctx.rng)
    return dinv.loss.MCLoss()


def builder(name: str, *args) -> Builder:
    """The builder called ``name`` (one of :data:`BUILDERS`), given its arguments if it takes any.

    :param str name: ``supervised``, ``phase2phase``, ``equivariant`` or ``splitting``.
    :param args: the arguments of a builder factory (``equivariant(group, sure)``, ``splitting(eval_split)``).
    """
    if name not in BUILDERS:
        raise ValueError(f"unknown loss builder {name!r}; choose one of {BUILDERS}")
    function = globals()[name]
    return function(*args) if name in FACTORIES else function


def supervised(model, ctx):
    import deepinv as dinv

    return model, [dinv.loss.SupLoss()]


def equivariant(group: str, sure: bool) -> Builder:
    """MC (or SURE) + EI over ``group`` (``"rotate"`` or ``"ddei"``)."""

    def build(model, ctx):
        import deepinv as dinv

        from ddei.mri.transforms import ddei_transform, rotate_transform

        if group == "ddei":
            transform = ddei_transform(mode=ctx.settings["transform_mode"], rng=ctx.rng, device=ctx.device)
        else:
            transform = rotate_transform(rng=ctx.rng)
        losses = [consistency(ctx, sure), dinv.loss.EILoss(transform)]
        # SURE and EI in one step do not fit in memory at paper scale: alternate them (as the reference does)
        if sure:
            losses = [dinv.loss.InterleavedLossScheduler(*losses)]
        return model, losses

    return build


def device_rng(rng: torch.Generator, device: str | torch.device) -> torch.Generator:
    """A generator on ``device`` seeded from ``rng`` (deepinv's mask generators need one on their device).

    :param torch.Generator rng: the run's CPU generator.
    :param device: torch device.
    """
    import torch

    device = torch.device(device)
    if device.type == rng.device.type:
        return rng
    seed = int(torch.randint(0, 2**62, (1,), generator=rng))
    return torch.Generator(device).manual_seed(seed)


def splitting(eval_split_input: bool) -> Builder:
    def build(model, ctx):
        import deepinv as dinv
        from deepinv.physics.generator import GaussianSplittingMaskGenerator

        ratio = ctx.settings["split_ratio"]
        splitter = GaussianSplittingMaskGenerator(
            ctx.img_size, split_ratio=ratio, device=ctx.device, rng=device_rng(ctx.rng, ctx.device)
        )
        loss = dinv.loss.SplittingLoss(
            split_ratio=ratio,
            mask_generator=splitter,
            eval_split_input=eval_split_input,
            eval_n_samples=ctx.settings["eval_n_samples"] if eval_split_input else 1,
        )
        return loss.adapt_model(model), [loss]

    return build


def phase2phase(model, ctx):
    from deepinv.loss.mri import Phase2PhaseLoss

    loss = Phase2PhaseLoss(ctx.img_size, dynamic_model=True, device=ctx.device)
    loss.mask_generator.rng = device_rng(ctx.rng, ctx.device)
    return loss.adapt_model(model), [loss]


def generators(rng: torch.Generator, losses: list[nn.Module]) -> list[torch.Generator]:
    """Every generator a run draws from: ``rng`` and those of the losses' mask generators (saved on resume)."""
    import torch

    found = [rng]
    for loss in losses:
        g = getattr(getattr(loss, "mask_generator", None), "rng", None)
        if isinstance(g, torch.Generator) and all(g is not f for f in found):
            found.append(g)
    return found


#: The builders, by name: plain builders and factories that return one given their arguments.
BUILDERS = ("supervised", "phase2phase", "equivariant", "splitting")
FACTORIES = ("equivariant", "splitting")
