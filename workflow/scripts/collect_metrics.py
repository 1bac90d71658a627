"""Concatenate every per-run metrics table (rule collect_metrics)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.mri.metrics import METRICS
from ddei.report.collect import collect_metrics

df = collect_metrics(snakemake.input)
df.to_csv(snakemake.output[0], index=False)
print(df.groupby(["method", "acceleration"])[list(METRICS)].mean().to_string())
