"""Fingerprints of the code and the data a result comes from.

- :func:`code_fingerprint`: a hash of the ``ddei`` modules a piece of code imports, directly or not, found by
  reading their ``import`` statements (nothing is imported). Each module is hashed through its syntax tree with
  docstrings removed, so edits of comments, blank lines, formatting or docstrings do not change the fingerprint;
  any other edit does. Every rule of the workflow gets the fingerprint of its script as a ``param``: an edit to
  a ``ddei`` module reruns exactly the rules whose scripts use it, and what depends on their outputs.
- :func:`script_fingerprint`: a rule's fingerprint: its script, the helper modules beside it (``_preamble.py``),
  the :func:`code_fingerprint` of the ``ddei`` modules it imports, and the versions of the third-party
  distributions that all this code imports (:func:`package_versions`), so that an upgrade of deepinv reruns the
  rules that run deepinv, and only those.
- :func:`files_digest`: a content hash of files and folders (the data a training run learns from);
  :func:`stat_digest`: a cheap one (paths, sizes, modification times) for data read by path, too large to hash
  at every parse (the real CMRxRecon data).

This module imports neither torch nor deepinv.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import os
import sys
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
    found = _all_imports(source, names=True)  # `from ddei.x import submodule` imports ddei.x.submodule
    return {m for m in found if m.split(".")[0] == PACKAGE and module_path(m) is not None}


@lru_cache(maxsize=None)
def _imports_of(path: Path) -> frozenset[str]:
    return frozenset(imported_modules(path.read_text()))


def closure(modules: Iterable[str]) -> list[str]:
    """The ``ddei`` modules that importing ``modules`` executes (themselves, their parent packages, their
    imports, recursively), sorted.

    :param modules: module names, e.g. ``["ddei.runs.preparation"]``.
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
    st = Path(path).stat()
    return _code_digest(str(path), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=None)
def _code_digest(
    path: str, mtime_ns: int, size: int
) -> str:  # keyed by the file's state: an edit re-reads it
    tree = _strip_docstrings(ast.parse(Path(path).read_text()))
    return hashlib.sha256(ast.dump(tree, annotate_fields=False).encode()).hexdigest()


def code_fingerprint(modules: Iterable[str]) -> str:
    """Fingerprint of the code of ``modules`` and every ``ddei`` module they import (16 hex digits).

    :param modules: module names, e.g. ``["ddei.runs.preparation"]``.
    """
    h = hashlib.sha256()
    for name in closure(modules):
        h.update(f"{name}:{code_digest(module_path(name))}\n".encode())
    return h.hexdigest()[:16]


def script_modules(script: str | os.PathLike) -> list[str]:
    """The ``ddei`` modules a script imports directly."""
    return sorted(imported_modules(Path(script).read_text()))


def local_modules(script: str | os.PathLike) -> list[Path]:
    """The modules beside a script that it imports (``_preamble.py`` for the rules' scripts)."""
    script = Path(script)
    names = {n.split(".")[0] for n in _all_imports(script.read_text())}
    return sorted(p for p in (script.parent / f"{n}.py" for n in names) if p.is_file() and p != script)


def _all_imports(source: str, names: bool = False) -> frozenset[str]:
    """Every absolute import of a piece of source, at any depth (module names, not filtered); with ``names``,
    also ``module.name`` for each name of a ``from module import name``."""
    modules, imported_names = _imports(source)
    return modules | imported_names if names else modules


@lru_cache(
    maxsize=None
)  # keyed by the source: each file is parsed once per process, however often it is asked
def _imports(source: str) -> tuple[frozenset[str], frozenset[str]]:
    """(the modules, the ``module.name`` of each ``from module import name``) of every absolute import."""
    modules, names = set(), set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return frozenset(modules), frozenset(names)


#: Modules whose imports inside functions run only when some other package is imported (an import hook), never
#: by themselves: only their module-level imports count.
IMPORT_HOOKS = ("_compat.py",)


def _module_level_imports(source: str) -> set[str]:
    tree = ast.parse(source)
    found = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


@lru_cache(maxsize=None)
def _top_level_imports(path: str, module_level: bool, mtime_ns: int, size: int) -> frozenset[str]:
    read = _module_level_imports if module_level else _all_imports
    return frozenset(n.split(".")[0] for n in read(Path(path).read_text()))


