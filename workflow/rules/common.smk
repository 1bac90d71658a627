# Configuration validation, paths and input functions shared by all rules.

import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
import yaml
from snakemake.utils import validate

sys.path.insert(0, workflow.basedir)  # the ddei package of this workflow's own source tree

from ddei.methods.config import ConfigError, RunConfig, check_config, method_config, methods_of
from ddei.methods.schema import schema_error
from ddei.mri.metrics import PAPER_METRICS
from ddei.io.layout import (
    ALL_METRICS, CHECKPOINT, EXTRACTION, INDEX, LOSS, MASK_FOLDER_PREFIX, MASKS, METRICS, MODEL, RECON, RUN_NAME,
    SLICES, SPLIT, VAL, VIEWS,
    RECONSTRUCTION, accfactor_dir, accfactor_name, mask_folder_name, reconstruction, result, slug,
)
from ddei.provenance.fingerprints import stat_digest
from ddei.provenance.reasons import remember
from ddei.provenance.records import record_path

_error = schema_error(config, yaml.safe_load((Path(workflow.basedir) / "workflow/schemas/config.schema.yaml").read_text()))
if _error:
    raise WorkflowError(f"Invalid configuration: {_error}")
validate(config, schema="../schemas/config.schema.yaml")  # fills in every default
try:
    check_config(config)
except ConfigError as e:
    raise WorkflowError(f"Invalid configuration: {e}") from None


def results_path(path=""):
    """A path under the results folder."""
    return str(Path(config["results"]) / path)


CATALOGUE = methods_of(config)  # registry + variants + external models (ddei.methods.registry.catalogue)
TRAINED = list(config["methods"])  # the trained methods and variants, in the config's order
TRAINING_RUNS = list(dict.fromkeys(CATALOGUE[m].trained_as for m in TRAINED))  # t-ssdu* uses t-ssdu's model
EXTERNAL = list(config["evaluation"]["external"])
EVALUATED = TRAINED + EXTERNAL  # plus zf, always
METHOD_OF_SLUG = {slug(m): m for m in EVALUATED + TRAINING_RUNS + ["zf"]}
ACCELERATIONS = [int(a) for a in config["masks"]["accelerations"]]
ACQUIRED = config["data"]["measurements"] == "acquired"  # the release's undersampled scans (ddei.data.acquired)
SEEDS = [int(s) for s in config["training"]["seeds"]]
REPORT_SEED = SEEDS[0]  # the seed whose reconstructions are shown (zero-filled and external models: evaluated once)
GPU = config["resources"]["train"]["gpu"]


wildcard_constraints:
    method="|".join(re.escape(s) for s in METHOD_OF_SLUG),
    cmrset="TrainingSet|ValidationSet",
    patient=r"P\d+",
    view="lax|sax",
    acc=r"\d+",
    seed=r"\d+",
    acc2=r"\d\d",


def get_code_fingerprint(script):
    """Fingerprint of the ddei code a rule's script runs (ddei.provenance.fingerprints): a param of the rule, so that an
    edit of that code reruns the rule (and what depends on it), and nothing else. Its parts are kept, so that the
    job's log says which part changed (ddei.provenance.reasons)."""
    return remember(Path(workflow.basedir) / "workflow" / "scripts" / script)


def get_run_config(wildcards):
    """The resolved settings of the method's runs (ddei.methods.config.method_config): a param of its rules, so that
    changing one method's settings reruns only its jobs."""
    return method_config(config, METHOD_OF_SLUG[wildcards.method])


def get_train_priority(wildcards):
    """Longest training runs first (ddei.methods.config.RunConfig.training_cost), so that the cores finish
    together rather than one waiting on the last long run; evaluations and reports keep priority 0."""
    return RunConfig.from_dict(get_run_config(wildcards)).training_cost()


def get_catalogue_params():
    """What the report rules need to know of variants and external models (labels, colours, kinds)."""
    return {"variants": config["variants"], "externals": EXTERNAL}


def get_data_root():
    if config["data"]["source"] == "synthetic":
        return results_path("synthetic/CMRxRecon")
    return config["data"]["root"]


def get_synthetic_input(wildcards):
    return [results_path("synthetic/CMRxRecon")] if config["data"]["source"] == "synthetic" else []


def get_mask_folder(acceleration):
    """The mask folder of an acceleration: generated or imported k-t masks, or the acquired scans' own masks."""
    return results_path(f"{MASKS}/{(accfactor_name if ACQUIRED else mask_folder_name)(int(acceleration))}")


def get_mask_dir(wildcards):
    return get_mask_folder(wildcards.acc)


def get_path_digest(*paths):
    """Digest of data that a job reads by path rather than as an input (imported masks, the real CMRxRecon data, a
    scan to reconstruct and its mask): a param, so that a file replaced under the same path reruns the rule
    (ddei.provenance.fingerprints.stat_digest)."""
    paths = [p for p in paths if p]
    return stat_digest(paths) if paths else None


