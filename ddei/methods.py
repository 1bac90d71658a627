"""The methods compared in the paper: one registry, the single definition of every method.

Each :class:`Method` holds everything the pipeline needs to know about a method: how its losses are built from
deepinv, which method-specific settings it reads, its display name, colour and marker, and whether it is
unsupervised. The workflow (which jobs exist, which settings are their parameters), the configuration checks, the
tables and the figures all derive from :data:`METHODS`; its order is the order of the results table.

=============== ==================================================================================
``zf``          zero-filled :math:`A^H y`, no training (baseline)
``phase2phase`` temporal splitting into even/odd frames (Phase2Phase)
``t-ssdu``      SSDU-style measurement splitting (Gaussian splitting masks)
``t-ssdu*``     T-SSDU's trained model, splitting the input at test time and averaging ``eval_n_samples`` splits
``ei-r``        measurement consistency (MC) + equivariant imaging over rotations only
``ei-r-sure``   ``ei-r`` with SURE in place of MC (needs ``noise_sigma > 0``)
``ddei``        MC + equivariant imaging over diffeomorphisms, rotations and temporal shifts (the paper's method)
``ddei-sure``   ``ddei`` with SURE in place of MC (needs ``noise_sigma > 0``)
``sup``         supervised oracle (needs ground truth)
=============== ==================================================================================

A *variant* (:func:`variant`) is a registered method under another name with other settings, e.g. DDEI with the
reference code's transform (``transform_mode: upstream``) as its own table row. An *external* model
(:func:`external`) is a trained network loaded from a file and evaluated like any method.

This module imports neither torch nor deepinv at import time (the report rules use it without the training
stack); the loss builders import them when called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn

#: Kinds of method, in the order of the results table's groups.
KINDS = ("baseline", "unsupervised", "external", "supervised")
#: Settings a method may read (each documented and defaulted in the config schema).
SETTINGS = ("transform_mode", "split_ratio", "eval_n_samples")
#: Colours for variants and external models, in order of appearance.
EXTRA_COLOURS = ("#8c564b", "#e377c2", "#7b4173", "#637939", "#393b79", "#843c39")


@dataclass(frozen=True)
class LossContext:
    """What a method's loss builder needs besides the network.

    :param tuple img_size: ``(C, T, H, W)`` of one sample.
    :param torch.Generator rng: the generator every random component draws from (transforms, splitting masks,
        SURE's probe), so that a run is reproducible from its seed.
    :param float noise_sigma: measurement noise level.
    :param dict settings: the method's own settings (the keys of :attr:`Method.settings`).
    :param device: torch device.
    """

    img_size: tuple[int, int, int, int]
    rng: torch.Generator
    noise_sigma: float
    settings: Mapping
    device: str | torch.device


#: ``build(model, context) -> (model, losses)``: the losses of a method and the model adapted to it.
Builder = Callable[["nn.Module", LossContext], "tuple[nn.Module, list[nn.Module]]"]


@dataclass(frozen=True)
class Method:
    """One method of the comparison.

    :param str name: name in the configuration and in file names (``*`` becomes ``-star`` there).
    :param str label: display name in tables and figures.
    :param str kind: one of :data:`KINDS`; only ``unsupervised`` methods are ranked in the tables.
    :param str colour: colour in every figure.
    :param build: loss builder (:data:`Builder`), ``None`` for methods that are not trained.
    :param tuple settings: the method-specific settings it reads (a subset of :data:`SETTINGS`).
    :param bool needs_noise: it needs ``noise_sigma > 0`` (SURE).
    :param str marker: matplotlib marker.
    :param bool dashed: drawn with a dashed line.
    :param str base: the registered method whose losses it uses (itself, except for variants).
    :param dict overrides: settings a variant changes (model, training and the keys of :data:`SETTINGS`).
    :param str trained_as: the registered method whose trained model it evaluates, when it differs from that
        method only at test time (``t-ssdu*``: T-SSDU's model, with test-time splits), so that the model is
        trained once; itself otherwise. Its ``settings`` that the training reads are those of ``trained_as``.
    """

    name: str
    label: str
    kind: str
    colour: str
    build: Builder | None = None
    settings: tuple[str, ...] = ()
    needs_noise: bool = False
    marker: str = "o"
    dashed: bool = False
    base: str = ""
    overrides: Mapping = field(default_factory=dict)
    trained_as: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if not self.base:
            object.__setattr__(self, "base", self.name)
        if not self.trained_as:
            object.__setattr__(self, "trained_as", self.name)

    @property
    def trained(self) -> bool:
        """Trained by the workflow (not the zero-filled baseline or an external model)."""
        return self.build is not None

    @property
    def unsupervised(self) -> bool:
        return self.kind == "unsupervised"

    @property
    def slug(self) -> str:
        """File-name form of the name (``t-ssdu*`` -> ``t-ssdu-star``)."""
        return slug(self.name)


def slug(name: str) -> str:
    """File-name form of a method name (``t-ssdu*`` -> ``t-ssdu-star``)."""
    return name.replace("*", "-star")


# --------------------------------------------------------------------------------------------------------------
# Loss builders (deepinv is imported when they run)
# --------------------------------------------------------------------------------------------------------------


def _consistency(ctx: LossContext, sure: bool):
    import deepinv as dinv

    if sure:
        return dinv.loss.SureGaussianLoss(sigma=ctx.noise_sigma, tau=0.1, rng=ctx.rng)
    return dinv.loss.MCLoss()


def _supervised(model, ctx):
    import deepinv as dinv

    return model, [dinv.loss.SupLoss()]


def _equivariant(group: str, sure: bool) -> Builder:
    """MC (or SURE) + EI over ``group`` (``"rotate"`` or ``"ddei"``)."""

    def build(model, ctx):
        import deepinv as dinv

        from ddei.transforms import ddei_transform, rotate_transform

        if group == "ddei":
            transform = ddei_transform(mode=ctx.settings["transform_mode"], rng=ctx.rng, device=ctx.device)
        else:
            transform = rotate_transform(rng=ctx.rng)
        losses = [_consistency(ctx, sure), dinv.loss.EILoss(transform)]
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


def _splitting(eval_split_input: bool) -> Builder:
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


def _phase2phase(model, ctx):
    from deepinv.loss.mri import Phase2PhaseLoss

    loss = Phase2PhaseLoss(ctx.img_size, dynamic_model=True, device=ctx.device)
    loss.mask_generator.rng = device_rng(ctx.rng, ctx.device)
    return loss.adapt_model(model), [loss]


#: The registry, in the order of the results table (weakest baselines first, DDEI last, then the oracle).
METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("zf", "Zero-filled", "baseline", "#7f7f7f", marker="X", dashed=True),
        Method("phase2phase", "Phase2Phase", "unsupervised", "#9467bd", _phase2phase),
        Method("t-ssdu", "T-SSDU", "unsupervised", "#1f77b4", _splitting(False), ("split_ratio",)),
        Method(
            "t-ssdu*", "T-SSDU*", "unsupervised", "#17becf", _splitting(True), ("split_ratio", "eval_n_samples"),
            trained_as="t-ssdu",
        ),
        Method("ei-r", "EI-rotate", "unsupervised", "#2ca02c", _equivariant("rotate", False)),
        Method(
            "ei-r-sure", "EI-rotate + SURE", "unsupervised", "#bcbd22", _equivariant("rotate", True),
            needs_noise=True,
        ),
        Method("ddei", "DDEI (ours)", "unsupervised", "#d62728", _equivariant("ddei", False), ("transform_mode",)),
        Method(
            "ddei-sure", "DDEI + SURE", "unsupervised", "#ff7f0e", _equivariant("ddei", True),
            ("transform_mode",), needs_noise=True,
        ),
        Method("sup", "Supervised (oracle)", "supervised", "#000000", _supervised, marker="s", dashed=True),
    )
}  # fmt: skip


def variant(name: str, base: str, overrides: Mapping, label: str | None = None, colour: str = "") -> Method:
    """A registered method under another name, with other settings.

    :param str name: the variant's name (not a registered method's).
    :param str base: the registered, trained method it derives from.
    :param dict overrides: settings it changes: ``model``, ``training`` and the keys of :data:`SETTINGS`.
    :param str label: display name; default ``"<base label> (<name>)"``.
    :param str colour: its colour; default one of :data:`EXTRA_COLOURS` (set by :func:`catalogue`).
    """
    if name in METHODS:
        raise ValueError(f"variant {name!r}: the name of a registered method cannot be reused")
    if base not in METHODS or not METHODS[base].trained:
        trained = [m for m, spec in METHODS.items() if spec.trained]
        raise ValueError(
            f"variant {name!r}: method {base!r} is not a trained method; choose one of {trained}"
        )
    parent = METHODS[base]
    unknown = sorted(set(overrides) - {"model", "training", *SETTINGS})
    if unknown:
        raise ValueError(f"variant {name!r}: unknown settings {unknown}")
    return replace(
        parent,
        name=name,
        label=label or f"{parent.label} ({name})",
        colour=colour or parent.colour,
        marker="D",
        base=base,
        overrides=dict(overrides),
        trained_as=name,
    )


def external(name: str) -> Method:
    """A trained model loaded from a file (``evaluation.external``), evaluated like any method."""
    if name in METHODS:
        raise ValueError(f"external model {name!r}: the name of a registered method cannot be reused")
    return Method(name, name, "external", EXTRA_COLOURS[0], marker="P")


def catalogue(variants: Mapping | None = None, externals=()) -> dict[str, Method]:
    """The registry extended by the configuration's variants and external models.

    :param dict variants: ``{name: {"method": base, "label": ..., <settings>}}`` (the config's ``variants``).
    :param externals: names of external models (the keys of the config's ``evaluation.external``).
    :return: name -> :class:`Method`, registered methods first, in table order within each kind.
    """
    extra = []
    for name, spec in (variants or {}).items():
        spec = dict(spec)
        base, label = spec.pop("method"), spec.pop("label", None)
        extra.append(variant(name, base, spec, label))
    extra += [external(name) for name in externals]
    extra = [replace(m, colour=EXTRA_COLOURS[i % len(EXTRA_COLOURS)]) for i, m in enumerate(extra)]
    out = dict(METHODS)
    for m in extra:
        if m.name in out:
            raise ValueError(f"{m.name!r} is defined twice (variants and evaluation.external)")
        out[m.name] = m
    return out


#: Variants and external models registered by :func:`register` (what :func:`lookup` finds beside the registry).
_REGISTERED: dict[str, Method] = {}


def register(variants: Mapping | None = None, externals=()) -> dict[str, Method]:
    """Make the config's variants and external models known to :func:`lookup` (tables, figures).

    :param dict variants: the config's ``variants``.
    :param externals: names of external models (the keys of the config's ``evaluation.external``).
    :return: the :func:`catalogue`.
    """
    methods = catalogue(variants, externals)
    _REGISTERED.update({n: m for n, m in methods.items() if n not in METHODS})
    return methods


def lookup(name: str) -> Method:
    """The :class:`Method` called ``name``: registered, a :func:`register`-ed variant or external model, or for an
    unknown name a neutral ``external`` entry (so that any metrics table can be shown)."""
    if name in METHODS:
        return METHODS[name]
    return _REGISTERED.get(name) or external(name)


def order(names) -> list[str]:
    """Names in table order: by kind (:data:`KINDS`), then registry order, variants right after their base."""
    rank = {n: i for i, n in enumerate(METHODS)}
    extra = {n: i for i, n in enumerate(_REGISTERED)}

    def key(n):
        m = lookup(n)
        return (KINDS.index(m.kind), rank.get(m.base, len(rank)), n != m.base, extra.get(n, len(extra)), n)

    return sorted(dict.fromkeys(names), key=key)


def build_method(
    method: Method,
    model: nn.Module,
    img_size: tuple[int, int, int, int],
    rng: torch.Generator,
    noise_sigma: float,
    settings: Mapping,
    device: str | torch.device,
) -> tuple[nn.Module, list[nn.Module]]:
    """The losses of a method, and the model adapted to it (splitting methods wrap the model).

    :param Method method: a trained method (see :data:`METHODS`, :func:`variant`).
    :param torch.nn.Module model: reconstruction network ``model(y, physics)``.
    :param tuple img_size: ``(C, T, H, W)`` of one sample.
    :param torch.Generator rng: the generator every random component draws from.
    :param float noise_sigma: measurement noise level (needed by the SURE methods).
    :param dict settings: the method's settings; must hold every key of ``method.settings``.
    :param device: torch device.
    :return: ``(model, losses)``.
    """
    if not method.trained:
        raise ValueError(f"{method.name!r} is not a trained method")
    if method.needs_noise and noise_sigma <= 0:
        raise ValueError(
            f"{method.name} needs noise_sigma > 0 (SURE estimates the risk under Gaussian noise)"
        )
    missing = [k for k in method.settings if k not in settings]
    if missing:
        raise KeyError(f"{method.name} needs the settings {missing}")
    ctx = LossContext(tuple(img_size), rng, float(noise_sigma), dict(settings), device)
    return method.build(model, ctx)


def generators(rng: torch.Generator, losses: list[nn.Module]) -> list[torch.Generator]:
    """Every generator a run draws from: ``rng`` and those of the losses' mask generators (saved on resume)."""
    import torch

    found = [rng]
    for loss in losses:
        g = getattr(getattr(loss, "mask_generator", None), "rng", None)
        if isinstance(g, torch.Generator) and all(g is not f for f in found):
            found.append(g)
    return found