def third_party(paths: Iterable[Path]) -> list[str]:
    """Top-level names of the third-party modules that some of ``paths`` import (neither ``ddei`` nor the
    standard library), at any depth of the files (at module level only for :data:`IMPORT_HOOKS`)."""
    names = set()
    for path in map(Path, paths):
        st = path.stat()
        names |= _top_level_imports(str(path), path.name in IMPORT_HOOKS, st.st_mtime_ns, st.st_size)
    local = {Path(p).stem for p in paths}
    return sorted(n for n in names if n != PACKAGE and n not in sys.stdlib_module_names and n not in local)


@lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def package_versions(modules: Iterable[str]) -> dict[str, str]:
    """``{distribution: version}`` of the installed distributions providing top-level ``modules``.

    :param modules: top-level import names (``yaml`` is provided by ``PyYAML``); unknown ones are left out.
    """
    out = {}
    for name in modules:
        for dist in _distributions().get(name, []):
            out[dist] = _version(dist)
    return dict(sorted(out.items()))


@lru_cache(maxsize=None)
def _version(dist: str) -> str:
    return importlib.metadata.version(dist)


def code_files(modules: Iterable[str]) -> list[Path]:
    """The files of the ``ddei`` modules that importing ``modules`` executes (:func:`closure`)."""
    return [module_path(name) for name in closure(modules)]


def fingerprint_parts(script: str | os.PathLike) -> dict:
    """What a rule's fingerprint is made of, part by part: its script and local helpers (syntax trees without
    docstrings), each ``ddei`` module that the script imports, directly or not, and the versions of the third-party
    distributions all that code imports.

    :return: ``{"script": {name: digest}, "ddei": {module: digest}, "packages": {distribution: version}}``.
    """
    script = Path(script)
    own = [script, *local_modules(script)]
    modules = script_modules(script)
    return {
        "script": {path.name: code_digest(path) for path in own},
        "ddei": {name: code_digest(module_path(name)) for name in closure(modules)},
        "packages": package_versions(third_party(own + code_files(modules))),
    }


def fingerprint(parts: dict) -> str:
    """The fingerprint (16 hex digits) of :func:`fingerprint_parts`."""
    h = hashlib.sha256()
    for path, digest in parts["script"].items():
        h.update(f"{path}:{digest}\n".encode())
    ddei = hashlib.sha256("".join(f"{n}:{d}\n" for n, d in parts["ddei"].items()).encode()).hexdigest()[:16]
    h.update(f"ddei:{ddei}\n".encode())
    for dist, version in parts["packages"].items():
        h.update(f"{dist}=={version}\n".encode())
    return h.hexdigest()[:16]


def script_fingerprint(script: str | os.PathLike) -> str:
    """A rule's fingerprint (16 hex digits): the hash of its :func:`fingerprint_parts`."""
    return fingerprint(fingerprint_parts(script))


def changed_parts(old: dict, new: dict) -> list[str]:
    """What differs between two :func:`fingerprint_parts`, one line each: the script or a helper beside it
    (``_preamble.py``), a ``ddei`` module, a package version."""
    lines = []
    for kind, what in (("script", "the script or its helper"), ("ddei", "ddei module")):
        for name in sorted(set(old.get(kind, {})) | set(new.get(kind, {}))):
            a, b = old.get(kind, {}).get(name), new.get(kind, {}).get(name)
            if a != b:
                state = "added" if a is None else "removed" if b is None else "edited"
                lines.append(f"{what} {name}: {state}")
    for dist in sorted(set(old.get("packages", {})) | set(new.get("packages", {}))):
        a, b = old.get("packages", {}).get(dist), new.get("packages", {}).get(dist)
        if a != b:
            lines.append(f"package {dist}: {a or 'not used'} -> {b or 'not used'}")
    return lines


def versions_of(modules: Iterable[str]) -> str:
    """The versions of the third-party distributions the ``ddei`` ``modules`` import, as one string
    (``deepinv==0.5.0;numpy==2.4.6;...``): what a result was computed with (every metrics file records it)."""
    return ";".join(f"{d}=={v}" for d, v in package_versions(third_party(code_files(modules))).items())


def stat_digest(paths: Iterable[str | os.PathLike]) -> str:
    """Cheap digest of files and folders read by path: every file's relative path, size and modification time
    (16 hex digits). A file replaced under the same path changes it; a folder that does not exist digests as
    such.

    :param paths: files or folders.
    """
    h = hashlib.sha256()
    for path in map(Path, paths):
        if not path.exists():
            h.update(f"missing:{path}\n".encode())
            continue
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            st = f.stat()
            h.update(
                f"{f.relative_to(path) if path.is_dir() else f.name}:{st.st_size}:{st.st_mtime_ns}\n".encode()
            )
    return h.hexdigest()[:16]


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
