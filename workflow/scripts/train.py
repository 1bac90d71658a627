"""Train one method at one acceleration and seed (rule train)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.io.files import die_with_parent

die_with_parent()  # a job whose snakemake is killed ends too, rather than write on beside the next one

from ddei.runs.training import RunFiles, run_training
from ddei.workflow.config import RunConfig

w, p = snakemake.wildcards, snakemake.params
run_training(
    RunConfig.from_dict(p.cfg),
    int(w.acc),
    int(w.seed),
    extract_dir=p.extract_dir,
    mask_root=p.mask_root,
    model_out=snakemake.output.model,
    files=RunFiles(p.checkpoint, snakemake.output.loss, snakemake.output.val),
    code=p.code,
)
