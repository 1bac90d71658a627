"""Train one method at one acceleration and seed (rule train)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup, start_log

# the log is opened once the run's lock is held, below: a refused second job leaves the live one's log as it is
setup(snakemake, log=False)

from ddei.io.files import die_with_parent

die_with_parent()  # a job whose snakemake is killed ends too, rather than write on beside the next one

from ddei.methods.config import RunConfig
from ddei.runs.preparation import Run
from ddei.runs.training import RunFiles, run_lock, run_training

w, p = snakemake.wildcards, snakemake.params
files = RunFiles(p.checkpoint, snakemake.output.loss, snakemake.output.val)
with run_lock(files):  # another job on this run: refused here, on the console, before its log is touched
    start_log(snakemake)
    run_training(
        Run(RunConfig.from_dict(p.cfg), int(w.acc), int(w.seed), p.extract_dir, p.mask_root),
        snakemake.output.model,
        files,
        code=p.code,
    )
