"""Every cross-reference to a ``ddei`` name in the code's docstrings and comments, and in the env files, points at
something that exists: a moved or deleted function leaves no stale name behind."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Where references are read: the package, the workflow's scripts and rules, the env files, the benchmarks.
SOURCES = [
    *sorted((REPO / "ddei").rglob("*.py")),
    *sorted((REPO / "workflow").rglob("*.py")),
    *sorted((REPO / "workflow").rglob("*.smk")),
    *sorted((REPO / "envs").glob("*.yaml")),
    *sorted(p for folder in ("benchmarks", "experiments", "gpu") for p in (REPO / folder).glob("*.py")),
    REPO / "Snakefile",
]
#: A dotted name beginning with ``ddei.`` (in a Sphinx role or not), e.g. ``ddei.runs.training.train``.
DOTTED = re.compile(r"(?<![\w/.])ddei(?:\.\w+)+")


def resolves(name: str) -> bool:
    """Whether ``name`` is a module of ddei, or an attribute (at any depth) of one."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attr in parts[split:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def references() -> list[tuple[str, str]]:
    found = set()
    for path in SOURCES:
        for name in DOTTED.findall(path.read_text()):
            if len(name.split(".")[1]) > 1:  # ddei.x.y, ddei.a.b: placeholders of a docstring's example
                found.add((path.relative_to(REPO).as_posix(), name.rstrip(".")))
    return sorted(found)


def test_there_are_references():
    assert len(references()) > 50


def test_every_reference_to_a_ddei_name_resolves():
    stale = [f"{where}: {name}" for where, name in references() if not resolves(name)]
    assert not stale, "names that no longer exist:\n" + "\n".join(stale)


@pytest.mark.parametrize("name, ok", [("ddei.io.layout", True), ("ddei.io.layout.mask_folder_name", True),
                                      ("ddei.no_such_package", False), ("ddei.io.layout.no_such_name", False)])  # fmt: skip
def test_resolves(name, ok):
    assert resolves(name) is ok
