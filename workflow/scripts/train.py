"""Train one method at one acceleration and seed (rule train)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))
from _log import redirect

redirect(snakemake.log[0])

from ddei.pipeline import run_training

w, p = snakemake.wildcards, snakemake.params
run_training(
    p.method,
    int(w.acc),
    int(w.seed),
    p.cfg,
    p.extract_dir,
    p.mask_root,
    snakemake.output.model,
    snakemake.output.loss,
    p.checkpoint,
)