def get_model_input(wildcards):
    method = METHOD_OF_SLUG[wildcards.method]
    if method in TRAINED:
        run = slug(CATALOGUE[method].trained_as)
        return {"model": results_path(result(MODEL, run, wildcards.acc, wildcards.seed))}
    if method in EXTERNAL:
        return {"model": config["evaluation"]["external"][method]}
    return {}


def get_gpu_share(wildcards):
    return config["resources"]["train"]["gpu_share"] if GPU else 0


def get_evaluations():
    """(method slug, acceleration, seed) of every evaluation; zf and external models once per acceleration."""
    out = [(slug(m), a, s) for m in TRAINED for a in ACCELERATIONS for s in SEEDS]
    return out + [(slug(m), a, REPORT_SEED) for m in ["zf"] + EXTERNAL for a in ACCELERATIONS]


ALL_METRICS_RECORD = str(record_path(results_path(ALL_METRICS)))  # all.csv's checksum (ddei.provenance.records)


def get_metric_files():
    return [results_path(result(METRICS, m, a, s)) for m, a, s in get_evaluations()]


def get_training_runs():
    """(method, acceleration, seed) of every training run."""
    return [(m, a, s) for m in TRAINING_RUNS for a in ACCELERATIONS for s in SEEDS]


# Reconstruction of undersampled scans (config `reconstruct`, workflow/rules/reconstruct.smk)
RECONSTRUCT = config["reconstruct"]
RECON_METHOD = RECONSTRUCT["method"] or config["evaluation"]["reference"]
RECON_SEED = RECONSTRUCT["seed"] if RECONSTRUCT["seed"] is not None else REPORT_SEED
RECON_ACCS = [int(a) for a in (RECONSTRUCT["accelerations"] or ACCELERATIONS)]
SYNTHETIC_SCANS = RECONSTRUCT["input"] == "synthetic"  # this workflow's synthetic data, whose scans the config names
RECON_MODEL = slug(RECON_METHOD) if RECON_METHOD in EXTERNAL else f"{slug(RECON_METHOD)}_seed{RECON_SEED}"


def get_reconstruct_root():
    return results_path("synthetic/CMRxRecon") if SYNTHETIC_SCANS else RECONSTRUCT["input"]


def get_reconstruct_scans():
    """(set, acceleration, patient, view) of every scan to reconstruct."""
    if RECONSTRUCT["input"] is None:
        return []
    if SYNTHETIC_SCANS:
        n = config["data"]["synthetic"]["patients"]
        return [(RECONSTRUCT["set"], a, f"P{i:03d}", v) for a in RECON_ACCS for i in range(1, n + 1) for v in VIEWS]
    scans = []
    for a in RECON_ACCS:
        folder = Path(RECONSTRUCT["input"]) / accfactor_dir(RECONSTRUCT["set"], a)
        found = [p for p in sorted(folder.glob("P*/cine_*.mat")) if p.stem.removeprefix("cine_") in VIEWS]
        if not found:
            raise WorkflowError(
                f"reconstruct: no undersampled scan (Pxxx/cine_lax.mat, cine_sax.mat) under {folder}; point "
                "reconstruct.input at a CMRxRecon folder (the one holding SingleCoil/), or set reconstruct.set and "
                "reconstruct.accelerations to folders it has"
            )
        scans += [(RECONSTRUCT["set"], a, p.parent.name, p.stem.removeprefix("cine_")) for p in found]
    return scans


def get_reconstruct_outputs():
    return [
        results_path(f"{reconstruction(RECON_MODEL, cmr_set, a, patient, view)}.{ext}")
        for cmr_set, a, patient, view in get_reconstruct_scans()
        for ext in ("mat", "gif")
    ]


def get_scan(wildcards):
    """The undersampled scan a reconstruct job reads."""
    return str(Path(get_reconstruct_root()) / accfactor_dir(wildcards.cmrset, int(wildcards.acc2)) / wildcards.patient
               / f"cine_{wildcards.view}.mat")  # fmt: skip


def get_reconstruct_input(wildcards):
    """The model a reconstruct job applies (this workflow's, at the scan's factor, or an external file), and the
    synthetic data when the scans are this workflow's."""
    if RECON_METHOD in EXTERNAL:
        out = {"model": config["evaluation"]["external"][RECON_METHOD]}
    else:
        run = slug(CATALOGUE[RECON_METHOD].trained_as)
        out = {"model": results_path(result(MODEL, run, wildcards.acc2, RECON_SEED))}
    return out | ({"data": results_path("synthetic/CMRxRecon")} if SYNTHETIC_SCANS else {})


