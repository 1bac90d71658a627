"""Train one method at one acceleration and seed (rule train)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.config import RunConfig
from ddei.pipeline import run_training
from ddei.training import RunFiles

w, p = snakemake.wildcards, snakemake.params
run_training(
    RunConfig.from_dict(p.cfg),
    int(w.acc),
    int(w.seed),
    p.extract_dir,
    p.mask_root,
    snakemake.output.model,
    RunFiles(p.checkpoint, snakemake.output.loss, snakemake.output.val),
    code=p.code,
)
