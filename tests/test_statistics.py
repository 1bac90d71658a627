"""The report's statistics on cases with known answers: the Wilcoxon signed-rank test with tied and zero
differences against W and p computed by hand (:func:`ddei.report.tables.wilcoxon_tests`), and the bootstrap
confidence interval of the metrics figure against the normal-theory interval of a large two-valued sample
(:func:`ddei.report.figures.metrics_plot`)."""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import itertools
import math

import numpy as np
import pandas as pd
import pytest

from ddei.report import figures, tables

#: Differences DDEI − other, with two zeros, a tie of two (|d| = 1) and a tie of three (|d| = 2).
DIFFERENCES = [0.0, 0.0, 1.0, -1.0, 2.0, 2.0, 2.0, -3.0, 4.0, 5.0]


def _metrics(differences: list[float]) -> pd.DataFrame:
    rows = []
    for i, d in enumerate(differences):
        base = 30.0 + 0.1 * i
        for method, value in (("ddei", base + d), ("t-ssdu", base)):
            rows.append({"method": method, "acceleration": 4, "seed": 0, "patient": f"P{i:03d}", "view": "lax",
                         "slice": 0, "psnr": value, "ssim": value / 100, "nmse": 1 / value})  # fmt: skip
    return pd.DataFrame(rows)


def _sign_flip_p(ranks: list[float], negative: float) -> float:
    """Two-sided p of the sign-flip (permutation) distribution of W- given the ranks: every sign assignment of the
    non-zero differences is equally likely under the null."""
    sums = [
        sum(r for r, s in zip(ranks, signs) if s) for signs in itertools.product((0, 1), repeat=len(ranks))
    ]
    low = sum(s <= negative + 1e-9 for s in sums) / len(sums)
    high = sum(s >= negative - 1e-9 for s in sums) / len(sums)
    return min(1.0, 2 * min(low, high))


def test_wilcoxon_drops_zero_differences_and_averages_tied_ranks():
    """By hand: the zeros are dropped (n = 8); |d| = 1, 1, 2, 2, 2, 3, 4, 5 get the ranks 1.5, 1.5, 4, 4, 4, 6, 7, 8;
    the negative differences (-1, -3) sum to W- = 1.5 + 6 = 7.5 and the positive ones to W+ = 28.5, so
    W = min = 7.5. With ties and at most 13 pairs the p value is that of the sign-flip distribution of these
    ranks: of the 2^8 = 256 sign assignments, 20 give W- <= 7.5 (the empty set; {1.5} twice; {1.5, 1.5}; {4} three
    times; {6}; {7}; {1.5, 4} six times; {1.5, 6} twice; {1.5, 1.5, 4} three times), so p = 2 * 20 / 256."""
    tests = tables.wilcoxon_tests(_metrics(DIFFERENCES), "ddei", metrics=("psnr",))
    (row,) = tests.itertuples()
    assert row.n == len(DIFFERENCES)  # every pair counts in n and the mean difference
    assert row.mean_difference == pytest.approx(np.mean(DIFFERENCES), abs=1e-9)
    assert row.statistic == pytest.approx(7.5, abs=1e-9)
    assert row.p_value == pytest.approx(2 * 20 / 256, rel=1e-9)
    assert _sign_flip_p([1.5, 1.5, 4, 4, 4, 6, 7, 8], 7.5) == pytest.approx(2 * 20 / 256)
    assert row.favours == "ddei"


def test_wilcoxon_with_ties_over_13_pairs_is_the_normal_approximation():
    """16 pairs, 2 zero: n = 14 ranks 1.5, 1.5, 4, 4, 4, 6, 7, 8, 9.5, 9.5, 11, 12, 13, 14; the negative
    differences (-1, -3, -7) give W- = 1.5 + 6 + 11 = 18.5 = W. Normal approximation without continuity
    correction: mean n (n + 1) / 4 = 52.5, variance n (n + 1) (2n + 1) / 24 - sum(t^3 - t) / 48
    = 253.75 - (6 + 24 + 6) / 48 = 253, z = (18.5 - 52.5) / sqrt(253), p = erfc(|z| / sqrt 2)."""
    differences = DIFFERENCES + [6.0, 6.0, -7.0, 8.0, 9.0, 10.0]
    (row,) = tables.wilcoxon_tests(_metrics(differences), "ddei", metrics=("psnr",)).itertuples()
    z = (18.5 - 52.5) / math.sqrt(253.0)
    assert row.n == 16 and row.statistic == pytest.approx(18.5, abs=1e-9)
    assert row.p_value == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), rel=1e-9)


