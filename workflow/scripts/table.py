"""The paper's results table as CSV, Markdown, LaTeX and HTML (rule table)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))
from _log import redirect

redirect(snakemake.log[0])

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
print(to_markdown(summary, ("psnr", "ssim", "nmse")))
