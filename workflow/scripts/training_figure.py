"""Training loss against epoch (rule training_figure)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.report.style import register

register(**snakemake.params.catalogue)  # labels and colours of the variants and external models

from ddei.provenance.records import check_logs
from ddei.report.figures import training_curves

check_logs(snakemake.input.models, snakemake.input.logs, "loss")  # as their train jobs wrote them
runs = [(m, a, s, path) for (m, a, s), path in zip(snakemake.params.runs, snakemake.input.logs)]
training_curves(runs, snakemake.output.relative, snakemake.output.raw)