def test_wilcoxon_of_nmse_and_of_a_method_that_wins():
    """Lower NMSE is better: the same differences on PSNR favour DDEI, their sign flipped on the other method favour
    it; W is symmetric (min of W+ and W-), so it is 7.5 again."""
    flipped = tables.wilcoxon_tests(_metrics([-d for d in DIFFERENCES]), "ddei", metrics=("psnr",))
    (row,) = flipped.itertuples()
    assert row.statistic == pytest.approx(7.5, abs=1e-9) and row.favours == "t-ssdu"


def _error_bar(df: pd.DataFrame, tmp_path, monkeypatch) -> tuple[float, float, float]:
    """The metrics figure's point and 95 % interval of the only method and acceleration, read off its axes."""
    drawn = []

    class Recorded(figures.Figure):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            drawn.append(self)

    monkeypatch.setattr(figures, "Figure", Recorded)
    figures.metrics_plot(df, tmp_path / "m.png", metrics=("psnr",))
    ax = drawn[-1].axes[0]
    point = [line for line in ax.lines if len(line.get_ydata()) == 1][0].get_ydata()[0]
    # the interval is drawn as one line of NaN-separated segments (the caps and the vertical bar)
    (bar,) = [line for line in ax.lines if len(line.get_ydata()) > 1]
    x, y = np.asarray(bar.get_xdata(), float), np.asarray(bar.get_ydata(), float)
    cuts = np.flatnonzero(np.isnan(x))
    segments = [(x[a:b], y[a:b]) for a, b in zip(np.r_[0, cuts + 1], np.r_[cuts, len(x)])]
    (vertical,) = [sy for sx, sy in segments if len(sx) == 2 and sx[0] == sx[1]]
    lo, hi = sorted(vertical)
    return float(point), float(lo), float(hi)


def test_metrics_figure_interval_is_the_95_percent_bootstrap_ci_of_the_mean(tmp_path, monkeypatch):
    """A sample of n = 400 values, half 0 and half 1: its mean is 0.5 and the 95 % bootstrap percentile interval of
    the mean is 0.5 ± 1.96 sqrt(0.25 / n) = ± 0.049 (normal theory; bootstrap means are binomial / n). Tolerance:
    the grid of possible means (1 / n) plus 4 Monte-Carlo standard errors of a 2.5 % quantile of 2000 resamples,
    sqrt(0.025 · 0.975 / 2000) / density at the quantile."""
    n = 400
    values = np.tile([0.0, 1.0], n // 2)
    df = pd.DataFrame({"method": "ddei", "acceleration": 4, "psnr": values, "ssim": values})
    point, lo, hi = _error_bar(df, tmp_path, monkeypatch)
    se = math.sqrt(0.25 / n)
    density = math.exp(-(1.96**2) / 2) / math.sqrt(2 * math.pi) / se
    tolerance = 1 / n + 4 * math.sqrt(0.025 * 0.975 / 2000) / density
    assert point == pytest.approx(0.5)
    assert lo == pytest.approx(0.5 - 1.96 * se, abs=tolerance) and hi == pytest.approx(
        0.5 + 1.96 * se, abs=tolerance
    )


def test_metrics_figure_interval_of_a_constant_sample_is_a_point(tmp_path, monkeypatch):
    df = pd.DataFrame({"method": "ddei", "acceleration": 4, "psnr": np.full(30, 27.5), "ssim": 0.9})
    point, lo, hi = _error_bar(df, tmp_path, monkeypatch)
    assert point == lo == hi == pytest.approx(27.5)
