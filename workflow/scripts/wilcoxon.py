"""Paired Wilcoxon signed-rank tests of DDEI against every other method (rule wilcoxon)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))
from _log import redirect

redirect(snakemake.log[0])

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
