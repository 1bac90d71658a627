"""Evaluate one trained model, or the zero-filled baseline, on the test split (rule evaluate)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.config import RunConfig
from ddei.evaluation import run_evaluation

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
