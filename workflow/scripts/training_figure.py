"""Training loss against epoch (rule training_figure)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.report.style import register

register(**snakemake.params.catalogue)  # labels and colours of the variants and external models

from ddei.report.figures import training_curves

runs = [(m, a, s, path) for (m, a, s), path in zip(snakemake.params.runs, snakemake.input)]
training_curves(runs, snakemake.output.relative, snakemake.output.raw)
