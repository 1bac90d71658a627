"""The paper's results table, statistical tests and figures, from the evaluation's outputs.

:mod:`ddei.report.tables`: results table (CSV, Markdown, LaTeX, HTML) and paired Wilcoxon signed-rank tests.
:mod:`ddei.report.figures`: reconstruction videos and stills, metrics against acceleration, training curves.
"""

from ddei.report.figures import cine_gif, cine_still, gif_html, metrics_plot, training_curves
from ddei.report.tables import results_table, summarise, wilcoxon_report, wilcoxon_tests

__all__ = [
    "cine_gif",
    "cine_still",
    "gif_html",
    "metrics_plot",
    "results_table",
    "summarise",
    "training_curves",
    "wilcoxon_report",
    "wilcoxon_tests",
]
