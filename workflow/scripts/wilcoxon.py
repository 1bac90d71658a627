"""Paired Wilcoxon signed-rank tests of DDEI against every other method (rule wilcoxon)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.provenance.records import check_records
from ddei.report.style import register

check_records([snakemake.input[0]])  # all.csv as collect_metrics wrote it

register(**snakemake.params.catalogue)  # labels and colours of the variants and external models

from ddei.report.tables import wilcoxon_markdown, wilcoxon_report

p, out = snakemake.params, snakemake.output
tests = wilcoxon_report(
    snakemake.input[0],
    out.csv,
    out.md,
    out.html,
    reference=p.reference,
    methods=p.methods,
    accelerations=p.accelerations,
)
print(wilcoxon_markdown(tests, p.reference))
