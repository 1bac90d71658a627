"""The baselines study: T-SSDU and Phase2Phase with each of their settings, against zero-filled and DDEI, and its
results page.

The question: why does the reference code's T-SSDU end at or below zero-filled at this project's small sizes, and
which settings make it the strongest competitor DDEI can be compared with? Two causes are tested, each setting on
its own (``experiments/baselines/default.yaml``):

- the CRNN's learnable soft data consistency (``split_dc: learned``) against hard DC (``hard``);
- the Gaussian split's always-kept 8x8 centre block, sized for 512x256 (``split_centre: reference``), against the
  block scaled to the image (``scaled``) and a uniform split (``split_mask: uniform``).

1. ``run``: the workflow on ``config/config.yaml`` amended by the study's config, every run of its grid.
2. ``report``: ``docs/results/baselines.md`` and its figure from what the runs wrote: each method's test PSNR
   against zero-filled, paired by slice (a 95 % bootstrap CI over slices, per seed, slices won), its
   data-consistency weight over training (``val.csv``), and its k-space error on the test slices on the measured and
   on the unmeasured points, with the machine, the commit and the date, then the hand-written reading
   (``docs/results/baselines_notes.md``).

    python experiments/baselines.py run [--config experiments/baselines/default.yaml] [--cores 2]
    python experiments/baselines.py report [--config ...] [--out docs/results]
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ddei.io.layout import EXTRACTION, MASKS, METRICS, MODEL, VAL, result
from ddei.methods.configfiles import read_config
from ddei.mri.metrics import PSNR

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

DEFAULT = "experiments/baselines/default.yaml"
#: The study configs: each one's page in ``docs/results`` (its figure: the same name, ``.png``) and the study configs
#: it amends (over ``config/config.yaml``, before itself).
STUDIES = {
    DEFAULT: ("baselines", ()),
    "experiments/baselines/converge_size.yaml": ("baselines_converge_size", (DEFAULT,)),
}


def chain(name: str) -> list[str]:
    """The config files of study ``name`` over ``config/config.yaml``, in the order they are merged."""
    return [*STUDIES.get(name, ("", ()))[1], name]


def load_config(name: str) -> dict:
    """The study's config as the workflow validates it: ``config/config.yaml`` amended by :func:`chain`, key by key, with
    the schema's defaults filled in and the variants registered."""
    return validated(read_config(REPO, chain(name)))


def validated(config: dict) -> dict:
    """``config`` as the workflow sees it: the schema's defaults filled in (in place) and its variants registered."""
    from snakemake.utils import validate

    from ddei.methods.registry import register

    validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))
    register(config["variants"], config["evaluation"]["external"])
    return config


def grid(config: dict) -> list[tuple[str, int, int]]:
    """(method, acceleration, seed) of every trained run."""
    return [(m, int(a), int(s)) for m in config["methods"] for a in config["masks"]["accelerations"]
            for s in config["training"]["seeds"]]  # fmt: skip


