"""Code and data fingerprints (ddei.provenance.fingerprints): what each rule's code fingerprint covers, and what changes it."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from ddei.provenance import fingerprints as provenance
from ddei.provenance.fingerprints import (
    closure,
    code_digest,
    files_digest,
    fingerprint_parts,
    script_fingerprint,
    script_modules,
)

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "workflow" / "scripts"


def modules_of(script: str) -> set[str]:
    return set(closure(script_modules(SCRIPTS / script)))


def test_each_rule_depends_on_the_code_it_runs():
    train, evaluate = modules_of("train.py"), modules_of("evaluate.py")
    assert {
        "ddei.runs.training",
        "ddei.methods.registry",
        "ddei.mri.transforms",
        "ddei.mri.models.crnn",
        "ddei.data.dataset",
    } <= train
    assert "ddei.runs.evaluation" not in train  # an edit of the evaluation retrains nothing
    assert {"ddei.runs.evaluation", "ddei.runs.preparation", "ddei.methods.registry"} <= evaluate
    assert "ddei.methods.registry" not in modules_of("extract.py") | modules_of("masks.py") | modules_of(
        "synthetic_data.py"
    )
    assert "ddei.data.extract" in modules_of("extract.py") and "ddei.data.extract" in train
    assert "ddei.report.figures" not in modules_of("table.py") | modules_of("wilcoxon.py")
    assert "ddei.report.figures" in modules_of("cine_figure.py")
    report = modules_of("table.py") | modules_of("metrics_figure.py")
    assert not {"ddei.runs.training", "ddei.runs.preparation", "ddei.mri.models"} & report


def test_ddei_uses_absolute_imports_only():
    """The import graph is read from `import ddei...` statements: a relative import would be missed."""
    for path in (REPO / "ddei").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            assert not (isinstance(node, ast.ImportFrom) and node.level), f"relative import in {path}"


def test_code_digest_ignores_comments_formatting_and_docstrings(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text('"""Module."""\n\ndef f(x):\n    """Doc."""\n    return x + 1  # one\n')
    b.write_text("def f( x ):\n    # a comment\n\n    return x+1\n")
    assert code_digest(a) == code_digest(b)
    b.write_text("def f(x):\n    return x + 2\n")
    assert code_digest(a) != code_digest(b)


def test_script_fingerprint_follows_imported_modules(tmp_path, monkeypatch):
    package = tmp_path / "ddei"
    shutil.copytree(REPO / "ddei", package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "PACKAGE_DIR", package)
    provenance._imports_of.cache_clear()
    scripts = ("train.py", "table.py", "cine_figure.py", "extract.py", "synthetic_data.py")
    before = {s: script_fingerprint(SCRIPTS / s) for s in scripts}
    for module in ("report/figures.py", "data/phantom.py"):
        (package / module).write_text((package / module).read_text() + "\nX = 1\n")
    provenance._imports_of.cache_clear()
    after = {s: script_fingerprint(SCRIPTS / s) for s in before}
    assert after["cine_figure.py"] != before["cine_figure.py"]
    assert after["synthetic_data.py"] != before["synthetic_data.py"]
    # the extraction (of real data too) and training never run the phantom: its anatomy reruns them only through
    # the synthetic data they read
    assert after["extract.py"] == before["extract.py"] and after["train.py"] == before["train.py"]
    assert after["table.py"] == before["table.py"]
    provenance._imports_of.cache_clear()


def test_script_fingerprint_covers_the_script_its_helpers_and_package_versions(tmp_path, monkeypatch):
    scripts = tmp_path / "scripts"
    shutil.copytree(SCRIPTS, scripts)
    before = script_fingerprint(scripts / "table.py")
    (scripts / "_preamble.py").write_text((scripts / "_preamble.py").read_text() + "\nX = 1\n")
    assert script_fingerprint(scripts / "table.py") != before
    (scripts / "_preamble.py").write_text((SCRIPTS / "_preamble.py").read_text())
    assert script_fingerprint(scripts / "table.py") == before
    (scripts / "table.py").write_text((scripts / "table.py").read_text() + "\nprint(1)\n")
    assert script_fingerprint(scripts / "table.py") != before
    (scripts / "table.py").write_text((SCRIPTS / "table.py").read_text())
    real = provenance.package_versions
    monkeypatch.setattr(provenance, "package_versions", lambda names: real(names) | {"pandas": "99"})
    assert script_fingerprint(scripts / "table.py") != before


def test_files_digest_is_content_not_location(tmp_path):
    for d in ("a", "b"):
        (tmp_path / d / "sub").mkdir(parents=True)
        (tmp_path / d / "sub" / "m.mat").write_bytes(b"mask")
        (tmp_path / d / "index.csv").write_text("x\n")
    a = files_digest([tmp_path / "a" / "index.csv", tmp_path / "a" / "sub"])
    assert a == files_digest([tmp_path / "b" / "index.csv", tmp_path / "b" / "sub"])
    (tmp_path / "b" / "sub" / "m.mat").write_bytes(b"mAsk")
    assert a != files_digest([tmp_path / "b" / "index.csv", tmp_path / "b" / "sub"])
    with pytest.raises(FileNotFoundError):
        files_digest([tmp_path / "missing.csv"])


@pytest.mark.parametrize("script", ["extract.py", "synthetic_data.py"])
def test_the_data_rules_import_neither_torch_nor_deepinv(script):
    """Extraction runs no deep learning: an upgrade of torch or deepinv must not rerun it (and with it everything).
    The acquired data once wrote its masks through ddei.mri.masks, which generates them with deepinv."""
    packages = fingerprint_parts(SCRIPTS / script)["packages"]
    assert not {"torch", "deepinv", "libcpab"} & set(packages), packages


def test_snakemakes_params_change_is_read_back_by_name():
    """Snakemake's reason joins the reprs of the params that changed with commas (commas inside them too); they are
    read back and paired with the recorded params by kind, so that the change is said in words."""
    from ddei.provenance.reasons import _pair, _values, differences

    before = "'0123456789abcdef',{'method': 'ddei', 'training': {'epochs': 1, 'lr': 0.001}, 'note': 'a, b'}"
    now = "{'method': 'ddei', 'training': {'epochs': 2, 'lr': 0.001}, 'note': 'a, b'},'fedcba9876543210'"
    assert _values(before) == ["0123456789abcdef", {"method": "ddei", "training": {"epochs": 1, "lr": 0.001},
                                                    "note": "a, b"}]  # fmt: skip
    assert _values("<nothing exclusive>") == [] and _values("{'unclosed': 1") is None
    then = {"code": "0123456789abcdef", "cfg": _values(before)[1], "seed": 3}
    old, new = _pair(then, _values(before), _values(now))
    assert old == {"code": "0123456789abcdef", "cfg": then["cfg"]}
    assert new == {"cfg": _values(now)[0], "code": "fedcba9876543210"}
    lines = differences(old, new)
    assert (
        "cfg: training.epochs: 1 -> 2" in lines and len(lines) == 2
    )  # and the code (no record of its parts here)
