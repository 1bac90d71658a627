"""The folders of ddei/ are its layers, no import runs back up (docs/development.md, "Layers"), and no module
imports itself through others."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ddei.provenance.fingerprints import closure

PACKAGE = Path(__file__).resolve().parents[1] / "ddei"
#: Each folder's layer, from the ground up; a module may import its own layer and those below, never above, and
#: layers of the same rank (methods and provenance; runs and report) never import each other.
LAYERS = {"io": 0, "mri": 1, "data": 2, "methods": 3, "provenance": 3, "runs": 4, "report": 4}


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def layer(module: str) -> str | None:
    """The layer of a ``ddei`` module (``None`` for the package root and ``ddei._compat``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else None


def imports(path: Path) -> set[str]:
    """Every ``ddei`` module a file imports, at any depth (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return {m for m in found if m == "ddei" or m.startswith("ddei.")}


def test_every_module_is_in_a_layer():
    loose = [m for m in modules() if layer(m) is None and m not in ("ddei", "ddei._compat")]
    assert not loose, f"modules outside the layer folders {sorted(LAYERS)}: {loose}"


@pytest.mark.parametrize("module", sorted(modules()))
def test_no_import_runs_up_a_layer(module):
    mine = layer(module)
    for target in imports(modules()[module]):
        theirs = layer(target)
        if target == "ddei" or theirs is None:
            assert target in ("ddei", "ddei._compat"), target
            continue
        assert mine is not None, f"{module} (the package root) imports {target}"
        assert LAYERS[theirs] <= LAYERS[mine], (
            f"{module} ({mine}) imports {target} ({theirs}), a higher layer"
        )
        assert LAYERS[theirs] < LAYERS[mine] or theirs == mine, (
            f"{module} ({mine}) imports its sibling {target}"
        )


def test_training_and_evaluation_share_setup_and_not_each_other():
    training, evaluation = closure(["ddei.runs.training"]), closure(["ddei.runs.evaluation"])
    assert "ddei.runs.preparation" in training and "ddei.runs.preparation" in evaluation
    assert "ddei.runs.evaluation" not in training and "ddei.runs.training" not in evaluation


def test_the_network_knows_no_configuration_or_registry():
    network = closure(["ddei.mri.models"])
    assert not [m for m in network if layer(m) not in ("mri", "io", None)], network


def test_presentation_is_only_the_reports():
    """Labels and colours live in ddei.report.style, which no training or evaluation code imports."""
    assert "ddei.report.style" not in closure(["ddei.runs.training", "ddei.runs.evaluation"])


def import_graph() -> dict[str, set[str]]:
    """``{module: the ddei modules it imports}``, at any depth; ``from package import name`` counts as an import of
    the submodule ``package.name`` where there is one, of the package otherwise."""
    known = modules()
    graph = {}
    for module, path in known.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                          for a in node.names}  # fmt: skip
        graph[module] = {m for m in found if m in known and m != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (``[a, b, ..., a]``), or ``None`` if it has none (depth-first search)."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module) :] + [module]
        if module in done:
            return None
        for target in sorted(graph[module]):
            if cycle := visit(target, [*path, module]):
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        if cycle := visit(module, []):
            return cycle
    return None


def test_find_cycle_finds_a_cycle_and_only_one():
    """The search itself, on hand-made graphs: a three-module circle, a diamond (no circle) and a self-free chain."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set()}) is None
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_imports_itself_through_others():
    """No import cycle inside ddei/, imports inside functions included (a cycle works only by import order)."""
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