def run(name: str, cores: int) -> int:
    """Train and evaluate the study's grid with Snakemake (``--keep-going``); return its exit status."""
    config = load_config(name)
    results = Path(config["results"])
    targets = [results / result(METRICS, m, a, s) for m, a, s in grid(config)]
    targets += [results / result(METRICS, "zf", a, 0) for a in config["masks"]["accelerations"]]
    cmd = [sys.executable, "-m", "snakemake", "--configfile", "config/config.yaml", *chain(name), "--cores", str(cores),
           "--keep-going", "--", *map(str, targets)]  # fmt: skip
    print(" ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=REPO)


# ----------------------------------------------------------------------------------------------------------------
# The results page
# ----------------------------------------------------------------------------------------------------------------


def collect(config: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(test metrics of every run that has them and of zero-filled, validation logs of every run)."""
    results = REPO / config["results"]
    metrics, curves = [], []
    runs = grid(config) + [("zf", int(a), 0) for a in config["masks"]["accelerations"]]
    for m, a, s in runs:
        mf = results / result(METRICS, m, a, s)
        if mf.is_file():
            metrics.append(pd.read_csv(mf, dtype={"patient": str}))
        vf = results / result(VAL, m, a, s)
        if vf.is_file():
            curves.append(pd.read_csv(vf).assign(method=m, acceleration=a, seed=s))
    cat = lambda frames: pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()  # noqa: E731
    return cat(metrics), cat(curves)


def kspace_errors(
    config: dict, runs: list[tuple[str, int, int]] | None = None, results: Path | None = None
) -> pd.DataFrame:
    """Each trained model's k-space error on the test slices, region by region
    (:func:`ddei.runs.evaluation.kspace_region_errors`: ``measured``, what the output changes of the measurement;
    ``unmeasured``, its error where the frame measured nothing, 1 for zero-filled; and of those, ``other_frames``
    and ``never``), each the mean over the test slices.

    :param list runs: ``(method, acceleration, seed)`` (default: the study's :func:`grid`); runs without a model
        are left out.
    :param results: the results folder (default: the config's, in this checkout).
    :return: one row per run: method, acceleration, seed and the regions' mean errors.
    """
    from ddei.methods.config import RunConfig, method_config
    from ddei.mri.metrics import KSPACE_REGIONS
    from ddei.runs.evaluation import kspace_region_errors
    from ddei.runs.preparation import Run

    results = REPO / config["results"] if results is None else results
    rows = []
    for m, a, s in grid(config) if runs is None else runs:
        model_path = results / result(MODEL, m, a, s)
        if not model_path.is_file():
            continue
        # the folders the workflow's evaluate rule reads (the masks' parent: any kind of mask, even acquired)
        run = Run(RunConfig.from_dict(method_config(config, m)), a, s, results / EXTRACTION, results / MASKS)
        errors = kspace_region_errors(run, model_path)[list(KSPACE_REGIONS)].mean()
        rows.append({"method": m, "acceleration": a, "seed": s, **errors.to_dict()})
    return pd.DataFrame(rows)


def region_table(errors: pd.DataFrame) -> list[str]:
    """The results pages' section on where in k-space each run's test error lies (:func:`kspace_errors`'s rows),
    means over the seeds; nothing if no run was scored."""
    if errors.empty:
        return []
    lines = [
        "## Where the error lies in k-space (test slices)",
        "",
        "Each trained model's k-space error, normalised by the energy of each region: **measured**, "
        "‖M(Fx̂ − y)‖² / ‖y‖², how much of the measurement the output changes; then ‖R(Fx̂ − Fx)‖² / ‖RFx‖² on the "
        "points its frame did not measure (**unmeasured**), and of those the points another frame measured "
        "(**other frames**; there are none where every frame measures the same lines) and the points no frame "
        "measured (**never**), where no score computed from the measurements can see the output; zero-filled scores "
        "0 on the first and 1 on the others. Means over the test slices and the seeds.",
        "",
        "| method | acc | seeds | measured | unmeasured | other frames | never |",
        "|---|--:|---|--:|--:|--:|--:|",
    ]
    for (m, a), g in errors.groupby(["method", "acceleration"], sort=False):
        seeds = ", ".join(str(s) for s in sorted(g.seed))
        region = lambda name: f"{g[name].mean():.3f}" if g[name].notna().any() else "no such point"  # noqa: E731
        lines.append(
            f"| {m} | {a} | {seeds} | {100 * g.measured.mean():.2f} % | {region('unmeasured')} | "
            f"{region('other_frames')} | {region('never')} |"
        )
    return lines + [""]


def figure(config: dict, metrics: pd.DataFrame, path: Path) -> None:
    """Test PSNR minus zero-filled's, paired by slice: one point per seed, the mean as a bar, per acceleration."""
    from converge import paired_difference
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ddei.report.style import label, register

    register(config["variants"], config["evaluation"]["external"])
    accs = [int(a) for a in config["masks"]["accelerations"]]
    methods = list(config["methods"])
    fig = Figure(figsize=(4.2 * len(accs), 0.45 * len(methods) + 1.2))
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(1, len(accs), sharey=True))
    for ax, acc in zip(axes, accs, strict=True):
        for i, m in enumerate(methods):
            d = paired_difference(metrics, m, "zf", acc)
            if d is None:
                continue
            ax.barh(i, d["mean"], color="#bbbbbb")
            ax.plot([d["ci"][0], d["ci"][1]], [i, i], color="black", lw=1)
            ax.scatter(
                list(d["per_seed"].values()), [i] * len(d["per_seed"]), s=12, color="#d62728", zorder=3
            )
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(f"×{acc}")
        ax.set_xlabel("test PSNR − zero-filled (dB)")
        ax.set_yticks(range(len(methods)), [label(m) for m in methods], fontsize=7)
    axes[0].invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def report(name: str, out: Path) -> Path:
    """Write the study's page (and figure) to ``out``; return the page."""
    import converge
    from converge import commit, difference_row, machine, paired_difference  # the convergence page's

    converge._set_root(REPO)  # the commit named is the one of the checkout whose workflow ran
    config = load_config(name)
    metrics, curves = collect(config)
    page = STUDIES[name][0] if name in STUDIES else Path(name).stem
    out.mkdir(parents=True, exist_ok=True)
    accs = [int(a) for a in config["masks"]["accelerations"]]
    lines = [
        f"# Baselines: T-SSDU and Phase2Phase at their best ({Path(name).name})",
        "",
        f"Generated by `python experiments/baselines.py report --config {name}` from the runs of "
        f"`python experiments/baselines.py run --config {name}` (`config/config.yaml` amended by `{name}`: "
        f"{config['image_size'][0]}x{config['image_size'][1]} images, {config['model']['chans']} channels, "
        f"{config['training']['epochs']} epochs, seeds {config['training']['seeds']}, "
        f"{', '.join(f'{a}x' for a in accs)}). Machine: {machine()}. Commit: {commit()}. "
        f"Date: {datetime.date.today().isoformat()}.",
        "",
    ]
    if metrics.empty:
        lines += ["No run has finished yet."]
    else:
        figure(config, metrics, out / f"{page}.png")
        lines += [
            "## Test PSNR against zero-filled",
            "",
            f"![PSNR differences]({page}.png)",
            "",
            "Paired by test slice; the CI is a 95 % bootstrap over slices of the seed-averaged differences; "
            "wins: slices where the seed-averaged difference is above 0.",
            "",
            "| comparison | metric | acceleration | mean | 95 % CI | per seed | slices won |",
            "|:--|:--|--:|--:|:--|:--|--:|",
        ]
        for acc in accs:
            for m in config["methods"]:
                d = paired_difference(metrics, m, "zf", acc, PSNR)
                if d is not None:
                    lines.append(difference_row(m, "zf", PSNR, d, acc))
        reference = config["evaluation"]["reference"]
        lines += [
            "",
            f"## The contest: {reference} against each",
            "",
            "Paired by test slice and seed.",
            "",
            "| comparison | metric | acceleration | mean | 95 % CI | per seed | slices won |",
            "|:--|:--|--:|--:|:--|:--|--:|",
        ]
        for acc in accs:
            for m in config["methods"]:
                d = paired_difference(metrics, reference, m, acc, PSNR) if m != reference else None
                if d is not None:
                    lines.append(difference_row(reference, m, PSNR, d, acc))
        zf = metrics[metrics.method == "zf"].groupby("acceleration")[PSNR].mean()
        lines += [
            "",
            "Zero-filled mean test PSNR: " + ", ".join(f"{a}x {v:.2f} dB" for a, v in zf.items()),
            "",
        ]
    if not curves.empty:
        curves = curves[curves.kept.notna()]  # finished runs only (kept is written at the end)
    if not curves.empty and curves["dc_weight"].notna().any():
        learned = curves[curves.dc_weight.notna()]
        table = learned.groupby(["method", "acceleration", "step"]).dc_weight.mean().unstack("step")
        steps = list(table.columns)
        lines += [
            "## The data-consistency weight λ over training",
            "",
            "Mean over seeds at each validation step (0: hard data consistency; the reference initialises λ at "
            "log(e − 1) = 0.541).",
            "",
            "| method | acceleration | " + " | ".join(f"step {s}" for s in steps) + " |",
            "|:--|--:|" + "--:|" * len(steps),
        ]
        for (m, a), row in table.iterrows():
            lines.append(f"| {m} | {a} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
        lines.append("")
    lines += region_table(kspace_errors(config))
    notes = HERE.parent / "docs" / "results" / f"{page}_notes.md"
    if notes.is_file():  # the reading of the results, written by hand after they came out
        lines += [notes.read_text().strip()]
    path = out / f"{page}.md"
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path


def _set_root(root: Path) -> None:
    global REPO
    REPO = Path(root).resolve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["run", "report"])
    parser.add_argument("--config", default=DEFAULT, help="the study's config, relative to the repository")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results")
    parser.add_argument("--root", type=Path, default=REPO,
                        help="the checkout whose workflow ran (its results, configs and commit are reported)")  # fmt: skip
    args = parser.parse_args()
    _set_root(args.root)
    if args.command == "run":
        sys.exit(run(args.config, args.cores))
    print(report(args.config, args.out))


if __name__ == "__main__":
    main()
