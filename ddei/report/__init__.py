"""The paper's results table, statistical tests and figures, from the evaluation's outputs.

- :mod:`ddei.report.tables`: results table (CSV, Markdown, LaTeX, HTML) and paired Wilcoxon signed-rank tests.
- :mod:`ddei.report.figures`: reconstruction videos and stills, metrics against acceleration, training curves.

Import the submodule you need: importing this package imports neither (so that each workflow rule depends only
on the code it runs), and neither imports torch or deepinv.
"""
