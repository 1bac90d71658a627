"""The Snakemake workflow end to end on a tiny configuration, rerun semantics, and config validation."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from shipped import merged, shrink

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
#: What a clone of the workflow needs (its own code: edits of a clone's ddei/ must not touch the repository).
SOURCES = ("Snakefile", "workflow", "config", "ddei", "profiles", "envs")


def tiny_config(results: Path | str) -> dict:
    """The default configuration shrunk (:func:`shipped.shrink`), with the oracle and DDEI only."""
    return shrink(merged(), results) | {"methods": ["sup", "ddei"]}


def snakemake_command(workdir: Path, config: dict, *args: str, snakefile: Path | None = None) -> list[str]:
    """The command of :func:`snakemake`, with ``config`` written to ``workdir/config.yaml``."""
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    cmd = (
        SNAKEMAKE if snakefile is None else [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile)]
    )
    return cmd + ["--directory", str(workdir), "--configfile", str(configfile), "--cores", "2", *args]


def snakemake(
    workdir: Path, config: dict, *args: str, snakefile: Path | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    cmd = snakemake_command(workdir, config, *args, snakefile=snakefile)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)


def planned_jobs(result: subprocess.CompletedProcess) -> dict[str, int]:
    """Job counts from the 'Job stats' table of a run or a dry run."""
    output = result.stdout + result.stderr
    if "Job stats:" not in output:  # "Nothing to be done"
        return {}
    table = output.split("Job stats:")[1].split("\n\n")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}


def clone_repo(clone: Path) -> Path:
    """A copy of the workflow's sources in ``clone`` (its own code: edits of a clone's ddei/ must not touch the
    repository)."""
    for name in SOURCES:
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy2
        copy(
            REPO / name,
            clone / name,
            **({"ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree else {}),
        )
    return clone


def clone_snakemake(
    clone: Path, config: dict, *args: str, env: dict | None = None
) -> subprocess.CompletedProcess:
    return snakemake(clone, config, *args, snakefile=clone / "Snakefile", env=env)


@pytest.mark.slow
def test_end_to_end(finished_run):
    clone, config = finished_run
    results = clone / config["results"]
    metrics = pd.read_csv(results / "metrics" / "all.csv")
    assert set(metrics.method) == {"sup", "ddei", "zf"}
    assert metrics.groupby("method").size().eq(4).all()  # 1 test patient: 3 lax views + 1 sax slice
    assert metrics[["psnr", "ssim", "nmse"]].notna().all().all()
    for rule in ("extract", "train", "evaluate"):
        assert any((results / "logs").rglob(f"*{rule}*")), f"rule {rule} writes a log"
    assert list((results / "benchmarks" / "train").glob("*.tsv")), "train rules are benchmarked"
    assert not list((results / "checkpoints").glob("*.pt")), "a finished run leaves no checkpoint"


@pytest.mark.slow
def test_second_run_does_nothing(finished_run):
    clone, config = finished_run
    result = clone_snakemake(clone, config, "-n")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.slow
def test_changing_one_method_reruns_only_its_jobs(finished_run):
    clone, config = finished_run
    changed = config | {"method_overrides": {"ddei": {"training": {"epochs": 2}}}}
    result = clone_snakemake(clone, changed, "-n")
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = planned_jobs(result)
    assert jobs.get("train") == 1 and jobs.get("evaluate") == 1, jobs
    outputs = "\n".join(line for line in result.stdout.splitlines() if line.strip().startswith("output:"))
    assert "models/ddei/acc4/seed0/model.pt" in outputs
    assert "models/sup/" not in outputs and "metrics/zf/" not in outputs
    assert not {"extract", "masks", "synthetic_data"} & set(jobs)


#: The log of each rule that reads a log or a metrics table (tiny configuration: 4x only).
READER_LOGS = {
    "validation_figure": "logs/report/validation_figure.log",
    "training_figure": "logs/report/training_figure.log",
    "collect_metrics": "logs/collect_metrics.log",
    "table": "logs/report/table.log",
    "wilcoxon": "logs/report/wilcoxon.log",
    "metrics_figure": "logs/report/metrics_figure.log",
    "cine_figure": "logs/report/cine_acc4.log",
}


@pytest.mark.slow
@pytest.mark.parametrize(
    "table, readers",
    [
        ("models/ddei/acc4/seed0/val.csv", {"validation_figure"}),
        ("models/sup/acc4/seed0/loss.csv", {"training_figure"}),
        ("metrics/ddei/acc4/seed0.csv", {"collect_metrics"}),
        ("metrics/all.csv", {"table", "wilcoxon", "metrics_figure", "cine_figure"}),
    ],
)
def test_an_edited_table_stops_the_report_naming_it(finished_run, tmp_path, table, readers):
    """A number edited by hand in a log or a metrics table (the same size: only the content differs) stops the rule
    that reads it, with the file's name and the command that rebuilds it; no table shows the edited number."""
    finished, config = finished_run
    clone = tmp_path / "clone"
    shutil.copytree(finished, clone, symlinks=True)
    results = clone / config["results"]
    lines = (results / table).read_bytes().split(b"\n")
    row = lines[1].split(b",")
    column = next(i for i, value in enumerate(row) if re.fullmatch(rb"\d+\.\d{3,}\r?", value))
    row[column] = b"9" + row[column][1:]  # e.g. 21.78... -> 91.78..., the same size
    (results / table).write_bytes(b"\n".join([lines[0], b",".join(row), *lines[2:]]))
    before = (results / "tables" / "results.md").read_text()
    result = clone_snakemake(clone, config)
    said = result.stdout + result.stderr
    failed = set(re.findall(r"Error in rule (\w+)", said))
    assert result.returncode != 0 and failed and failed <= readers, said[-3000:]
    named = Path(config["results"]) / table  # as the rule names it, relative to the working directory
    message = (results / READER_LOGS[min(failed)]).read_text()
    assert f"{named}: its content differs from the checksum written with it" in message, message[-3000:]
    assert f"rebuild it with `snakemake --forcerun {named}`" in message
    shown = results / "tables" / "results.md"
    assert not shown.exists() or shown.read_text() == before


