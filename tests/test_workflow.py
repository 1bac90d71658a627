"""The Snakemake workflow end to end on a tiny configuration, rerun semantics, and config validation."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]


def tiny_config(results: Path) -> dict:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["results"] = str(results)
    config["data"]["synthetic"] |= {"patients": 4, "lax_shape": [30, 24], "sax_shape": [32, 28]}
    config["masks"]["accelerations"] = [4]
    config["image_size"] = [32, 32]
    config["methods"] = ["sup", "ddei"]
    config["model"]["chans"] = 4
    config["training"] |= {"epochs": 1, "steps_per_epoch": 2}
    return config


def snakemake(workdir: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    cmd = SNAKEMAKE + ["--directory", str(workdir), "--configfile", str(configfile), "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


def planned_jobs(result: subprocess.CompletedProcess) -> dict[str, int]:
    """Job counts from the 'Job stats' table of a dry run."""
    table = result.stdout.split("Job stats:")[-1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    config = tiny_config(workdir / "results")
    result = snakemake(workdir, config)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir, config


@pytest.mark.slow
def test_end_to_end(finished_run):
    workdir, config = finished_run
    results = Path(config["results"])
    metrics = pd.read_csv(results / "metrics" / "all.csv")
    assert set(metrics.method) == {"sup", "ddei", "zf"}
    assert metrics.groupby("method").size().eq(4).all()  # 1 test patient: 3 lax views + 1 sax slice
    assert metrics[["psnr", "ssim", "nmse"]].notna().all().all()
    for rule in ("extract", "train", "evaluate"):
        assert any((results / "logs").rglob(f"*{rule}*")), f"rule {rule} writes a log"
    assert list((results / "benchmarks" / "train").glob("*.tsv")), "train rules are benchmarked"
    assert (results / "checkpoints" / "ddei_acc4_seed0.pt").is_file(), "checkpoints are kept"


@pytest.mark.slow
def test_second_run_does_nothing(finished_run):
    workdir, config = finished_run
    result = snakemake(workdir, config, "-n")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.slow
def test_changing_one_method_reruns_only_its_jobs(finished_run):
    workdir, config = finished_run
    changed = config | {"method_overrides": {"ddei": {"training": {"epochs": 2}}}}
    result = snakemake(workdir, changed, "-n")
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = planned_jobs(result)
    assert jobs.get("train") == 1 and jobs.get("evaluate") == 1, jobs
    outputs = "\n".join(line for line in result.stdout.splitlines() if line.strip().startswith("output:"))
    assert "models/ddei/acc4/seed0/model.pt" in outputs
    assert "models/sup/" not in outputs and "metrics/zf/" not in outputs
    assert not {"extract", "masks", "synthetic_data"} & set(jobs)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"methods": ["ddei", "noise2noise"]}, "noise2noise"),
        ({"image_size": [32]}, "image_size"),
        ({"trainig": {}}, "trainig"),
        ({"methods": ["ddei-sure"]}, "noise_sigma > 0"),
        (
            {
                "data": {
                    "source": "cmrxrecon",
                    "root": None,
                    "lax_slices": -1,
                    "sax_slices": 1,
                    "train_fraction": 0.8,
                    "split_seed": 0,
                }
            },
            "data.root",
        ),
    ],
)
def test_invalid_config_is_refused_readably(tmp_path, change, message):
    result = snakemake(tmp_path, tiny_config(tmp_path / "results") | change, "-n")
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


@pytest.mark.slow
def test_workflow_imports_published_masks(finished_run, tmp_path):
    """masks.import_dir: the workflow checks and uses masks from a folder in the paper's layout."""
    _, config = finished_run
    published = Path(config["results"]) / "masks"  # stands in for the paper's published TimeVaryingGaussianMaskXX
    imported = tiny_config(tmp_path / "results")
    imported["masks"]["import_dir"] = str(published)
    target = str(tmp_path / "results" / "masks" / "TimeVaryingGaussianMask04")
    result = snakemake(tmp_path, imported, target)
    assert result.returncode == 0, result.stderr[-3000:]
    ours = sorted(p.relative_to(published) for p in published.rglob("*.mat"))
    assert ours and ours == sorted(p.relative_to(Path(target).parent) for p in Path(target).rglob("*.mat"))
    for rel in ours:
        assert (published / rel).read_bytes() == (Path(target).parent / rel).read_bytes()
