"""The size of the code's units: no function in ``ddei/`` or ``workflow/scripts/`` longer than 80 lines,
and no function of the run layer (``ddei/runs/``) with more than 6 parameters.

The units that still break a limit are listed in :data:`LONG` and :data:`WIDE`, with their size: a new one fails,
and so does a listed one that grew, or was fixed without being struck off (so that the lists stay the debt that
remains).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_LINES = 80
MAX_PARAMS = 6

#: "file:function" -> lines, of the functions still longer than MAX_LINES.
LONG: dict[str, int] = {}
#: "file:function" -> parameters, of the run layer's functions that still take more than MAX_PARAMS.
WIDE: dict[str, int] = {}


def functions(folders: list[str]):
    for folder in folders:
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield f"{path.relative_to(REPO).as_posix()}:{node.name}", node


def parameters(node: ast.FunctionDef) -> int:
    a = node.args
    names = [*a.posonlyargs, *a.args, *a.kwonlyargs, *filter(None, (a.vararg, a.kwarg))]
    return len([n for n in names if n.arg not in ("self", "cls")])


def test_functions_are_at_most_80_lines():
    found = {
        name: node.end_lineno - node.lineno + 1
        for name, node in functions(["ddei", "workflow/scripts"])
        if node.end_lineno - node.lineno + 1 > MAX_LINES
    }
    assert found == LONG, f"functions over {MAX_LINES} lines (split them, or update LONG if one was): {found}"


def test_run_layer_functions_take_at_most_6_parameters():
    found = {
        name: parameters(node) for name, node in functions(["ddei/runs"]) if parameters(node) > MAX_PARAMS
    }
    assert found == WIDE, f"run-layer functions over {MAX_PARAMS} parameters (or update WIDE): {found}"
