"""Training loss against epoch (rule training_figure)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))
from _log import redirect

redirect(snakemake.log[0])

from ddei.report.figures import training_curves

runs = [(m, a, s, path) for (m, a, s), path in zip(snakemake.params.runs, snakemake.input)]
training_curves(runs, snakemake.output.relative, snakemake.output.raw)
