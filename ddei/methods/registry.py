"""The methods compared in the paper: one registry, the single definition of every method.

Each :class:`Method` holds what the pipeline needs to know to train and evaluate a method: its loss builder
(:mod:`ddei.mri.losses`), which method-specific settings it reads, its kind, and which trained model it evaluates.
The workflow (which jobs exist, which settings are their parameters), the configuration checks and the tables
derive from :data:`METHODS`. How a method is shown (label, colour, marker, table order) is the report's business
(:mod:`ddei.report.style`): editing it reruns report rules only.

=============== ==================================================================================
``zf``          zero-filled :math:`A^H y`, no training (baseline)
``phase2phase`` temporal splitting into even/odd frames (Phase2Phase)
``t-ssdu``      SSDU-style measurement splitting (``split_mask``: Gaussian or uniform splitting masks)
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

This module imports neither torch nor deepinv, nor the builders (:func:`ddei.runs.preparation.build_method` does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ddei.io.layout import slug  # noqa: F401  (part of this module's API: the file-name form of a method)

#: Kinds of method, in the order of the results table's groups.
KINDS = ("baseline", "unsupervised", "external", "supervised")
#: Settings a method may read (each documented and defaulted in the config schema).
SETTINGS = ("transform_mode", "split_ratio", "split_mask", "split_centre", "split_dc", "eval_n_samples")
#: The settings of the measurement-splitting methods (T-SSDU): how the measurements are split, and the network's
#: data consistency (:func:`ddei.mri.losses.split_mask_generator`, :func:`ddei.mri.losses.data_consistency`).
SPLITTING = ("split_ratio", "split_mask", "split_centre", "split_dc")


@dataclass(frozen=True)
class Method:
    """One method of the comparison.

    :param str name: name in the configuration and in file names (``*`` becomes ``-star`` there, see :func:`slug`).
    :param str kind: one of :data:`KINDS`; only ``unsupervised`` methods are ranked in the tables.
    :param build: its loss builder, named: ``(function, args)`` of :mod:`ddei.mri.losses` whose call returns the
        builder (:data:`ddei.mri.losses.Builder`); ``None`` for methods that are not trained. Named rather than
        imported, so that the registry (which the report reads) imports no torch and no deepinv.
    :param tuple settings: the method-specific settings it reads (a subset of :data:`SETTINGS`).
    :param bool needs_noise: it needs ``noise_sigma > 0`` (SURE).
    :param str base: the registered method whose losses it uses (itself, except for variants).
    :param dict overrides: settings a variant changes (model, training and the keys of :data:`SETTINGS`).
    :param str trained_as: the registered method whose trained model it evaluates, when it differs from that
        method only at test time (``t-ssdu*``: T-SSDU's model, with test-time splits), so that the model is
        trained once; itself otherwise. Its ``settings`` that the training reads are those of ``trained_as``.
    """

    name: str
    kind: str
    build: tuple[str, tuple] | None = None
    settings: tuple[str, ...] = ()
    needs_noise: bool = False
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
    def passes_per_step(self) -> int:
        """How many times a training step runs the network, forward and backward: twice for the equivariant losses
        (on the measurement, then on the transformed reconstruction's measurement), once otherwise."""
        if not self.trained:
            return 0
        return 2 if self.build[0] == "equivariant" else 1

    @property
    def unsupervised(self) -> bool:
        return self.kind == "unsupervised"

    @property
    def needs_ground_truth(self) -> bool:
        """It trains on fully sampled images (the supervised oracle)."""
        return self.kind == "supervised"


#: The registry, in the order of the results table (weakest baselines first, DDEI last, then the oracle).
METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("zf", "baseline"),
        Method("phase2phase", "unsupervised", ("phase2phase", ()), ("split_dc",)),
        Method("t-ssdu", "unsupervised", ("splitting", (False,)), SPLITTING),
        Method("t-ssdu*", "unsupervised", ("splitting", (True,)), (*SPLITTING, "eval_n_samples"),
               trained_as="t-ssdu"),
        Method("ei-r", "unsupervised", ("equivariant", ("rotate", False))),
        Method("ei-r-sure", "unsupervised", ("equivariant", ("rotate", True)), needs_noise=True),
        Method("ddei", "unsupervised", ("equivariant", ("ddei", False)), ("transform_mode",)),
        Method("ddei-sure", "unsupervised", ("equivariant", ("ddei", True)), ("transform_mode",), needs_noise=True),
        Method("sup", "supervised", ("supervised", ())),
    )
}  # fmt: skip


