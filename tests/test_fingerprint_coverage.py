"""Every fingerprint that claims to cover a module changes when that module's code changes, also where the module is
imported only through others: the rules' fingerprints (:func:`ddei.provenance.fingerprints.script_fingerprint` and
its parts), :func:`~ddei.provenance.fingerprints.code_fingerprint` of the modules that import it,
:func:`ddei.runs.preparation.training_code` and the stamp's :func:`ddei.provenance.integrity.package_code`. A rule
whose code does not import the module keeps its fingerprint."""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import shutil
from pathlib import Path

import pytest

from ddei.provenance import fingerprints as provenance
from ddei.provenance import integrity
from ddei.runs import preparation

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in (REPO / "workflow" / "scripts").glob("*.py") if not p.name.startswith("_"))


@pytest.fixture
def package(tmp_path, monkeypatch) -> Path:
    """A copy of the ``ddei`` package that the fingerprints read."""
    copy = tmp_path / "ddei"
    shutil.copytree(REPO / "ddei", copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "PACKAGE_DIR", copy)
    monkeypatch.setattr(integrity, "__file__", str(copy / "provenance" / "integrity.py"))
    provenance._imports_of.cache_clear()
    yield copy
    provenance._imports_of.cache_clear()


def _state() -> dict:
    return {
        "scripts": {s.name: provenance.script_fingerprint(s) for s in SCRIPTS},
        "parts": {s.name: provenance.fingerprint_parts(s) for s in SCRIPTS},
        "closure": {s.name: set(provenance.closure(provenance.script_modules(s))) for s in SCRIPTS},
        "training": preparation.training_code(),
        "runs": provenance.code_fingerprint(["ddei.runs.training", "ddei.runs.evaluation"]),
        "package": integrity.package_code(),
    }


@pytest.mark.parametrize(
    "module",
    ["ddei.mri.transforms.cpab", "ddei.mri.sampling", "ddei.io.files"],
)
def test_an_edit_of_an_indirectly_imported_module_changes_every_fingerprint_that_covers_it(package, module):
    before = _state()
    importers = {name for name, modules in before["closure"].items() if module in modules}
    direct = {s.name for s in SCRIPTS if module in provenance.script_modules(s)}
    assert importers - direct, f"{module} is imported indirectly by some rule"  # what this test is about
    path = package.joinpath(*module.split(".")[1:]).with_suffix(".py")
    path.write_text(path.read_text() + "\n\ndef _added():\n    return 1\n")
    provenance._imports_of.cache_clear()
    after = _state()
    for name in before["scripts"]:
        changed = after["scripts"][name] != before["scripts"][name]
        assert changed == (name in importers), f"{name}: {'changed' if changed else 'unchanged'}"
        if name in importers:
            reasons = provenance.changed_parts(before["parts"][name], after["parts"][name])
            assert reasons == [f"ddei module {module}: edited"]
    training = module in before["closure"]["train.py"]
    assert (after["training"] != before["training"]) == training
    assert after["runs"] != before["runs"] or not training
    assert after["package"] != before["package"]


def test_a_docstring_or_comment_edit_changes_no_rule(package):
    before = _state()
    path = package / "mri" / "transforms" / "cpab.py"
    path.write_text(path.read_text().replace('"""CPAB', '"""The CPAB', 1) + "\n# a comment\n")
    provenance._imports_of.cache_clear()
    after = _state()
    assert after["scripts"] == before["scripts"] and after["training"] == before["training"]
    assert after["package"] != before["package"]  # the stamp hashes the source itself
