"""A montage of the reconstructed scans (rule reconstruct_figure)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.report.figures import reconstruction_montage

reconstruction_montage(snakemake.input, snakemake.output[0], truth=snakemake.params.truth)
