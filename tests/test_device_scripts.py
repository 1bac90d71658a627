"""The GPU path kept alive without a GPU (issue 22): the prepared device sessions run end to end in their CPU smoke
mode (SMOKE=1: tiny sizes, a few steps, bf16 and torch.compile on), writing under $OUT what a GPU session brings
back. CI runs these after `make test` (marker `extended`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from test_workflow import REPO, clone_repo

pytestmark = pytest.mark.extended

#: What each script brings back under $OUT.
EXPECTED = {
    "device_session.sh": ["smoke.log", "bench_paper.json", "experiment.log", "gpu_used.yaml", "calibration.json",
                          "snakemake.log", "results.tgz"],
    "converge_device.sh": ["smoke.log", "steps.json", "snakemake.log", "convergence_cpu.md", "results.tgz"],
}  # fmt: skip


@pytest.mark.parametrize("script", list(EXPECTED))
def test_the_device_script_runs_in_its_cpu_smoke_mode(script, tmp_path):
    (tmp_path / "clone").mkdir()
    clone = clone_repo(tmp_path / "clone")
    shutil.copytree(
        REPO / "benchmarks", clone / "benchmarks", ignore=shutil.ignore_patterns("__pycache__", "out")
    )
    out = tmp_path / "out"
    env = dict(os.environ, SMOKE="1", OUT=str(out), PY=sys.executable)
    result = subprocess.run(["bash", f"benchmarks/{script}"], cwd=clone, env=env, capture_output=True, text=True,
                            timeout=600)  # fmt: skip
    said = result.stdout + result.stderr
    assert result.returncode == 0 and "SMOKE FAILED" not in said, said[-4000:]
    logs = "".join(p.read_text() for p in clone.rglob("logs/train/*.log"))
    assert "compiled the network in" in logs  # the train jobs ran compiled, in bf16
    for name in EXPECTED[script]:
        assert (out / name).stat().st_size > 0, f"{name} missing: {said[-3000:]}"
    assert "rc 0" in said, said[-3000:]
