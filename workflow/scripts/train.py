"""Train one method at one acceleration and seed (rule train)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.io.files import die_with_parent

die_with_parent()  # a job whose snakemake is killed ends too, rather than write on beside the next one

from ddei.methods.config import RunConfig
from ddei.runs.preparation import Run
from ddei.runs.training import RunFiles, run_training

w, p = snakemake.wildcards, snakemake.params
run_training(
    Run(RunConfig.from_dict(p.cfg), int(w.acc), int(w.seed), p.extract_dir, p.mask_root),
    snakemake.output.model,
    RunFiles(p.checkpoint, snakemake.output.loss, snakemake.output.val),
    code=p.code,
)
