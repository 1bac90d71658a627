"""The GPU scripts checked without a GPU: gpu/device_session.sh and gpu/converge_device.sh run end to end in their CPU
smoke mode (SMOKE=1: tiny sizes, a few steps, bf16 and torch.compile on), writing into their output folder what a
GPU run brings back. CI runs these after `make test` (marker `extended`)."""

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


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory) -> dict:
    """Both scripts at once, each in its own clone: much of each is single-threaded start-up, so together they keep
    CI's 2 cores busy (132 s against 161 s one after the other on an AMD EPYC without AVX-512, 2026-12-03)."""
    runs = {}
    for script in EXPECTED:
        root = tmp_path_factory.mktemp(script.split(".")[0])
        (root / "clone").mkdir()
        clone = clone_repo(root / "clone")
        for folder in ("benchmarks", "experiments", "gpu"):
            shutil.copytree(
                REPO / folder, clone / folder, ignore=shutil.ignore_patterns("__pycache__", "out")
            )
        out = root / "out"
        env = dict(os.environ, SMOKE="1", PY=sys.executable)
        proc = subprocess.Popen(["bash", f"gpu/{script}", str(out)], cwd=clone, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)  # fmt: skip
        runs[script] = (proc, clone, out)
    done = {}
    for script, (proc, clone, out) in runs.items():
        said, _ = proc.communicate(timeout=600)
        done[script] = (proc.returncode, said, clone, out)
    return done


@pytest.mark.parametrize("script", list(EXPECTED))
def test_the_device_script_runs_in_its_cpu_smoke_mode(script, smoke_runs):
    returncode, said, clone, out = smoke_runs[script]
    assert returncode == 0 and "SMOKE FAILED" not in said, said[-4000:]
    logs = "".join(p.read_text() for p in clone.rglob("logs/train/*.log"))
    assert "compiled the network in" in logs  # the train jobs ran compiled, in bf16
    for name in EXPECTED[script]:
        assert (out / name).stat().st_size > 0, f"{name} missing: {said[-3000:]}"
    assert "rc 0" in said, said[-3000:]