FIGURES = {"cine_figure", "metrics_figure", "training_figure", "validation_figure"}
REPORT = FIGURES | {"table", "wilcoxon", "all"}
DOWNSTREAM_OF_TRAIN = REPORT | {"train", "evaluate", "collect_metrics"}
EVERY_RULE = DOWNSTREAM_OF_TRAIN | {"synthetic_data", "extract", "masks"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "module, edit, expected",
    [
        ("ddei/report/figures.py", "code", FIGURES | {"all"}),
        ("ddei/report/tables.py", "code", REPORT),
        ("ddei/report/style.py", "colour", REPORT),  # presentation: report rules only, never a training
        ("ddei/methods/registry.py", "code", DOWNSTREAM_OF_TRAIN),
        ("ddei/runs/evaluation.py", "code", DOWNSTREAM_OF_TRAIN - {"train", "training_figure", "validation_figure"}),
        ("ddei/data/extract.py", "code", DOWNSTREAM_OF_TRAIN | {"extract", "masks"}),
        ("ddei/data/phantom.py", "code", EVERY_RULE),  # synthetic data and all after
        ("workflow/scripts/_preamble.py", "code", EVERY_RULE),  # every script runs it
        ("ddei/methods/registry.py", "comment", set()),
        ("ddei/runs/training.py", "docstring", set()),
    ],
)  # fmt: skip
def test_code_edits_rerun_what_they_affect(finished_run, tmp_path, module, edit, expected):
    """An edit of a ddei module replans exactly the rules whose scripts import it (and what depends on their
    outputs); comments, formatting and docstrings do not count."""
    finished, config = finished_run
    clone = tmp_path / "clone"
    shutil.copytree(finished, clone, symlinks=True)  # a copy: other processes read the original meanwhile
    path = clone / module
    original = path.read_text()
    added = {
        "code": "\n_EDITED = 1\n",
        "comment": "\n# a comment\n\n",
        "docstring": "",
        "colour": "",
    }[edit]
    edited = original + added
    if edit == "docstring":
        edited = original.replace('"""', '"""Edited. ', 1)
    if edit == "colour":
        edited = original.replace('"DDEI (ours)", "#d62728"', '"DDEI (ours)", "#aa0000"')
        assert edited != original
    path.write_text(edited)
    result = clone_snakemake(clone, config, "-n")
    assert result.returncode == 0, result.stderr[-2000:]
    assert set(planned_jobs(result)) == expected, result.stdout[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize(
    "package, expected",
    [("seaborn", FIGURES | {"all"}), ("deepinv", EVERY_RULE - {"synthetic_data", "extract"})],
)
def test_a_new_package_version_reruns_the_rules_that_import_it(finished_run, tmp_path, package, expected):
    """A distribution of another version found first on the path (as after an upgrade) replans exactly the rules
    whose code imports it: seaborn the figures, deepinv the masks and everything from training on."""
    import importlib.metadata

    clone, config = finished_run
    dist = importlib.metadata.distribution(package)
    fake = tmp_path / "site" / f"{dist.metadata['Name']}-99.0.dist-info"
    fake.mkdir(parents=True)
    (fake / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist.metadata['Name']}\nVersion: 99.0\n")
    top_level = package if package != "seaborn" else "seaborn"
    (fake / "top_level.txt").write_text(f"{top_level}\n")
    (fake / "RECORD").write_text(f"{top_level}/__init__.py,,\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    result = clone_snakemake(clone, config, "-n", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert set(planned_jobs(result)) == expected, result.stdout[-3000:]


@pytest.mark.slow
def test_imported_masks_are_used_and_a_replaced_one_reruns_masks_and_after(finished_run, tmp_path):
    """masks.import_dir: the workflow checks and uses masks from a folder in the paper's layout (byte for byte);
    a mask file replaced under the same path replans the masks (and so everything after them)."""
    clone, config = finished_run
    work = tmp_path / "clone"
    shutil.copytree(clone, work, symlinks=True)
    published = tmp_path / "published"
    shutil.copytree(work / config["results"] / "masks", published)
    imported = config | {"masks": config["masks"] | {"import_dir": str(published)}}
    shutil.rmtree(work / config["results"] / "masks")
    target = f"{config['results']}/masks/TimeVaryingGaussianMask04"
    first = clone_snakemake(work, imported, target)
    assert first.returncode == 0, first.stderr[-3000:]
    ours = sorted(p.relative_to(published) for p in published.rglob("*.mat"))
    used = work / config["results"] / "masks"
    assert ours and ours == sorted(p.relative_to(used) for p in used.rglob("*.mat"))
    assert all((published / rel).read_bytes() == (used / rel).read_bytes() for rel in ours)
    assert planned_jobs(clone_snakemake(work, imported, "-n", target)) == {}
    mask = sorted(published.rglob("*.mat"))[0]
    mask.write_bytes(mask.read_bytes())  # the same path, a new file (as a download would replace it)
    os.utime(mask, ns=(mask.stat().st_atime_ns, mask.stat().st_mtime_ns + 10**9))
    result = clone_snakemake(work, imported, "-n", target)
    assert planned_jobs(result) == {"masks": 1}, result.stdout[-3000:]
    assert "Params have changed" in result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.extended  # kept out of `make test` for its 5 minutes on CI
def test_forced_rerun_trains_from_scratch(finished_run, tmp_path):
    """docs/usage.md: `snakemake --forcerun <model.pt>` retrains that model (from epoch 0), to the same weights."""
    finished, config = finished_run
    clone = tmp_path / "clone"
    shutil.copytree(finished, clone, symlinks=True)  # a copy: the others keep their up-to-date outputs
    results = clone / config["results"]
    model = "results/models/ddei/acc4/seed0/model.pt"
    before = torch.load(clone / model, weights_only=True)
    result = clone_snakemake(clone, config, "--forcerun", model, "--", model)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (results / "logs" / "train" / "ddei_acc4_seed0.log").read_text()
    assert "Resuming" not in log
    assert pd.read_csv(results / "models" / "ddei" / "acc4" / "seed0" / "loss.csv").epoch.tolist() == [1]
    after = torch.load(clone / model, weights_only=True)
    assert after["run_id"] == before["run_id"]  # same code, data and config: the same model, trained again
    assert all(torch.equal(after["state_dict"][k], v) for k, v in before["state_dict"].items())
    assert "Nothing to be done" in clone_snakemake(clone, config, "-n", "--", model).stdout
    downstream = planned_jobs(clone_snakemake(clone, config, "-n"))
    assert downstream.get("evaluate") == 1 and "train" not in downstream  # what uses it reruns


@pytest.mark.slow
@pytest.mark.extended  # kept out of `make test` for its 5 minutes on CI
def test_split_change_retrains_from_scratch(finished_run, tmp_path):
    """A new patient split reruns extract -> masks -> train, and training starts afresh on the new data (an
    interrupted checkpoint of the old split is ignored)."""
    finished, config = finished_run
    clone = tmp_path / "clone"
    shutil.copytree(finished, clone, symlinks=True)  # a copy: the other tests keep the original split
    results = clone / config["results"]
    from ddei.data.extract import patient_split

    patients = [f"P{i:03d}" for i in range(1, 5)]
    seed = next(
        s for s in range(1, 100) if patient_split(patients, 0.8, s) != patient_split(patients, 0.8, 0)
    )
    changed = config | {"data": config["data"] | {"split_seed": seed}}
    jobs = planned_jobs(clone_snakemake(clone, changed, "-n"))
    assert {"extract", "masks", "train", "evaluate"} <= set(jobs) and "synthetic_data" not in jobs
    old = torch.load(results / "models" / "ddei" / "acc4" / "seed0" / "model.pt", weights_only=True)
    # an interrupted run of the old split, as a kill would leave it
    ckpt = results / "checkpoints" / "ddei_acc4_seed0.pt"
    ckpt.parent.mkdir(exist_ok=True)
    from ddei.runs.weights import save_state

    save_state(ckpt, {"run_id": old["run_id"], "settings": {}, "epoch": 0, "model": {}, "optimizer": {},
                      "random": {}, "log": [], "val": [], "torch": str(torch.__version__), "complete": False}, ())  # fmt: skip
    model = "results/models/ddei/acc4/seed0/model.pt"
    result = clone_snakemake(clone, changed, model)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (results / "logs" / "train" / "ddei_acc4_seed0.log").read_text()
    assert "Resuming" not in log and "another run" in log
    new = torch.load(clone / model, weights_only=True)
    assert new["run_id"] != old["run_id"]
    assert pd.read_csv(results / "models" / "ddei" / "acc4" / "seed0" / "loss.csv").epoch.tolist() == [1]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"methods": ["ddei", "noise2noise"]}, "noise2noise"),  # ddei.methods.config.check_config
        ({"trainig": {}}, "trainig"),  # the schema
    ],
)
def test_invalid_config_is_refused_readably(tmp_path, change, message):
    """The messages reach the user through Snakemake, in a few lines (no schema dump; every case is in
    tests/test_config.py, in-process)."""
    result = snakemake(tmp_path, tiny_config(tmp_path / "results") | change, "-n")
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert len((result.stdout + result.stderr).strip().splitlines()) <= 6


