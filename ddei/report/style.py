"""How the methods are shown: labels, colours, markers, line styles and the table order.

Presentation only: the registry (:mod:`ddei.methods.registry`) knows no label or colour, so that editing one
here reruns report rules and nothing else. Variants and external models of a config get their style from
:func:`register` (a variant's ``label`` in the config, else ``"<base label> (<name>)"``; colours from
:data:`EXTRA_COLOURS`, in order of appearance).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ddei.methods import registry


@dataclass(frozen=True)
class Style:
    """How one method is drawn.

    :param str label: display name in tables and figures.
    :param str colour: colour in every figure.
    :param str marker: matplotlib marker.
    :param bool dashed: drawn with a dashed line.
    """

    label: str
    colour: str
    marker: str = "o"
    dashed: bool = False


#: The style of every registered method (``tests/test_report.py`` checks it covers :data:`registry.METHODS`).
STYLES: dict[str, Style] = {
    "zf": Style("Zero-filled", "#7f7f7f", "X", True),
    "phase2phase": Style("Phase2Phase", "#9467bd"),
    "t-ssdu": Style("T-SSDU", "#1f77b4"),
    "t-ssdu*": Style("T-SSDU*", "#17becf"),
    "ei-r": Style("EI-rotate", "#2ca02c"),
    "ei-r-sure": Style("EI-rotate + SURE", "#bcbd22"),
    "ddei": Style("DDEI (ours)", "#d62728"),
    "ddei-sure": Style("DDEI + SURE", "#ff7f0e"),
    "sup": Style("Supervised (oracle)", "#000000", "s", True),
}
#: The labels of the shipped variants (:data:`ddei.methods.registry.SHIPPED_VARIANTS`; a config's ``label``
#: replaces one).
SHIPPED_LABELS = {
    "ddei-upstream": "DDEI, the reference code's transform",
    "t-ssdu-upstream": "T-SSDU, the reference code's",
    "phase2phase-upstream": "Phase2Phase, the reference code's",
}
#: Colours for variants and external models, in order of appearance (the shipped variants first).
EXTRA_COLOURS = ("#8c564b", "#e377c2", "#7b4173", "#637939", "#393b79", "#843c39")

_EXTRA: dict[str, Style] = {}


def register(variants: Mapping | None = None, externals=()) -> None:
    """Register the config's variants and external models, in the registry and here (their styles).

    :param dict variants: the config's ``variants`` (a variant may carry a ``label``).
    :param externals: names of external models.
    """
    methods = registry.register(variants, externals)
    extra = [n for n in methods if n not in registry.METHODS]
    for i, name in enumerate(extra):
        colour = EXTRA_COLOURS[i % len(EXTRA_COLOURS)]
        m = methods[name]
        if m.kind == "external":
            _EXTRA[name] = Style(name, colour, "P")
        else:
            base = STYLES[m.base]
            given = (variants or {}).get(name, {}).get("label") or SHIPPED_LABELS.get(name)
            _EXTRA[name] = Style(given or f"{base.label} ({name})", colour, "D", base.dashed)


def style_of(name: str) -> Style:
    """The style of a registered method or a :func:`register`-ed variant or external model.

    :raises KeyError: for any other name, naming it.
    """
    if name in STYLES:
        return STYLES[name]
    if name in _EXTRA:
        return _EXTRA[name]
    raise KeyError(f"no style for method {name!r}: register the config's variants and external models first")


def label(name: str) -> str:
    return style_of(name).label


def colour(name: str) -> str:
    return style_of(name).colour


def order(names) -> list[str]:
    """Names in table order: by kind (:data:`registry.KINDS`), then registry order, variants right after their
    base, then in order of registration."""
    rank = {n: i for i, n in enumerate(registry.METHODS)}
    extra = {n: i for i, n in enumerate(_EXTRA)}

    def key(n):
        m = registry.lookup(n)
        return (
            registry.KINDS.index(m.kind),
            rank.get(m.base, len(rank)),
            n != m.base,
            extra.get(n, len(extra)),
            n,
        )

    return sorted(dict.fromkeys(names), key=key)
