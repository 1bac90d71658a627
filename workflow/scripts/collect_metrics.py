"""Concatenate every per-run metrics table (rule collect_metrics)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.io.files import atomic_write
from ddei.mri.metrics import METRICS
from ddei.provenance.records import check_records, write_record
from ddei.report.collect import collect_metrics

check_records(snakemake.input.metrics)  # each as its evaluation wrote it
df = collect_metrics(snakemake.input.metrics)
atomic_write(snakemake.output[0], lambda tmp: df.to_csv(tmp, index=False))
write_record(snakemake.output[0])
print(df.groupby(["method", "acceleration"])[list(METRICS)].mean().to_string())