@pytest.mark.parametrize("case", ["missing", "without SingleCoil"])
def test_a_missing_data_root_is_refused_at_a_dry_run(tmp_path, case):
    """A plain `snakemake -n` with data.root at a folder that does not exist (or that holds no SingleCoil/Cine)
    refuses it, naming the folder, and plans nothing."""
    root = tmp_path / "CMRxRecon"
    if case == "without SingleCoil":
        (root / "Cine").mkdir(parents=True)
    config = tiny_config(tmp_path / "results")
    config["data"] = config["data"] | {"source": "cmrxrecon", "root": str(root)}
    result = snakemake(tmp_path, config, "-n")
    said = result.stdout + result.stderr
    assert result.returncode != 0, said[-2000:]
    what = "does not exist" if case == "missing" else "holds no SingleCoil/Cine/ folder"
    assert f"data.root: {root} {what}; point data.root at the CMRxRecon folder" in said, said[-2000:]
    assert "Job stats" not in said and not (tmp_path / "results").exists()


@pytest.mark.slow
def test_the_workflow_lints_clean():
    result = subprocess.run(SNAKEMAKE + ["--directory", str(REPO), "--lint"], capture_output=True, text=True)
    assert result.returncode == 0 and "Congratulations" in result.stdout + result.stderr, result.stdout[
        -2000:
    ]


