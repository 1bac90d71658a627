"""How much a workflow's numbers and conclusions move between two runs of the same configuration on different
floating point (another CPU, or another thread count, which changes the order of reductions).

For each (method, acceleration): the mean PSNR and SSIM in both runs and their difference. For each pair
(reference, method) and acceleration: the paired Wilcoxon test of the report in both runs, and whether the
conclusion holds in both: the same sign of the mean difference on every training seed of both runs, and
p (Holm) < 0.05 in both.

    python experiments/compare_runs.py results/metrics/all.csv results/threads2/metrics/all.csv [--reference ddei]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from ddei.mri.metrics import PSNR
from ddei.report import tables


def seed_signs(df: pd.DataFrame, reference: str, other: str, acc: int, metric: str) -> set[int]:
    """Signs of the mean difference reference − other, one per training seed of ``reference`` (against a method
    evaluated once, its only seed)."""
    sub = df[df["acceleration"] == acc]
    ref, oth = sub[sub["method"] == reference], sub[sub["method"] == other]
    signs = set()
    for seed in sorted(ref["seed"].unique()):
        o = oth[oth["seed"] == seed] if seed in set(oth["seed"]) else oth
        pair = pd.concat(
            [ref[ref["seed"] == seed].set_index(tables.KEYS)[metric].rename("r"), o.set_index(tables.KEYS)[metric].rename("o")],
            axis=1, join="inner",
        )  # fmt: skip
        signs.add(int(np.sign((pair["r"] - pair["o"]).mean())))
    return signs


def compare(a: pd.DataFrame, b: pd.DataFrame, reference: str, metric: str = PSNR) -> tuple[str, str]:
    means = []
    for (m, acc), sub in a.groupby(["method", "acceleration"]):
        other = b[(b["method"] == m) & (b["acceleration"] == acc)]
        means.append((m, acc, sub[metric].mean(), other[metric].mean()))
    order = tables.order_methods([m for m, *_ in means])
    means.sort(key=lambda r: (r[1], order.index(r[0])))
    lines = [f"| method | acceleration | {metric} run A | {metric} run B | B − A |", "|:--|--:|--:|--:|--:|"]
    lines += [f"| {tables.label(m)} | ×{acc} | {x:.3f} | {y:.3f} | {y - x:+.3f} |" for m, acc, x, y in means]
    moves = np.array([abs(y - x) for *_, x, y in means])
    lines.append(f"\nLargest change of a mean: {moves.max():.3f}; median {np.median(moves):.3f}.")
    ta, tb = (tables.wilcoxon_tests(df, reference, metrics=(metric,)) for df in (a, b))
    rows = ["| acceleration | method | mean diff. A | p (Holm) A | mean diff. B | p (Holm) B | signs per seed (A, B) | holds |",
            "|--:|:--|--:|--:|--:|--:|:--|:--|"]  # fmt: skip
    for (_, ra), (_, rb) in zip(ta.iterrows(), tb.iterrows()):
        acc, other = int(ra["acceleration"]), ra["method"]
        sa, sb = seed_signs(a, reference, other, acc, metric), seed_signs(b, reference, other, acc, metric)
        holds = len(sa | sb) == 1 and ra["p_holm"] < 0.05 and rb["p_holm"] < 0.05
        verdict = ("yes: " + ("better" if (sa | sb) == {1} else "worse")) if holds else "no"
        rows.append(f"| ×{acc} | {tables.label(other)} | {ra['mean_difference']:+.3f} | {ra['p_holm']:.2g} | "
                    f"{rb['mean_difference']:+.3f} | {rb['p_holm']:.2g} | {sorted(sa)}, {sorted(sb)} | {verdict} |")  # fmt: skip
    return "\n".join(lines), "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--reference", default="ddei")
    parser.add_argument("--metric", default=PSNR)
    args = parser.parse_args()
    a, b = tables.read_metrics(args.a), tables.read_metrics(args.b)
    means, tests = compare(a, b, args.reference, args.metric)
    print(means + "\n\n" + tests)


if __name__ == "__main__":
    main()
