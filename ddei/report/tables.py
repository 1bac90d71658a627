"""The paper's results table and the paired Wilcoxon signed-rank tests, from ``metrics/all.csv``.

``metrics/all.csv`` holds one row per test slice per (method, acceleration, seed), with the columns
``method, acceleration, seed, patient, view, slice, psnr, ssim, nmse``.

Table (:func:`summarise`, :func:`results_table`): one row per method, zero-filled first, then the unsupervised
methods, then the supervised oracle last (the groups are separated by rules, as in the paper's Table 1), and
for each acceleration the mean ± standard deviation of each metric over every (test slice, seed) pair. The
best *unsupervised* value of each column is bold (highest PSNR/SSIM, lowest NMSE, compared at the displayed
precision so that displayed ties are all bold); neither the zero-filled baseline nor the supervised oracle is
ever bold.

Statistics (:func:`wilcoxon_tests`): the reference method (``evaluation.reference``, DDEI by default) against
each other method, per acceleration and metric, with :func:`scipy.stats.wilcoxon` paired by test slice
``(patient, view, slice)`` and training seed (see :func:`paired`).
"""

from __future__ import annotations

import html
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ddei.methods.registry import lookup
from ddei.mri.metrics import METRICS, NMSE, PAPER_METRICS, PSNR, SSIM
from ddei.report import style
from ddei.report.collect import read_metrics

KEYS = ["patient", "view", "slice"]


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    higher_is_better: bool
    decimals: int


#: How each metric of :data:`ddei.mri.metrics.METRICS` is shown: its label, direction and decimals.
DISPLAY = {
    PSNR: Metric(PSNR, "PSNR (dB)", True, 2),
    SSIM: Metric(SSIM, "SSIM", True, 3),
    NMSE: Metric(NMSE, "NMSE", False, 4),
}
assert tuple(DISPLAY) == METRICS, "every metric of ddei.mri.metrics has one display here"


def group(method: str) -> str:
    """The method's kind (:data:`ddei.methods.registry.KINDS`): ``baseline``, ``unsupervised``, ``external``, ``supervised``."""
    return lookup(method).kind


def label(method: str) -> str:
    return style.label(method)


def order_methods(methods) -> list[str]:
    """Methods in table order (:func:`ddei.report.style.order`)."""
    return style.order(methods)


def _select(df: pd.DataFrame, methods=None, accelerations=None) -> pd.DataFrame:
    if methods is not None:
        keep = set(methods) | {"zf"}
        missing = sorted(set(methods) - set(df["method"]))
        if missing:
            warnings.warn(f"methods {missing} have no rows in the metrics table: left out", stacklevel=3)
        df = df[df["method"].isin(keep)]
    if accelerations is not None:
        df = df[df["acceleration"].isin([int(a) for a in accelerations])]
    return df


def fmt(value: float, decimals: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:.{decimals}f}"