def test_t_ssdu_star_uses_t_ssdus_training(tmp_path):
    config = tiny_config(tmp_path / "results") | {"methods": ["t-ssdu*", "ddei"]}
    result = snakemake(tmp_path, config, "-n")
    assert result.returncode == 0, result.stderr[-2000:]
    assert planned_jobs(result)["train"] == 2  # t-ssdu (for t-ssdu*) and ddei
    assert "models/t-ssdu/acc4/seed0/model.pt" in result.stdout and "models/t-ssdu-star/" not in result.stdout
    assert "metrics/t-ssdu-star/acc4/seed0.csv" in result.stdout


def _without(config: dict, dotted: str) -> dict:
    config = copy.deepcopy(config)
    *parents, key = dotted.split(".")
    node = config
    for p in parents:
        node = node[p]
    del node[key]
    return config


def test_missing_required_key_is_named(tmp_path):
    result = snakemake(tmp_path, _without(tiny_config(tmp_path / "results"), "training.seeds"), "-n")
    assert result.returncode != 0
    assert "'seeds' is a required property" in result.stdout + result.stderr


def test_missing_optional_keys_take_the_schemas_defaults(tmp_path):
    config = tiny_config(tmp_path / "results")
    for key in (
        "model.name",
        "evaluation",
        "resources",
        "training.device",
        "training.threads",
        "transform_mode",
        "split_ratio",
        "eval_n_samples",
        "normalisation",
        "noise_sigma",
        "method_overrides",
        "data.split_seed",
    ):
        config = _without(config, key)  # fmt: skip
    result = snakemake(tmp_path, config, "-n")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert planned_jobs(result).get("train") == 2


