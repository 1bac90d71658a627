"""Write the GPU experiment's results page (docs/results/gpu_experiment.md) from a results folder.

Reads ``<results>/metrics/*/acc*/seed*.csv`` and ``<results>/models/*/acc*/seed*/loss.csv`` (what the workflow of
config/gpu.yaml writes, as packed by gpu/device_session.sh) and writes, with the report's own code
(:mod:`ddei.report`): the results table, the paired Wilcoxon tests, the answer to the experiment's question
(DDEI against T-SSDU at each acceleration, per seed, and whether the gap widens), the bf16 fidelity check
(``sup`` against ``sup-fp32``), the metrics-against-acceleration figure and the training curves.

    python experiments/gpu_results.py --results OUT/results/gpu --config OUT/gpu_used.yaml [--out docs/results]

where OUT is the output folder of ``gpu/device_session.sh``, its ``results.tgz`` unpacked there. The page's hand-written part (the run: card, date,
commit, wall time; what the data shows) is ``docs/results/gpu_experiment_notes.md`` (``--notes``), placed after the
title, so that the page is regenerated whole from the data and that file.
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.stats import wilcoxon

from ddei.io.layout import LOSS, METRICS, slug
from ddei.mri.metrics import PAPER_METRICS, PSNR
from ddei.report import figures, tables
from ddei.report.style import register

NOTES = Path(__file__).resolve().parents[1] / "docs" / "results" / "gpu_experiment_notes.md"


def per_pair(df: pd.DataFrame, a: str, b: str, acc: int) -> pd.Series:
    """a − b PSNR per (test slice, seed)."""
    pair = tables.paired(df, a, b, acc, PSNR)
    return pair[a] - pair[b]


def bootstrap_ci(values: np.ndarray, n: int = 10000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = rng.choice(values, (n, len(values))).mean(1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def question(df: pd.DataFrame, accs: list[int], a: str = "ddei", b: str = "t-ssdu") -> str:
    la, lb = tables.label(a), tables.label(b)
    lines = [
        f"| acceleration | mean PSNR {la} − {lb} (dB), 95 % CI | p (Wilcoxon) | per seed (dB) |",
        "|--:|--:|--:|:--|",
    ]
    diffs = {}
    for acc in accs:
        d = per_pair(df, a, b, acc)
        diffs[acc] = d
        lo, hi = bootstrap_ci(d.to_numpy())
        seeds = d.groupby(level="seed").mean()
        per_seed = ", ".join(f"{s}: {v:+.2f}" for s, v in seeds.items())
        lines.append(
            f"| ×{acc} | {d.mean():+.2f} [{lo:+.2f}, {hi:+.2f}] | {wilcoxon(d).pvalue:.2g} | {per_seed} |"
        )
    if len(accs) == 2:
        lo_acc, hi_acc = accs
        change = (diffs[hi_acc] - diffs[lo_acc]).dropna()
        lo, hi = bootstrap_ci(change.to_numpy())
        lines.append(
            f"\nChange of the gap from ×{lo_acc} to ×{hi_acc}, paired by (test slice, seed): "
            f"{change.mean():+.2f} dB [{lo:+.2f}, {hi:+.2f}], Wilcoxon p = {wilcoxon(change).pvalue:.2g} "
            f"(n = {len(change)}). Positive: the gap moves in {la}'s favour at ×{hi_acc}."
        )
    return "\n".join(lines)


def fidelity(df: pd.DataFrame, accs: list[int], bf16: str = "sup", fp32: str = "sup-fp32") -> str:
    lines = ["| acceleration | PSNR bf16 (dB) | PSNR fp32 (dB) | bf16 − fp32 (dB) | seed-to-seed sd of the fp32 mean (dB) |",
             "|--:|--:|--:|--:|--:|"]  # fmt: skip
    for acc in accs:
        sub = df[df["acceleration"] == acc]
        m16, m32 = sub[sub.method == bf16].psnr.mean(), sub[sub.method == fp32].psnr.mean()
        spread = sub[sub.method == fp32].groupby("seed").psnr.mean().std(ddof=1)
        lines.append(f"| ×{acc} | {m16:.2f} | {m32:.2f} | {m16 - m32:+.2f} | {spread:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--config", type=Path, required=True, help="the config as run (gpu_used.yaml)")
    parser.add_argument(
        "--notes",
        type=Path,
        default=NOTES,
        help="Markdown: the run (card, date, commit, wall time), the reading",
    )
    parser.add_argument("--out", type=Path, default=Path("docs/results"))
    args = parser.parse_args()
    config = yaml.safe_load(args.config.read_text())
    register(config.get("variants", {}))
    accs = [int(a) for a in config["masks"]["accelerations"]]
    metrics = pd.concat(
        [pd.read_csv(f, dtype={"patient": str}) for f in sorted(glob.glob(str(args.results / METRICS.format(method="*", acc="*", seed="*"))))],
        ignore_index=True,
    )  # fmt: skip
    methods = config["methods"]
    summary = tables.summarise(metrics, methods, accs)
    tests = tables.wilcoxon_tests(metrics, "ddei", methods, accs, metrics=PAPER_METRICS)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    figures.metrics_plot(metrics, out / "gpu_metrics_vs_acceleration.png", methods=methods, dpi=110)
    runs = []
    for path in sorted(glob.glob(str(args.results / LOSS.format(method="*", acc="*", seed="*")))):
        p = Path(path)
        method = next(m for m in methods if slug(m) == p.parts[-4])
        runs.append(
            (method, int(p.parts[-3].removeprefix("acc")), int(p.parts[-2].removeprefix("seed")), path)
        )
    figures.training_curves(runs, out / "gpu_training_curves.png", dpi=90)
    page = [
        "# GPU experiment: does DDEI beat T-SSDU, and does the gap widen from 8× to 16×?\n",
        args.notes.read_text().strip() + "\n",
        "## Results table\n",
        tables.to_markdown(summary, PAPER_METRICS),
        "## The question: DDEI against T-SSDU\n",
        question(metrics, accs) + "\n",
        "## Paired tests (DDEI against each method)\n",
        tables.wilcoxon_markdown(tests, "ddei"),
        "## bf16 fidelity: the oracle trained in bf16 and in fp32, same seeds\n",
        fidelity(metrics, accs) + "\n",
        "## Figures\n",
        "![PSNR and SSIM against acceleration](gpu_metrics_vs_acceleration.png)\n",
        "![Training loss relative to its first epoch](gpu_training_curves.png)\n",
    ]
    (out / "gpu_experiment.md").write_text("\n".join(page))
    print((out / "gpu_experiment.md").read_text())


if __name__ == "__main__":
    main()