def summarise(df: pd.DataFrame, methods=None, accelerations=None, metrics=tuple(DISPLAY)) -> pd.DataFrame:
    """Long table: one row per (method, acceleration, metric) with ``mean``, ``std``, ``n``, ``seeds`` and
    ``best`` (bold in the table).

    :param df: the rows of ``metrics/all.csv``.
    :param methods: methods to keep (the configuration's; ``zf`` is always kept), ``None``: all.
    :param accelerations: accelerations to keep, ``None``: all.
    :param metrics: metric columns to summarise (keys of :data:`DISPLAY`).
    """
    df = _select(df, methods, accelerations)
    rows = []
    for (method, acc), sub in df.groupby(["method", "acceleration"], sort=False):
        for name in metrics:
            values = sub[name].to_numpy(dtype=float)
            finite = values[~np.isnan(values)]
            rows.append(
                {
                    "method": method,
                    "label": label(method),
                    "group": group(method),
                    "acceleration": int(acc),
                    "metric": name,
                    "mean": float(np.mean(finite)) if len(finite) else np.nan,
                    "std": float(np.std(finite, ddof=1)) if len(finite) > 1 else np.nan,
                    "n": int(len(finite)),
                    "seeds": int(sub["seed"].nunique()),
                    "slices": int(len(sub[KEYS].drop_duplicates())),
                }
            )
    out = pd.DataFrame(
        rows,
        columns=["method", "label", "group", "acceleration", "metric", "mean", "std", "n", "seeds", "slices"],
    )
    out["best"] = False
    for (acc, name), sub in out.groupby(["acceleration", "metric"]):
        spec = DISPLAY[name]
        eligible = sub[(sub["group"] == "unsupervised") & sub["mean"].notna()]
        if eligible.empty:
            continue
        shown = eligible["mean"].round(spec.decimals)
        best = shown.max() if spec.higher_is_better else shown.min()
        out.loc[shown.index[shown == best], "best"] = True
    order = order_methods(out["method"])
    out["_o"] = out["method"].map(order.index)
    out["_m"] = out["metric"].map(list(metrics).index)
    return out.sort_values(["_o", "acceleration", "_m"]).drop(columns=["_o", "_m"]).reset_index(drop=True)


def wide(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per method, columns ``acc{a}_{metric}_{mean,std,best}`` and ``acc{a}_n``, ``acc{a}_seeds``."""
    methods = order_methods(summary["method"])
    out = pd.DataFrame(
        {"method": methods, "label": [label(m) for m in methods], "group": map(group, methods)}
    )
    out = out.set_index("method", drop=False)
    for acc in sorted(summary["acceleration"].unique()):
        sub = summary[summary["acceleration"] == acc]
        for name in dict.fromkeys(summary["metric"]):
            s = sub[sub["metric"] == name].set_index("method")
            out[f"acc{acc}_{name}_mean"] = s["mean"]
            out[f"acc{acc}_{name}_std"] = s["std"]
            out[f"acc{acc}_{name}_best"] = s["best"].reindex(out.index, fill_value=False).astype(bool)
        first = sub.drop_duplicates("method").set_index("method")
        out[f"acc{acc}_n"] = first["n"].reindex(out.index).astype("Int64")
        out[f"acc{acc}_seeds"] = first["seeds"].reindex(out.index).astype("Int64")
    return out.reset_index(drop=True)


def _cell(row, decimals: int, bold=("", ""), pm: str = " ± ") -> str:
    """``mean ± std`` of one summary row, the mean wrapped in ``bold`` if it is the column's best."""
    if row is None or np.isnan(row["mean"]):
        return "–"
    mean = fmt(row["mean"], decimals)
    if row["best"]:
        mean = f"{bold[0]}{mean}{bold[1]}"
    if np.isnan(row["std"]):
        return mean
    return f"{mean}{pm}{fmt(row['std'], decimals)}"


def _grid(summary: pd.DataFrame, metrics, cell) -> tuple[list[int], list[str], list[str], list[list[str]]]:
    """Accelerations, method order, groups, and the formatted cells (one list per method)."""
    accs = sorted(int(a) for a in summary["acceleration"].unique())
    methods = order_methods(summary["method"])
    index = summary.set_index(["method", "acceleration", "metric"])
    cells = []
    for m in methods:
        line = []
        for a in accs:
            for name in metrics:
                key = (m, a, name)
                line.append(cell(index.loc[key] if key in index.index else None, DISPLAY[name].decimals))
        cells.append(line)
    return accs, methods, [group(m) for m in methods], cells


def n_note(summary: pd.DataFrame) -> str:
    """``n = 8 test slices``-style description of the sample sizes behind the cells."""
    first = summary.drop_duplicates(["method", "acceleration"])
    slices = "/".join(map(str, sorted(first["slices"].unique())))
    trained = first[first["method"] != "zf"]
    seeds = sorted((trained if len(trained) else first)["seeds"].unique())
    if seeds == [1]:
        return f"n = {slices} test slices"
    return f"n = {slices} test slices × {'/'.join(map(str, seeds))} seeds (zero-filled: 1 seed)"


CAPTION = (
    "Mean ± standard deviation over the test slices (and training seeds), {n}. "
    "Bold: best unsupervised method per column; the zero-filled baseline and the supervised oracle are not ranked."
)


def to_markdown(summary: pd.DataFrame, metrics=PAPER_METRICS) -> str:
    """The table in GitHub Markdown: groups separated by italic group rows, best values ``**bold**``."""
    accs, methods, groups, cells = _grid(summary, metrics, lambda r, d: _cell(r, d, ("**", "**")))
    head = ["Method"] + [f"×{a} {DISPLAY[m].label}" for a in accs for m in metrics]
    lines = ["| " + " | ".join(head) + " |", "|:--" + "|--:" * (len(head) - 1) + "|"]
    names = {
        "baseline": None,
        "unsupervised": "Unsupervised",
        "external": "External",
        "supervised": "Supervised",
    }
    previous = None
    for m, g, line in zip(methods, groups, cells):
        if g != previous and names[g] is not None:
            lines.append(f"| *{names[g]}* |" + " |" * (len(head) - 1))
        previous = g
        lines.append("| " + " | ".join([label(m).replace("|", "\\|").replace("*", "\\*")] + line) + " |")
    return "\n".join(lines) + "\n\n" + CAPTION.format(n=n_note(summary)) + "\n"


LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}"}


