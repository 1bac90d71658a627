"""Evaluate one trained model, or the zero-filled baseline, on the test split (rule evaluate)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))
from _log import redirect

redirect(snakemake.log[0])

from ddei.pipeline import run_evaluation

w, p = snakemake.wildcards, snakemake.params
df = run_evaluation(
    p.method,
    int(w.acc),
    int(w.seed),
    p.cfg,
    p.extract_dir,
    p.mask_root,
    snakemake.input.get("model"),
    snakemake.output.metrics,
    snakemake.output.recon,
    p.save_recon,
)
print(df[["psnr", "ssim", "nmse"]].describe().to_string())