def get_ground_truth():
    """Whether a test scan has a fully sampled image to measure against, decided per scan from the files
    (ddei.data.acquired.has_test_truth), whatever the set's name: the simulated path measures against FullSample
    itself; this workflow's synthetic release has twins for its whole TrainingSet and none for its ValidationSet."""
    data = config["data"]
    if not ACQUIRED:
        return True
    if data["source"] == "synthetic":
        return data["set"] == "TrainingSet"
    from ddei.data.acquired import has_test_truth
    from ddei.data.extract import Selection

    selection = Selection(data["lax_slices"], data["sax_slices"], data["train_fraction"], data["val_fraction"],
                          data["split_seed"], tuple(config["image_size"]))  # fmt: skip
    return has_test_truth(data["root"], data["set"], ACCELERATIONS, selection)


# Without ground truth: the models, their curves and reconstructions; with it for some test scans, their metrics too.
GROUND_TRUTH = get_ground_truth()


def get_all_outputs(defined):
    """What `rule all` asks for, from the outputs of the ``defined`` rules (the Snakefile's ``rules``, once every rule
    exists): the metrics, tables and figures, or without ground truth the models and their curves; and the
    reconstructions."""
    curves = [*defined.training_figure.output, *defined.validation_figure.output]
    recon = get_reconstruct_outputs() + (list(defined.reconstruct_figure.output) if RECONSTRUCT["input"] else [])
    if not GROUND_TRUTH:  # nothing to measure: the models, their training and validation, their reconstructions
        models = [results_path(result(MODEL, m, a, s)) for m, a, s in get_training_runs()]
        return models + curves + recon
    tables = [*defined.table.output, *defined.wilcoxon.output]
    figures = expand(defined.cine_figure.output, acc=ACCELERATIONS) + list(defined.metrics_figure.output)
    return [*defined.collect_metrics.output] + tables + figures + curves + recon


# Integrity (ddei.provenance.integrity): the results folder is this checkout's (results/.stamp.json, written when a
# run starts: the Snakefile's onstart), and the slices and masks a job would read are whole. Checked here, when the
# Snakefile is parsed, so that a damaged one stops `snakemake` and `snakemake -n` whatever they plan (raised from an input function while
# the DAG is built, Snakemake would take it for "no job makes this file" and adopt the damaged files), unless the
# command rebuilds it (-R of its rule, --forcerun of a path under it, --forceall).
from ddei.provenance.integrity import ForeignResultsError, check_stamp, damaged_intermediates, missing_data_root
from ddei.provenance.integrity import make_stamp, package_code, report_status, write_stamp

STAMP = make_stamp(config, package_code(), Path.cwd())
try:
    _shared = check_stamp(results_path(), STAMP, config["allow_shared_results"])
except ForeignResultsError as e:
    raise WorkflowError(str(e)) from None
if _shared and workflow.is_main_process:
    print(_shared, file=sys.stderr)


def _command_rebuilds(damage):
    """Whether this command rebuilds a damaged folder (--forceall, or -R/--forcerun of one of its rules or of a path
    under it), or reads none (--unlock, --cleanup-metadata, --lint). Read from the command line, since Snakemake
    parses the Snakefile before it sets its DAG settings."""
    from snakemake.cli import get_argument_parser

    args, _ = get_argument_parser().parse_known_args(sys.argv[1:])
    if args.forceall or args.unlock or args.cleanup_metadata or args.lint is not None:
        return True
    folder = damage.folder.resolve()
    return any(
        target in damage.rules or Path(target).resolve().is_relative_to(folder) for target in args.forcerun or ()
    )


if workflow.is_main_process and config["data"]["source"] == "cmrxrecon":  # a missing data.root, refused at -n too
    _missing = missing_data_root(config["data"]["root"])
    if _missing:
        raise WorkflowError(_missing)

if workflow.is_main_process:  # a job's own snakemake (a cluster job) rebuilding the folder must not stop
    for _damage in damaged_intermediates(results_path(EXTRACTION), [get_mask_folder(a) for a in ACCELERATIONS], ACQUIRED):
        if not _command_rebuilds(_damage):
            raise WorkflowError(_damage.message)


def _command_line():
    from snakemake.cli import get_argument_parser

    return get_argument_parser().parse_known_args(sys.argv[1:])[0]


def _pending_jobs():
    """Jobs a dry run of this command, without --report, plans (None if it fails)."""
    import subprocess

    argv, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
        elif arg == "--report":
            skip = True
        elif not arg.startswith("--report"):
            argv.append(arg)
    out = subprocess.run([sys.executable, "-m", "snakemake", *argv, "-n"], capture_output=True, text=True)
    text = out.stdout + out.stderr
    if out.returncode != 0:
        return None
    if "Nothing to be done" in text:
        return 0
    totals = re.findall(r"^total\s+(\d+)$", text, re.M)
    return int(totals[-1]) if totals else None


# The report states the stamp of the results it shows and this checkout's, and warns when the workflow still has jobs
# to run for the current configuration (in the report and on the console).
if workflow.is_main_process and "--report" in " ".join(sys.argv[1:]) and _command_line().report:
    config["report_status"] = report_status(results_path(), STAMP, _pending_jobs())
    if config["report_status"]["warning"]:
        print(f"WARNING: {config['report_status']['warning']}", file=sys.stderr)