LATEX_UNICODE = {"±": r"$\pm$", "×": r"$\times$", "–": "--", "−": "-", "∞": r"$\infty$"}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters and spell the few non-ASCII symbols the tables use."""
    text = "".join(LATEX_SPECIAL.get(c, c) for c in text)
    text = text.replace("~", r"\textasciitilde{}").replace("^", r"\textasciicircum{}")
    return "".join(LATEX_UNICODE.get(c, c) for c in text)


def to_latex(
    summary: pd.DataFrame, metrics=PAPER_METRICS, caption: str | None = None, label_: str = "tab:results"
) -> str:
    """The table as a booktabs ``table`` environment (needs ``\\usepackage{booktabs}``), groups separated by
    ``\\midrule``, best values ``\\textbf{}``."""

    def cell(row, decimals):
        text = _cell(row, decimals, (r"\textbf{", "}"), " ± ")
        return "".join(LATEX_UNICODE.get(c, c) for c in text)

    accs, methods, groups, cells = _grid(summary, metrics, cell)
    k = len(metrics)
    lines = [
        "% Generated by ddei.report.tables.to_latex; needs \\usepackage{booktabs}.",
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\setlength{\tabcolsep}{4pt}",
        r"\caption{" + latex_escape(caption or CAPTION.format(n=n_note(summary))) + "}",
        r"\label{" + label_ + "}",
        r"\begin{tabular}{l" + "c" * (k * len(accs)) + "}",
        r"\toprule",
        " & " + " & ".join(rf"\multicolumn{{{k}}}{{c}}{{$\times{a}$}}" for a in accs) + r" \\",
        " ".join(rf"\cmidrule(lr){{{2 + i * k}-{1 + (i + 1) * k}}}" for i in range(len(accs))),
        "Method & " + " & ".join(latex_escape(DISPLAY[m].label) for _ in accs for m in metrics) + r" \\",
        r"\midrule",
    ]
    previous = None
    for m, g, line in zip(methods, groups, cells):
        if previous is not None and g != previous:
            lines.append(r"\midrule")
        previous = g
        lines.append(latex_escape(label(m)) + " & " + " & ".join(line) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


HTML_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; font-size: 14px; margin: 1em; }
table { border-collapse: collapse; }
th, td { padding: 0.3em 0.8em; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead tr:first-child th { border-top: 2px solid #000; }
thead tr:last-child th { border-bottom: 1px solid #000; }
tbody tr.group-start td { border-top: 1px solid #000; }
tbody tr:last-child td { border-bottom: 2px solid #000; }
p.note { max-width: 60em; color: #333; }
"""


