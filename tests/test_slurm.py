"""The SLURM profile (profiles/slurm): dry runs without SLURM, and real runs on a single-node SLURM cluster.

The live tests start a private cluster on localhost with scripts/slurm.sh (munged + slurmctld + slurmd, as
root; CI installs slurm-wlm and munge with `scripts/slurm.sh install`) and run the workflow's first rules
through Snakemake's SLURM executor: every job is an sbatch job. There is no slurmdbd, so `sacct` does not
work and the runs use `--slurm-status-command squeue` (see profiles/slurm/config.yaml).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SLURM_SH = REPO / "scripts" / "slurm.sh"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
# The local cluster has no accounting database: poll squeue, and poll soon (the plugin's default is 40 s).
LOCAL_CLUSTER_ARGS = [
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--seconds-between-status-checks",
    "2",
]
SLURM_BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol")


def workflow_copy(root: Path) -> Path:
    """The workflow as a user checks it out (Snakefile, rules, configs, profiles, envs, the ddei package), in
    ``root``: its scripts import the ddei of their own workflow folder."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "Snakefile", root / "Snakefile")
    for folder in ("workflow", "config", "profiles", "envs", "ddei"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def tiny_config(results: Path, **train_resources) -> dict:
    """config/config.yaml, smaller (as in test_workflow.py), with results under ``results``."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["results"] = str(results)
    config["data"]["synthetic"] |= {"patients": 4, "lax_shape": [30, 24], "sax_shape": [32, 28]}
    config["data"]["train_fraction"] = 0.8  # 2 training patients, 1 validation patient, 1 test patient
    config["image_size"] = [32, 32]
    config["masks"]["accelerations"] = [4]  # one masks job: each SLURM job costs seconds of polling
    config["methods"] = ["sup", "ddei"]
    config["model"]["chans"] = 4
    config["training"] |= {"epochs": 1, "steps_per_epoch": 2, "seeds": [0]}
    config["resources"]["train"] |= train_resources
    return config


def snakemake(workdir: Path, *args: str, env: dict | None = None, timeout: float = 300):
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("DDEI_SLURM_", "SLURM_", "SNAKEMAKE_"))
    }
    result = subprocess.run(
        SNAKEMAKE + list(args),
        cwd=workdir,
        env=environ | (env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result, result.stdout + result.stderr


def rule_resources(log: str) -> dict[str, list[str]]:
    """The 'resources:' line of every job in a Snakemake log, by rule (main process only: `rule X:` blocks)."""
    out: dict[str, list[str]] = {}
    for m in re.finditer(r"^rule (\w+):\n((?:    .*\n)*)", log, re.M):
        res = re.search(r"^    resources: (.*)$", m[2], re.M)
        out.setdefault(m[1], []).append(res[1] if res else "")
    return out


# ---------------------------------------------------------------------------------------------------------------
# Dry runs: no SLURM needed (only the executor plugin, which requirements.txt installs).


@pytest.fixture(scope="module")
def dry_workdir(tmp_path_factory) -> Path:
    return workflow_copy(tmp_path_factory.mktemp("slurm-dry"))


@pytest.mark.parametrize("profile_option", ["--profile", "--workflow-profile"])
def test_profile_dry_run(dry_workdir, profile_option):
    config = tiny_config(dry_workdir / "results")
    (dry_workdir / "tiny.yaml").write_text(yaml.safe_dump(config))
    result, log = snakemake(dry_workdir, profile_option, "profiles/slurm", "--configfile", "tiny.yaml", "-n")
    assert result.returncode == 0, log[-3000:]
    resources = rule_resources(log)
    assert {"synthetic_data", "extract", "masks", "train", "evaluate", "collect_metrics"} <= set(resources)
    for line in resources["collect_metrics"]:  # a rule that declares none: the profile's default-resources
        assert "mem_mb=2000" in line and "runtime=60" in line and "slurm_partition=," in line, line
    for line in resources["train"]:  # gpu=0 in config/config.yaml: the plugin adds no --gpus
        assert "gpu=0" in line or "gpu=" not in line, line


def test_profile_settings(dry_workdir, monkeypatch):
    """`--workflow-profile profiles/slurm` replaces profiles/default; `--profile` would be overridden by it."""
    from snakemake.cli import parse_args

    monkeypatch.chdir(dry_workdir)
    _, args = parse_args(["--workflow-profile", "profiles/slurm"])
    assert args.executor == "slurm" and args.jobs == 100
    assert args.latency_wait == 60 and args.keep_going and args.rerun_incomplete
    assert args.slurm_keep_successful_logs
    assert {"mem_mb", "runtime", "slurm_partition", "slurm_account"} <= set(args.default_resources.keys())


def test_profile_partitions_and_gpus(dry_workdir):
    """Partitions from DDEI_SLURM_PARTITION / DDEI_SLURM_GPU_PARTITION; the paper's config asks for one GPU."""
    env = {"DDEI_SLURM_PARTITION": "cpuq", "DDEI_SLURM_GPU_PARTITION": "gpuq", "DDEI_SLURM_ACCOUNT": "proj1"}
    (dry_workdir / "data" / "CMRxRecon" / "SingleCoil" / "Cine").mkdir(
        parents=True, exist_ok=True
    )  # its data.root
    result, log = snakemake(
        dry_workdir,
        "--workflow-profile",
        "profiles/slurm",
        "--configfile",
        "config/paper.yaml",
        "--config",
        f"results={dry_workdir / 'paper-results'}",
        "-n",
        env=env,
    )
    assert result.returncode == 0, log[-3000:]
    resources = rule_resources(log)
    for rule in ("extract", "masks"):
        for line in resources[rule]:
            assert "slurm_partition=cpuq" in line and "slurm_account=proj1" in line and "gpu=" not in line, (
                line
            )
    for rule in ("train", "evaluate"):
        for line in resources[rule]:
            assert "slurm_partition=gpuq" in line and "gpu=1" in line, line
    assert all("mem_mb=32000" in line and "runtime=1440" in line for line in resources["train"])


# ---------------------------------------------------------------------------------------------------------------
# Real runs on a local single-node SLURM cluster.


def slurm_missing() -> str | None:
    missing = [
        b for b in SLURM_BINARIES if not shutil.which(b, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    ]
    if missing:
        return f"SLURM not installed (missing {', '.join(missing)}): run `scripts/slurm.sh install` (apt: slurm-wlm munge)"
    if os.geteuid() != 0:
        return "the local SLURM cluster (scripts/slurm.sh) runs its daemons as root"
    return None


def slurm_sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["bash", str(SLURM_SH), *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"scripts/slurm.sh {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def scontrol_job(jobid: str) -> dict[str, str]:
    out = subprocess.run(
        ["scontrol", "-o", "show", "job", jobid], capture_output=True, text=True, check=True
    ).stdout
    return dict(re.findall(r"(\w+)=(\S*)", out))


def node_memory_mb() -> int:
    out = subprocess.run(
        ["scontrol", "-o", "show", "node", "localhost"], capture_output=True, text=True
    ).stdout
    m = re.search(r"RealMemory=(\d+)", out)
    return int(m[1]) if m else 0


def submitted(log: str) -> dict[str, list[str]]:
    """SLURM job ids by rule, from the executor's 'Job N has been submitted with SLURM jobid M' lines."""
    jobs: dict[str, list[str]] = {}
    for m in re.finditer(r"submitted with SLURM jobid (\d+) \(log: .*?/slurm_logs/rule_(\w+?)/", log):
        jobs.setdefault(m[2], []).append(m[1])
    return jobs


@pytest.fixture(scope="module")
def slurm_cluster():
    reason = slurm_missing()
    if reason:
        pytest.skip(reason)
    was_running = slurm_sh("status", check=False).returncode == 0
    slurm_sh("start")
    yield
    if not was_running:
        slurm_sh("stop")


@pytest.mark.slurm
def test_local_cluster(slurm_cluster):
    assert "already running" in slurm_sh("start").stderr  # idempotent
    assert slurm_sh("status").returncode == 0
    sinfo = subprocess.run(["sinfo", "-h", "-o", "%P %G %T"], capture_output=True, text=True, timeout=60)
    assert sinfo.stdout.split()[:2] == ["local*", "gpu:1"], sinfo.stdout  # the default partition, one GPU
    assert sinfo.stdout.split()[2] in ("idle", "mixed", "allocated", "completing"), sinfo.stdout
    srun = subprocess.run(["srun", "-n1", "hostname"], capture_output=True, text=True, timeout=60)
    assert srun.returncode == 0 and srun.stdout.strip(), srun.stderr


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory):
    """extract and masks of the small synthetic configuration, run through SLURM with profiles/slurm."""
    workdir = workflow_copy(tmp_path_factory.mktemp("slurm-run"))
    results = workdir / "results"
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(tiny_config(results)))
    targets = [results / "extract" / "index.csv"] + [
        results / "masks" / f"TimeVaryingGaussianMask{a:02d}" for a in (4,)
    ]
    args = ["--workflow-profile", "profiles/slurm", *LOCAL_CLUSTER_ARGS, "--configfile", "tiny.yaml"]
    memory = node_memory_mb()
    if 0 < memory < 4200:  # small CI machines: the rules ask for up to 4 GB, which SLURM would refuse
        args += ["--set-resources", f"extract:mem_mb={memory // 2}", f"masks:mem_mb={memory // 4}"]
    result, log = snakemake(workdir, *args, "--", *map(str, targets))
    assert result.returncode == 0, log[-5000:]
    return workdir, results, log


@pytest.mark.slurm
@pytest.mark.extended  # 70 s of SLURM polling: kept out of `make test` (under 5 minutes); CI runs it right after
def test_first_rules_run_through_slurm(slurm_run):
    workdir, results, log = slurm_run
    assert (results / "extract" / "index.csv").is_file()
    for acc in (4,):
        assert any((results / "masks" / f"TimeVaryingGaussianMask{acc:02d}").rglob("*.mat"))
    jobs = submitted(log)
    assert {rule: len(ids) for rule, ids in jobs.items()} == {
        "synthetic_data": 1,
        "extract": 1,
        "masks": 1,
    }, log[-3000:]
    for rule, ids in jobs.items():
        for jobid in ids:
            # slurm-keep-successful-logs: the sbatch --output of every job stays
            assert list((workdir / ".snakemake" / "slurm_logs" / f"rule_{rule}").rglob(f"{jobid}.log")), (
                rule,
                jobid,
            )
            job = scontrol_job(jobid)  # slurmctld keeps finished jobs for MinJobAge (300 s)
            assert job["JobState"] == "COMPLETED", job
            assert job["WorkDir"] == str(workdir)
            assert "gpu" not in job.get("TresPerJob", ""), job  # gpu=0: no GPU request
    assert "Falling back to 'sacct'" not in log


@pytest.mark.slurm
@pytest.mark.extended  # a training job through SLURM: kept out of `make test` for its 5 minutes on CI
def test_gpu_training_job_asks_slurm_for_a_gpu(slurm_run):
    """resources.train.gpu = 1 (as in config/paper.yaml) makes the train job an `sbatch --gpus=1` job.

    The local node has one GPU whose device file is /dev/null (scripts/slurm.sh): SLURM schedules the job on
    it, and training runs on the CPU (training.device: auto)."""
    workdir, results, _ = slurm_run
    (workdir / "gpu.yaml").write_text(yaml.safe_dump(tiny_config(results, gpu=1, mem_mb=1000, runtime=10)))
    model = results / "models" / "sup" / "acc4" / "seed0" / "model.pt"
    result, log = snakemake(
        workdir,
        "--workflow-profile",
        "profiles/slurm",
        *LOCAL_CLUSTER_ARGS,
        "--configfile",
        "gpu.yaml",
        "--",
        str(model),
    )
    assert result.returncode == 0, log[-5000:]
    assert model.is_file()
    jobs = submitted(log)
    assert list(jobs) == ["train"], log[-3000:]  # extract and masks are not rerun
    job = scontrol_job(jobs["train"][0])
    assert job["JobState"] == "COMPLETED", job
    assert job.get("TresPerJob") == "gres:gpu:1", job
    assert job["TimeLimit"] == "00:10:00" and "mem=1000M" in job["TRES"], job
