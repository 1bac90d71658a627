"""Fingerprints of the code and the data a result comes from.

- :func:`code_fingerprint`: a hash of the ``ddei`` modules a piece of code imports, directly or not, found by
  reading their ``import`` statements (nothing is imported). Each module is hashed through its syntax tree with
  docstrings removed, so edits of comments, blank lines, formatting or docstrings do not change the fingerprint;
  any other edit does. Every rule of the workflow gets the fingerprint of its script as a ``param``: an edit to
  a ``ddei`` module reruns exactly the rules whose scripts use it, and what depends on their outputs.
- :func:`files_digest`: a content hash of files and folders (the data a training run learns from).

This module imports neither torch nor deepinv.
"""

from __future__ import annotations

import ast
import hashlib
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

PACKAGE = "ddei"
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # ddei/


def module_path(name: str) -> Path | None:
    """The file of module ``name`` (``ddei.x.y``) under the package folder :data:`PACKAGE_DIR`, or ``None``."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _parents(name: str) -> list[str]:
    """``ddei.a.b`` -> ``["ddei", "ddei.a"]``: the packages Python imports before the module."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def imported_modules(source: str) -> set[str]:
    """Names of the ``ddei`` modules a piece of source code imports, at any depth of the file.

    ``ddei`` uses absolute imports only (``tests/test_provenance.py`` checks this), so none is missed.

    :param str source: Python source.
    """
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # `from ddei.x import submodule`
    return {m for m in found if m.split(".")[0] == PACKAGE and module_path(m) is not None}


@lru_cache(maxsize=None)
def _imports_of(path: Path) -> frozenset[str]:
    return frozenset(imported_modules(path.read_text()))


def closure(modules: Iterable[str]) -> list[str]:
    """The ``ddei`` modules that importing ``modules`` executes (themselves, their parent packages, their
    imports, recursively), sorted.

    :param modules: module names, e.g. ``["ddei.runs.setup"]``.
    """
    todo, seen = list(modules), set()
    while todo:
        name = todo.pop()
        if name in seen or module_path(name) is None:
            continue
        seen.add(name)
        todo += _parents(name)
        todo += _imports_of(module_path(name))
    return sorted(seen)


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(getattr(body[0], "value", None), ast.Constant)
            ):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return tree


def code_digest(path: str | os.PathLike) -> str:
    """Hash of a Python file's syntax tree without docstrings (comments and formatting do not count)."""
    tree = _strip_docstrings(ast.parse(Path(path).read_text()))
    return hashlib.sha256(ast.dump(tree, annotate_fields=False).encode()).hexdigest()


def code_fingerprint(modules: Iterable[str]) -> str:
    """Fingerprint of the code of ``modules`` and every ``ddei`` module they import (16 hex digits).

    :param modules: module names, e.g. ``["ddei.runs.setup"]``.
    """
    h = hashlib.sha256()
    for name in closure(modules):
        h.update(f"{name}:{code_digest(module_path(name))}\n".encode())
    return h.hexdigest()[:16]


def script_modules(script: str | os.PathLike) -> list[str]:
    """The ``ddei`` modules a script imports directly."""
    return sorted(imported_modules(Path(script).read_text()))


def script_fingerprint(script: str | os.PathLike) -> str:
    """:func:`code_fingerprint` of the ``ddei`` modules a script imports (a rule's script)."""
    return code_fingerprint(script_modules(script))


def files_digest(paths: Iterable[str | os.PathLike]) -> str:
    """Content hash of files and folders (a folder: every file below it, by relative path), 16 hex digits.

    :param paths: files or folders; their order matters.
    """
    h = hashlib.sha256()
    for path in map(Path, paths):
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            h.update(f"{f.relative_to(path) if path.is_dir() else f.name}\n".encode())
            with open(f, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()[:16]
