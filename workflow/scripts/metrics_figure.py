"""PSNR and SSIM against acceleration per method (rule metrics_figure)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))
from _log import redirect

redirect(snakemake.log[0])

from ddei.report.figures import metrics_plot
from ddei.report.tables import read_metrics

metrics_plot(read_metrics(snakemake.input[0]), snakemake.output[0], methods=snakemake.params.methods)