def variant(name: str, base: str, overrides: Mapping) -> Method:
    """A registered method under another name, with other settings.

    :param str name: the variant's name (not a registered method's).
    :param str base: the registered, trained method it derives from.
    :param dict overrides: settings it changes: ``model``, ``training`` and the keys of :data:`SETTINGS`.
    """
    if name in METHODS:
        raise ValueError(f"variant {name!r}: the name of a registered method cannot be reused")
    if base not in METHODS or not METHODS[base].trained:
        trained = [m for m, spec in METHODS.items() if spec.trained]
        raise ValueError(
            f"variant {name!r}: method {base!r} is not a trained method; choose one of {trained}"
        )
    unknown = sorted(set(overrides) - {"model", "training", *SETTINGS})
    if unknown:
        raise ValueError(f"variant {name!r}: unknown settings {unknown}")
    return replace(METHODS[base], name=name, base=base, overrides=dict(overrides), trained_as=name)


def external(name: str) -> Method:
    """A trained model loaded from a file (``evaluation.external``), evaluated like any method."""
    if name in METHODS:
        raise ValueError(f"external model {name!r}: the name of a registered method cannot be reused")
    return Method(name, "external")


#: The variants the project ships, known to every configuration without a ``variants`` entry (an entry of the same
#: name replaces one): the reference code's methods where this project's defaults differ from them. DDEI with the
#: reference code's transform, time-shift defect included ("The reference code's transform" in the docs); T-SSDU
#: and Phase2Phase as the reference trains them: SSDU's Gaussian split with deepinv's 8x8 centre block, and the
#: CRNN's learnable soft data consistency (docs/results/baselines.md). Their labels are the report's
#: (:data:`ddei.report.style.SHIPPED_LABELS`).
SHIPPED_VARIANTS: dict[str, dict] = {
    "ddei-upstream": {"method": "ddei", "transform_mode": "upstream"},
    "t-ssdu-upstream": {"method": "t-ssdu", "split_mask": "gaussian", "split_centre": "reference", "split_dc": "learned"},
    "phase2phase-upstream": {"method": "phase2phase", "split_dc": "learned"},
}  # fmt: skip

#: Presentation keys a variant may carry in the config (read by :mod:`ddei.report.style`, ignored here).
PRESENTATION = ("label",)


def catalogue(variants: Mapping | None = None, externals=()) -> dict[str, Method]:
    """The registry extended by the shipped variants (:data:`SHIPPED_VARIANTS`), the configuration's variants and
    its external models.

    :param dict variants: ``{name: {"method": base, "label": ..., <settings>}}`` (the config's ``variants``).
    :param externals: names of external models (the keys of the config's ``evaluation.external``).
    :return: name -> :class:`Method`, registered methods first, then the shipped and the config's variants and
        the external models.
    """
    out = dict(METHODS)
    extra = []
    for name, spec in (SHIPPED_VARIANTS | dict(variants or {})).items():
        spec = {k: v for k, v in spec.items() if k not in PRESENTATION}
        extra.append(variant(name, spec.pop("method"), spec))
    extra += [external(name) for name in externals]
    for m in extra:
        if m.name in out:
            raise ValueError(f"{m.name!r} is defined twice (variants and evaluation.external)")
        out[m.name] = m
    return out


#: Variants and external models registered by :func:`register` (what :func:`lookup` finds beside the registry).
_REGISTERED: dict[str, Method] = {}


def register(variants: Mapping | None = None, externals=()) -> dict[str, Method]:
    """Make the config's variants and external models known to :func:`lookup`.

    :param dict variants: the config's ``variants``.
    :param externals: names of external models (the keys of the config's ``evaluation.external``).
    :return: the :func:`catalogue`.
    """
    methods = catalogue(variants, externals)
    _REGISTERED.update({n: m for n, m in methods.items() if n not in METHODS})
    return methods


def lookup(name: str) -> Method:
    """The :class:`Method` called ``name``: registered, or a :func:`register`-ed variant or external model.

    :raises KeyError: for any other name, naming it and the known ones.
    """
    if name in METHODS:
        return METHODS[name]
    if name in _REGISTERED:
        return _REGISTERED[name]
    raise KeyError(
        f"unknown method {name!r}: not one of {list(METHODS)}, nor a registered variant or external model "
        f"({list(_REGISTERED)}); define it under `variants` or `evaluation.external`"
    )