@pytest.mark.slow
@pytest.mark.extended  # kept out of `make test` for its 5 minutes on CI
def test_external_model_is_evaluated_as_its_own_row(finished_run, tmp_path):
    """evaluation.external: a reference-format checkpoint (the reference's released DDEI CRNN) is evaluated like
    any method, compared with the reference method, and shown as its own table row."""
    from reference_crnn import from_ours

    from ddei.mri.models import CRNN

    clone, config = finished_run
    work = tmp_path / "clone"
    shutil.copytree(clone, work, symlinks=True)
    torch.manual_seed(5)
    released = from_ours(CRNN(chans=4))  # the reference's module tree, random weights
    torch.save({"state_dict": released.state_dict(), "epoch": 50}, work / "released.pt")
    changed = config | {"evaluation": {"external": {"released": "released.pt"}}}
    result = clone_snakemake(work, changed, "results/tables/results.md", "results/tables/wilcoxon.csv")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    jobs = planned_jobs(result)
    assert "train" not in jobs and jobs.get("evaluate") == 1, jobs
    assert "| *External* |" in (work / "results" / "tables" / "results.md").read_text()
    assert "| released |" in (work / "results" / "tables" / "results.md").read_text()
    tests = pd.read_csv(work / "results" / "tables" / "wilcoxon.csv")
    assert "released" in set(tests["method"])


@pytest.mark.slow
@pytest.mark.extended  # kept out of `make test` for its 5 minutes on CI
def test_the_report_knows_its_age(finished_run, tmp_path):
    """The report states the stamp of the results it shows and this checkout's, and after a configuration change it
    warns, in the report and on the console, that the workflow still has jobs to run."""
    finished, config = finished_run
    clone = tmp_path / "clone"
    shutil.copytree(finished, clone, symlinks=True)
    report = clone / "report.html"
    fresh = clone_snakemake(clone, config, "--report", str(report))
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    assert "up to date" in report.read_text() and "WARNING" not in fresh.stderr
    changed = config | {"training": config["training"] | {"epochs": 2}}
    stale = clone_snakemake(clone, changed, "--report", str(report))
    assert stale.returncode == 0, stale.stderr[-3000:]
    assert "WARNING: These results are not up to date" in stale.stderr
    html = report.read_text()
    assert "not up to date" in html and "job(s) to run" in html


