"""The losses of the methods compared in the paper, built from deepinv: one builder per method.

A builder takes the reconstruction network and a :class:`LossContext` and returns the model adapted to the method
(the splitting methods wrap it) and its list of losses, summed at every training step. The registry of methods
(:mod:`ddei.methods.registry`) names them; this module knows no method names, configuration or workflow.

deepinv is imported when a builder runs.
"""

from __future__ import annotations

import math
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


#: The always-kept centre block of the reference's Gaussian splitting masks (deepinv's default, SSDU's
#: autocalibration region), and the image size it was sized for (the paper's 512x256).
REFERENCE_CENTRE_BLOCK = (8, 8)
REFERENCE_IMAGE_SIZE = (512, 256)


def centre_block(image_size: tuple[int, int], mode: str) -> tuple[int, int]:
    """The centre block that the Gaussian splitting masks always keep in the network's input.

    :param tuple image_size: ``(H, W)`` of the images.
    :param str mode: ``reference`` (deepinv's 8x8, whatever the image size) or ``scaled`` (the same fraction of
        the image as 8x8 is of 512x256, rounded half up, at least one point: 1x1 at 32x32, 1x2 at 32x64).
    :return: ``(h, w)``, the block intended; :func:`split_mask_generator` hands deepinv the even block around it
        (2x2 for both examples), the only blocks deepinv keeps whole.
    """
    if mode == "reference":
        return REFERENCE_CENTRE_BLOCK
    if mode == "scaled":
        return tuple(
            max(1, math.floor(block * n / ref + 0.5))
            for block, n, ref in zip(REFERENCE_CENTRE_BLOCK, image_size, REFERENCE_IMAGE_SIZE, strict=True)
        )
    raise ValueError(f"split_centre must be 'reference' or 'scaled', got {mode!r}")


def split_mask_generator(ctx: LossContext):
    """The generator of a splitting method's masks, from its settings ``split_ratio``, ``split_mask`` and
    ``split_centre``.

    - ``gaussian``: deepinv's :class:`~deepinv.physics.generator.GaussianSplittingMaskGenerator` (SSDU's): the
      points kept in the input are drawn with a Gaussian density over k-space, fewer near the centre, and the
      centre block (:func:`centre_block`) is always kept (an odd side widened by one, as deepinv keeps an even
      number of rows and columns: 2x2 around the k-space centre for 1x1).
    - ``uniform``: deepinv's :class:`~deepinv.physics.generator.BernoulliSplittingMaskGenerator`: every measured
      point is kept with the same probability.

    :param LossContext ctx: the method's context (``img_size``, ``rng``, ``device`` and the settings above).
    """
    from deepinv.physics.generator import BernoulliSplittingMaskGenerator, GaussianSplittingMaskGenerator

    settings = ctx.settings
    kwargs = dict(split_ratio=settings["split_ratio"], device=ctx.device, rng=device_rng(ctx.rng, ctx.device))
    if settings["split_mask"] == "uniform":
        return BernoulliSplittingMaskGenerator(ctx.img_size, **kwargs)
    if settings["split_mask"] == "gaussian":
        block = centre_block(tuple(ctx.img_size[-2:]), settings["split_centre"])
        # deepinv keeps the rows (columns) c - b // 2 to c + b // 2 - 1 around the centre c, an even number: an odd
        # side would lose a row (a 1x1 block, the k-space centre itself), so it is rounded up to the even one
        whole = tuple(side + side % 2 for side in block)
        return GaussianSplittingMaskGenerator(ctx.img_size, center_block=whole, **kwargs)
    raise ValueError(f"split_mask must be 'gaussian' or 'uniform', got {settings['split_mask']!r}")


def data_consistency(model: nn.Module, mode: str) -> nn.Module:
    r"""Set the data consistency of a splitting method's network (setting ``split_dc``).

    A splitting loss scores the network only on measured points that were held out of its input, where data
    consistency does not act; nothing trains the output at the points that were fed in. With the reference's
    learnable soft DC (``learned``: the CRNN's :math:`\lambda`, trained) the network's untrained k-space is mixed
    into the measurement at test time. ``hard`` fixes :math:`\lambda = 0` (the measured points are kept exactly)
    and freezes it. A network without a learnable DC weight (``lam``) is returned unchanged.

    :param torch.nn.Module model: the reconstruction network.
    :param str mode: ``learned`` or ``hard``.
    :return: the same network.
    """
    import torch

    if mode not in ("learned", "hard"):
        raise ValueError(f"split_dc must be 'learned' or 'hard', got {mode!r}")
    lam = getattr(model, "lam", None)
    if mode == "hard" and isinstance(lam, torch.nn.Parameter):
        with torch.no_grad():
            lam.zero_()
        lam.requires_grad_(False)
    return model


def splitting(eval_split_input: bool) -> Builder:
    def build(model, ctx):
        import deepinv as dinv

        model = data_consistency(model, ctx.settings["split_dc"])
        loss = dinv.loss.SplittingLoss(
            split_ratio=ctx.settings["split_ratio"],
            mask_generator=split_mask_generator(ctx),
            eval_split_input=eval_split_input,
            eval_n_samples=ctx.settings["eval_n_samples"] if eval_split_input else 1,
        )
        return loss.adapt_model(model), [loss]

    return build


def phase2phase(model, ctx):
    from deepinv.loss.mri import Phase2PhaseLoss

    model = data_consistency(model, ctx.settings["split_dc"])
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