def html_page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
        f"<style>{HTML_STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def to_html(summary: pd.DataFrame, metrics=PAPER_METRICS, title: str = "Results") -> str:
    """The table as a standalone HTML page (for the Snakemake report), best values in ``<b>``."""

    def cell(row, decimals):
        return _cell(row, decimals, ("<b>", "</b>"))

    accs, methods, groups, cells = _grid(summary, metrics, cell)
    k = len(metrics)
    head1 = "<th></th>" + "".join(f'<th colspan="{k}" style="text-align:center">×{a}</th>' for a in accs)
    head2 = "<th>Method</th>" + "".join(
        f"<th>{html.escape(DISPLAY[m].label)}</th>" for _ in accs for m in metrics
    )
    body, previous = [], None
    for m, g, line in zip(methods, groups, cells):
        cls = ' class="group-start"' if previous is not None and g != previous else ""
        previous = g
        body.append(
            f"<tr{cls}><td>{html.escape(label(m))}</td>" + "".join(f"<td>{c}</td>" for c in line) + "</tr>"
        )
    table = (
        f"<h2>{html.escape(title)}</h2>\n<table>\n<thead><tr>{head1}</tr><tr>{head2}</tr></thead>\n<tbody>\n"
        + "\n".join(body)
        + f'\n</tbody>\n</table>\n<p class="note">{html.escape(CAPTION.format(n=n_note(summary)))}</p>'
    )
    return html_page(title, table)


def results_table(
    metrics_csv,
    out_csv,
    out_md,
    out_tex,
    out_html=None,
    methods=None,
    accelerations=None,
    metrics=PAPER_METRICS,
):
    """Write the results table as CSV (every metric of :data:`DISPLAY`), Markdown, LaTeX and HTML (``metrics``).

    :return: the long summary (:func:`summarise`).
    """
    summary = summarise(read_metrics(metrics_csv), methods, accelerations)
    if summary.empty:
        raise ValueError(f"{metrics_csv}: no rows for methods {methods} and accelerations {accelerations}")
    for path in (out_csv, out_md, out_tex, out_html):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    wide(summary).to_csv(out_csv, index=False)
    Path(out_md).write_text(to_markdown(summary, metrics))
    Path(out_tex).write_text(to_latex(summary, metrics))
    if out_html is not None:
        Path(out_html).write_text(to_html(summary, metrics, "Reconstruction quality on the test set"))
    return summary


# --------------------------------------------------------------------------------------------------------------
# Paired Wilcoxon signed-rank tests

WILCOXON_COLUMNS = [
    "reference",
    "method",
    "acceleration",
    "metric",
    "n",
    "mean_difference",
    "statistic",
    "p_value",
    "p_holm",
    "favours",
    "note",
]


