"""Evaluate one trained model, or the zero-filled baseline, on the test split (rule evaluate)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.io.files import die_with_parent

die_with_parent()  # a job whose snakemake is killed ends too, rather than write on beside the next one

from ddei.methods.config import RunConfig
from ddei.mri.metrics import METRICS
from ddei.runs.evaluation import SavedRecon, run_evaluation
from ddei.runs.preparation import Run

w, p = snakemake.wildcards, snakemake.params
df = run_evaluation(
    Run(RunConfig.from_dict(p.cfg), int(w.acc), int(w.seed), p.extract_dir, p.mask_root),
    snakemake.input.get("model"),
    snakemake.output.metrics,
    SavedRecon(snakemake.output.recon, p.save_recon),
    precision=p.precision,
)
print(df[list(METRICS)].describe().to_string())
