"""Every shipped configuration runs end to end: each YAML file of ``config/`` and ``experiments/``
(:func:`shipped.shipped`), shrunk to tiny sizes on the CPU (:func:`shipped.shrink`), through the whole DAG:
training, evaluation and report rules. A new file in either folder is tested by being there.

The configurations run one after the other in one results folder, a copy of the finished tiny run: a job whose
shrunk settings an earlier configuration already ran is not run again (Snakemake's rerun rules, which
``tests/test_workflow.py`` tests), so each configuration runs what it adds (:data:`shipped.ORDER`). CI runs these
after ``make test`` (marker ``extended``); ``tests/test_config.py`` checks every file in-process in the suite.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from shipped import chain, merged, shipped, shrink
from test_workflow import clone_snakemake

pytestmark = pytest.mark.extended


@pytest.fixture(scope="module")
def shared_run(finished_run, tmp_path_factory):
    """A copy of the finished tiny run, which every configuration runs in, one after the other."""
    clone, _ = finished_run
    work = tmp_path_factory.mktemp("configs") / "clone"
    shutil.copytree(clone, work, symlinks=True)
    return work


@pytest.mark.parametrize("name", shipped())
def test_shipped_config_runs_end_to_end(shared_run, name):
    config = shrink(merged(*chain(name)), "results")
    result = clone_snakemake(shared_run, config)
    results = shared_run / "results"
    failed = [p for p in (results / "logs").rglob("*.log") if "Traceback" in p.read_text()]
    logs = "".join(f"\n--- {p.name}: {p.read_text()[-2000:]}" for p in failed)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:] + logs[-4000:]
    metrics = pd.read_csv(results / "metrics" / "all.csv")
    assert set(metrics.method) == {
        *config["methods"],
        *config.get("evaluation", {}).get("external", {}),
        "zf",
    }
    assert metrics[["psnr", "ssim", "nmse"]].notna().all().all()
    for table in ("results.md", "results.tex", "wilcoxon.csv"):
        assert (results / "tables" / table).stat().st_size > 0
    for figure in ("metrics_vs_acceleration.png", "validation_curves.png", "cine_acc4.gif", "frame_acc4.png"):
        assert (results / "figures" / figure).stat().st_size > 0
