"""Evaluate one trained model, or the zero-filled baseline, on the test split (rule evaluate)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.runs.evaluation import run_evaluation
from ddei.workflow.config import RunConfig

w, p = snakemake.wildcards, snakemake.params
df = run_evaluation(
    RunConfig.from_dict(p.cfg),
    int(w.acc),
    int(w.seed),
    p.extract_dir,
    p.mask_root,
    snakemake.input.get("model"),
    snakemake.output.metrics,
    snakemake.output.recon,
    p.save_recon,
    p.precision,
)
print(df[["psnr", "ssim", "nmse"]].describe().to_string())
