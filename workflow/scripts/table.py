"""The paper's results table as CSV, Markdown, LaTeX and HTML (rule table)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.provenance.records import check_records
from ddei.report.style import register

check_records([snakemake.input[0]])  # all.csv as collect_metrics wrote it

register(**snakemake.params.catalogue)  # labels and colours of the variants and external models

from ddei.mri.metrics import METRICS
from ddei.report.tables import results_table, to_markdown

p, out = snakemake.params, snakemake.output
summary = results_table(
    snakemake.input[0],
    out.csv,
    out.md,
    out.tex,
    out.html,
    methods=p.methods,
    accelerations=p.accelerations,
    metrics=p.metrics,
)
print(to_markdown(summary, METRICS))
