"""PSNR and SSIM against acceleration per method (rule metrics_figure)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.provenance.records import check_records
from ddei.report.style import register

check_records([snakemake.input[0]])  # all.csv as collect_metrics wrote it

register(**snakemake.params.catalogue)  # labels and colours of the variants and external models

from ddei.report.figures import metrics_plot
from ddei.report.tables import read_metrics

metrics_plot(read_metrics(snakemake.input[0]), snakemake.output[0], methods=snakemake.params.methods)