@pytest.mark.slow
@pytest.mark.extended  # kept out of `make test` for its 5 minutes on CI
def test_a_rerun_says_which_part_changed(finished_run, tmp_path):
    """After an edit of a ddei module, of _preamble.py and of the run configuration, `python -m
    ddei.provenance.reasons <output>` names the code that changed before anything runs, and the job's log begins with
    every change: the module, the helper, the setting with its old and new values."""
    finished, config = finished_run
    clone = tmp_path / "clone"
    shutil.copytree(finished, clone, symlinks=True)
    model = "results/models/ddei/acc4/seed0/model.pt"
    for name in ("ddei/mri/losses.py", "workflow/scripts/_preamble.py"):
        (clone / name).write_text((clone / name).read_text() + "\n_EDITED = 1\n")
    explain = subprocess.run([sys.executable, "-m", "ddei.provenance.reasons", model], cwd=clone, capture_output=True,
                             text=True, env=dict(os.environ, PYTHONPATH=str(clone)))  # fmt: skip
    assert explain.returncode == 0, explain.stderr
    said = explain.stdout
    assert "made by rule train" in said and "ddei module ddei.mri.losses: edited" in said
    assert "_preamble.py: edited" in said and '"epochs": 1' in said
    changed = config | {"training": config["training"] | {"epochs": 2}}
    result = clone_snakemake(clone, changed, "--", model)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (clone / "results" / "logs" / "train" / "ddei_acc4_seed0.log").read_text()
    assert log.startswith("Why rule train runs:")
    for line in ("code: ddei module ddei.mri.losses: edited", "code: the script or its helper _preamble.py: edited",
                 "cfg: training.epochs: 1 -> 2"):  # fmt: skip
        assert line in log, log[:2000]


@pytest.mark.slow
def test_one_command_says_why_every_planned_job_runs(tmp_path):
    """`python -m ddei.provenance.reasons --planned -- ARGS` lists every job `snakemake -n ARGS` plans, with what
    changed in words (the setting with its old and new values, the code's part) where Snakemake shows the params'
    values and hashes, and Snakemake's own reason for the others."""
    (tmp_path / "clone").mkdir()
    clone = clone_repo(tmp_path / "clone")
    config = tiny_config("results")
    target = "results/synthetic/CMRxRecon"
    assert clone_snakemake(clone, config, target).returncode == 0
    changed = copy.deepcopy(config)
    changed["data"]["synthetic"]["seed"] = 1
    phantom = clone / "ddei" / "data" / "phantom.py"
    phantom.write_text(phantom.read_text() + "\n_EDITED = 1\n")
    args = snakemake_command(
        clone, changed, target, "results/extract/index.csv", snakefile=clone / "Snakefile"
    )[3:]
    said = subprocess.run([sys.executable, "-m", "ddei.provenance.reasons", "--planned", "--", *args], cwd=clone,
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(clone)), timeout=300)  # fmt: skip
    assert said.returncode == 0, said.stderr[-3000:]
    jobs = said.stdout.split("rule ")[1:]
    assert [job.split(":")[0] for job in jobs] == ["synthetic_data", "extract"], said.stdout
    assert (
        "  - synthetic: seed: 0 -> 1\n" in jobs[0]
        and "  - code: ddei module ddei.data.phantom: edited" in jobs[0]
    )
    assert "Params have changed" not in said.stdout, said.stdout  # said in words instead
    assert "  - Input files updated by another job: results/synthetic/CMRxRecon" in jobs[1], said.stdout


def job_priorities(result: subprocess.CompletedProcess, rule: str) -> dict[str, int]:
    """``{method: priority}`` of a rule's jobs in a dry run's listing (Snakemake prints a priority only if not 0)."""
    out = {}
    for block in (result.stdout + result.stderr).split("\n\n"):
        if re.search(rf"^rule {rule}:", block, re.M):
            method = re.search(r"wildcards: method=([^,\s]+)", block)
            priority = re.search(r"priority: (\d+)", block)
            if method:
                out[method[1]] = int(priority[1]) if priority else 0
    return out


def test_the_longest_training_runs_start_first(tmp_path):
    """On 2 cores the default run took 645 s with a DDEI training run started last, and 515 s once the longest start
    first (AMD EPYC without AVX-512, 2026-12-03): the train jobs' priority is their relative cost."""
    config = tiny_config(tmp_path / "results") | {"methods": ["sup", "ddei", "t-ssdu*"]}
    result = snakemake(tmp_path, config, "-n")
    assert result.returncode == 0, result.stderr[-2000:]
    train = job_priorities(result, "train")
    assert set(train) == {"sup", "ddei", "t-ssdu"}
    assert train["ddei"] > train["sup"] == train["t-ssdu"] > 0, train
    assert set(job_priorities(result, "evaluate").values()) == {0}