def paired(df: pd.DataFrame, reference: str, other: str, acceleration: int, metric: str) -> pd.DataFrame:
    """Paired values of two methods at one acceleration.

    Pairs are (test slice, training seed) over the seeds both methods were trained with. Against a method
    evaluated once (zero-filled, an external model), a method's value for a slice is its mean over its seeds, and
    pairs are test slices.
    """
    sub = df[df["acceleration"] == acceleration]
    a, b = sub[sub["method"] == reference], sub[sub["method"] == other]
    common = sorted(set(a["seed"]) & set(b["seed"]))
    if len(common) > 1 or (a["seed"].nunique() == 1 and b["seed"].nunique() == 1):
        keys = KEYS + ["seed"]
        a, b = a[a["seed"].isin(common)], b[b["seed"].isin(common)]
    else:
        keys = KEYS
    per = [x.groupby(keys, sort=True)[metric].mean().rename(m) for x, m in ((a, reference), (b, other))]
    return pd.concat(per, axis=1, join="inner").dropna()


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (NaN entries are ignored and stay NaN)."""
    out = np.full_like(p, np.nan, dtype=float)
    ok = np.flatnonzero(~np.isnan(p))
    if len(ok) == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    running = 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[j]))
        out[j] = running
    return out


def wilcoxon_tests(
    df: pd.DataFrame, reference: str, methods=None, accelerations=None, metrics=tuple(DISPLAY)
) -> pd.DataFrame:
    """Paired two-sided Wilcoxon signed-rank test of ``reference`` against every other method.

    One row per (method, acceleration, metric) with the columns :data:`WILCOXON_COLUMNS`: ``n`` paired test
    slices, ``mean_difference`` = mean of (reference − method), scipy's ``statistic`` and ``p_value``
    (``zero_method="wilcox"``: zero differences are dropped), ``p_holm`` adjusted over the competitors of one
    (acceleration, metric), ``favours`` the method the mean difference favours (metric direction aware), and a
    ``note`` where the test is impossible (fewer than 2 pairs: NaN) or degenerate (all differences zero:
    statistic 0, p = 1, as scipy returns) or cannot reach p < 0.05 (fewer than 6 pairs).
    """
    from scipy.stats import wilcoxon

    df = _select(df, methods, accelerations)
    if reference not in set(df["method"]):
        return pd.DataFrame(columns=WILCOXON_COLUMNS)
    others = [m for m in order_methods(df["method"]) if m != reference]
    rows = []
    for acc in sorted(int(a) for a in df["acceleration"].unique()):
        for name in metrics:
            block = []
            for other in others:
                pair = paired(df, reference, other, acc, name)
                n = len(pair)
                if n == 0 and not (df[(df["acceleration"] == acc)]["method"] == other).any():
                    continue
                diff = (pair[reference] - pair[other]).to_numpy(dtype=float)
                row = {"reference": reference, "method": other, "acceleration": acc, "metric": name, "n": n}
                row["mean_difference"] = float(diff.mean()) if n else np.nan
                row["statistic"], row["p_value"], row["note"] = np.nan, np.nan, ""
                if n < 2:
                    row["note"] = f"{n} paired slice{'s' if n != 1 else ''}: test impossible"
                elif np.all(diff == 0):
                    row["statistic"], row["p_value"] = 0.0, 1.0
                    row["note"] = "all differences zero"
                else:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        res = wilcoxon(pair[reference].to_numpy(float), pair[other].to_numpy(float))
                    row["statistic"], row["p_value"] = float(res.statistic), float(res.pvalue)
                    if n < 6:
                        row["note"] = f"n = {n} < 6: p < 0.05 unreachable"
                better = (
                    row["mean_difference"] > 0
                    if DISPLAY[name].higher_is_better
                    else row["mean_difference"] < 0
                )
                tie = not np.isfinite(row["mean_difference"]) or row["mean_difference"] == 0
                row["favours"] = "" if tie else (reference if better else other)
                block.append(row)
            p = _holm(np.array([r["p_value"] for r in block], dtype=float))
            for r, ph in zip(block, p):
                r["p_holm"] = ph
            rows += block
    return pd.DataFrame(rows, columns=WILCOXON_COLUMNS)


def _p(p: float) -> str:
    if not np.isfinite(p):
        return "–"
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def _wilcoxon_columns(reference: str) -> list[str]:
    return [
        "Acceleration",
        "Metric",
        "Method",
        "n",
        f"Mean diff. ({label(reference)} − method)",
        "W",
        "p",
        "p (Holm)",
        "Note",
    ]


def wilcoxon_markdown(tests: pd.DataFrame, reference: str) -> str:
    """The tests as a Markdown table, one line per (acceleration, metric, competitor)."""
    title = f"Paired Wilcoxon signed-rank tests: {label(reference)} against each method"
    if tests.empty:
        return f"{title}\n\nNo tests: {label(reference)} is not among the evaluated methods.\n"
    head = _wilcoxon_columns(reference)
    lines = [f"{title}\n", "| " + " | ".join(head) + " |", "|--:|:--|:--|--:|--:|--:|--:|--:|:--|"]
    for _, r in tests.iterrows():
        spec = DISPLAY[r["metric"]]
        stat = "–" if not np.isfinite(r["statistic"]) else f"{r['statistic']:g}"
        diff = fmt(r["mean_difference"], spec.decimals + 1)
        lines.append(
            f"| ×{r['acceleration']} | {spec.label} | {label(r['method']).replace('*', chr(92) + '*')} | {r['n']} | "
            f"{diff} | {stat} | {_p(r['p_value'])} | {_p(r['p_holm'])} | {r['note']} |"
        )
    lines.append(
        "\nTwo-sided tests paired by test slice (patient, view, slice) and training seed; against a method evaluated "
        "once (zero-filled, external), by slice, with the mean over seeds. Zero differences dropped (scipy's "
        "`zero_method='wilcox'`). "
        "Positive differences favour the reference for PSNR and SSIM, negative ones for NMSE. "
        "Holm: adjusted over the competitors of one acceleration and metric."
    )
    return "\n".join(lines) + "\n"


def wilcoxon_html(tests: pd.DataFrame, reference: str) -> str:
    title = f"Paired Wilcoxon signed-rank tests: {label(reference)} against each method"
    if tests.empty:
        return html_page(
            title,
            f"<h2>{html.escape(title)}</h2><p>No tests: {html.escape(label(reference))} was not evaluated.</p>",
        )
    head = _wilcoxon_columns(reference)
    body, previous = [], None
    for _, r in tests.iterrows():
        spec = DISPLAY[r["metric"]]
        key = (r["acceleration"], r["metric"])
        cls = ' class="group-start"' if previous is not None and key != previous else ""
        previous = key
        stat = "–" if not np.isfinite(r["statistic"]) else f"{r['statistic']:g}"
        p = _p(r["p_value"])
        if np.isfinite(r["p_value"]) and r["p_value"] < 0.05:
            p = f"<b>{p}</b>"
        cells = [
            f"×{r['acceleration']}",
            spec.label,
            label(r["method"]),
            str(r["n"]),
            fmt(r["mean_difference"], spec.decimals + 1),
            stat,
            p,
            _p(r["p_holm"]),
            r["note"],
        ]
        body.append(
            f"<tr{cls}>"
            + "".join(f"<td>{c if c.startswith('<b>') else html.escape(c)}</td>" for c in cells)
            + "</tr>"
        )
    page = (
        f"<h2>{html.escape(title)}</h2>\n<table>\n<thead><tr>"
        + "".join(f"<th>{html.escape(h)}</th>" for h in head)
        + "</tr></thead>\n<tbody>\n"
        + "\n".join(body)
        + '\n</tbody>\n</table>\n<p class="note">Two-sided, paired by test slice and training seed (by slice against a method evaluated once); bold: p &lt; 0.05 (unadjusted). '
        "Positive differences favour the reference for PSNR and SSIM, negative ones for NMSE.</p>"
    )
    return html_page(title, page)


def wilcoxon_report(
    metrics_csv, out_csv, out_md, out_html=None, *, reference: str, methods=None, accelerations=None
):
    """Write :func:`wilcoxon_tests` as CSV, Markdown and HTML. :return: the tests."""
    tests = wilcoxon_tests(read_metrics(metrics_csv), reference, methods, accelerations)
    for path in (out_csv, out_md, out_html):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    tests.to_csv(out_csv, index=False)
    Path(out_md).write_text(wilcoxon_markdown(tests, reference))
    if out_html is not None:
        Path(out_html).write_text(wilcoxon_html(tests, reference))
    return tests
