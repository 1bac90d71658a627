"""The convergence experiment: DDEI against T-SSDU and Phase2Phase trained to a plateau, and its results page.

1. ``run``: the workflow on ``config/converge.yaml`` (``--cpu``: merged with ``config/converge_cpu.yaml``), for
   the experiment's grid of runs only. On the GPU the grid is every method x acceleration x seed of the config;
   the CPU grid (:data:`CPU_GRID`) is the fewest runs that answer the question, the contest at 8x first (DDEI and
   both T-SSDUs, each with the last and with the held-out-selected weights, seed 0 then seed 1; then Phase2Phase),
   then at 16x and 8x the reference code's DDEI and T-SSDU, the fixed DDEI at 16x, and the oracle on 1 seed.
   ``--only`` runs a part of it.
   A run that does not finish resumes from its checkpoint when the driver is started again (same code, config).
2. ``report``: ``docs/results/convergence.md`` and its figure from what the runs wrote: every run's validation
   curve (``val.csv``), its plateau status, the test table, DDEI - T-SSDU with a 95 % confidence interval and the
   per-seed values, the machine, the commit and the wall times (the ``benchmark:`` files).

The plateau criterion was fixed before any run: the mean validation PSNR of the last quarter of a run improves on
the quarter before by less than :data:`PLATEAU_DB`.

    python experiments/converge.py run [--cpu] [--cores 2] [--only METHOD:ACC:SEED ...]
    python experiments/converge.py report [--cpu] [--out docs/results]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ddei.io.layout import CHECKPOINT, LOSS, METRICS, MODEL, RUN_NAME, VAL, result
from ddei.methods.configfiles import read_config
from ddei.mri.metrics import HOLDOUT_NMSE, PSNR, SSIM

REPO = Path(__file__).resolve().parents[1]
#: The files over config/config.yaml of each kind of data: simulated measurements (the contest); the release's
#: undersampled scans learned from alone (``acquired``); their FullSample twins undersampled by the pipeline's
#: time-varying masks of the same factors (``twins``, the reference the acquired runs are read against).
DATA = {
    "simulated": (),
    "acquired": ("config/undersampled_converge.yaml",),
    "twins": ("config/undersampled_converge.yaml", "config/undersampled_converge_twins.yaml"),
}
#: The contest's runs on one seed: DDEI and the two T-SSDUs (this project's chosen one and the reference code's), each
#: with the last and the held-out-selected weights; the two DDEIs first, so that on 2 cores both long runs start
#: together and the four T-SSDUs fill the second half.
CONTEST = ("ddei-holdout", "ddei", "t-ssdu", "t-ssdu-holdout", "t-ssdu-upstream-holdout", "t-ssdu-upstream")
#: The CPU grid: (method, acceleration, seeds), most needed first: the contest at 8x on seed 0, then on seed 1, then
#: Phase2Phase with each selection, then the runs of the first CPU campaign (whose T-SSDU was the reference code's).
CPU_GRID = [(m, 8, (s,)) for s in (0, 1) for m in CONTEST]
CPU_GRID += [("phase2phase", 8, (0, 1)), ("phase2phase-holdout", 8, (0, 1)),
             ("ddei-upstream", 16, (0, 1)), ("t-ssdu-upstream", 16, (0, 1, 2)), ("sup", 16, (0,)),
             ("ddei", 16, (0, 1, 2)), ("ddei-upstream", 8, (0, 1)), ("sup", 8, (0,))]  # fmt: skip
#: The CPU grid on the release's undersampled scans (``--data acquired``):
#: DDEI, EI-rotate and T-SSDU with each selection at 8x on seed 0, then at 4x, then seed 1 at 8x; DDEI without its
#: time shift (``ddei-spatial``) at 8x on seed 0.
UNDERSAMPLED_CPU_GRID = [(m, 8, (0,)) for m in ("ddei", "ei-r", "t-ssdu", "ddei-spatial")]
UNDERSAMPLED_CPU_GRID += [(m, 8, (0,)) for m in ("ddei-holdout", "ei-r-holdout", "t-ssdu-holdout")]
UNDERSAMPLED_CPU_GRID += [
    (m, 4, (0,)) for m in ("ddei", "ei-r", "t-ssdu", "ddei-holdout", "ei-r-holdout", "t-ssdu-holdout")
]
UNDERSAMPLED_CPU_GRID += [
    (m, 8, (1,)) for m in ("ddei", "ei-r", "t-ssdu", "ddei-holdout", "ei-r-holdout", "t-ssdu-holdout")
]
#: The CPU grid on the twins (``--data twins``), the reference points: the same methods with the paper's selection
#: (the last weights) only, at the same factors and seeds; a -holdout run would repeat its base run's training.
TWINS_CPU_GRID = [(m, a, seeds) for m, a, seeds in UNDERSAMPLED_CPU_GRID if m in ("ddei", "ei-r", "t-ssdu")]
#: The comparisons of the undersampled-scans pages.
UNDERSAMPLED_COMPARISONS = [("ddei", "t-ssdu"), ("ddei", "ei-r"), ("ddei", "ddei-spatial"),
                            ("ddei-holdout", "t-ssdu-holdout"), ("ddei-holdout", "ei-r-holdout")]  # fmt: skip
#: Plateau: the last quarter's mean validation PSNR improves on the quarter before by less than this (dB).
PLATEAU_DB = 0.1
#: The comparisons of the results page: (method, reference); the last four, what the held-out selection changes.
COMPARISONS = [("ddei", "t-ssdu"), ("ddei", "t-ssdu-upstream"), ("ddei-holdout", "t-ssdu-holdout"),
               ("ddei-holdout", "t-ssdu-upstream-holdout"), ("ddei", "phase2phase"),
               ("ddei-holdout", "phase2phase-holdout"), ("ddei-upstream", "t-ssdu-upstream"),
               ("ddei", "ddei-upstream"), ("ddei-holdout", "ddei"), ("t-ssdu-holdout", "t-ssdu"),
               ("t-ssdu-upstream-holdout", "t-ssdu-upstream"), ("phase2phase-holdout", "phase2phase")]  # fmt: skip


@dataclass(frozen=True)
class Setting:
    """One setting of the experiment.

    :param bool cpu: the CPU variant (``config/converge_cpu.yaml``, its grid :data:`CPU_GRID` or
        :data:`UNDERSAMPLED_CPU_GRID`, :data:`TWINS_CPU_GRID`), else every method x acceleration x seed of the config.
    :param str data: a key of :data:`DATA`.
    """

    cpu: bool = False
    data: str = "simulated"

    @property
    def configs(self) -> list[str]:
        """The config files over ``config/config.yaml``, in the order they are merged."""
        return ["config/converge.yaml", *(["config/converge_cpu.yaml"] if self.cpu else []), *DATA[self.data]]

    @property
    def page(self) -> str:
        """The results page's name (and its figure's stem)."""
        stem = "convergence" if self.data == "simulated" else f"undersampled_converge_{self.data}"
        return stem + ("_cpu" if self.cpu else "")

    @property
    def overrides(self) -> dict:
        """Config values the driver sets: the undersampled settings' results folder, named for the page (so that
        the CPU and GPU variants of each keep their own); the contest's is its config's."""
        return {} if self.data == "simulated" else {"results": f"results/{self.page}"}

    @property
    def cpu_grid(self) -> list:
        return {"simulated": CPU_GRID, "acquired": UNDERSAMPLED_CPU_GRID, "twins": TWINS_CPU_GRID}[self.data]

    @property
    def comparisons(self) -> list:
        return COMPARISONS if self.data == "simulated" else UNDERSAMPLED_COMPARISONS

    @property
    def flags(self) -> str:
        """The driver's options that select this setting."""
        return " ".join(
            [*(["--cpu"] if self.cpu else []), *([f"--data {self.data}"] if self.data != "simulated" else [])]
        )


def load_config(setting: Setting) -> dict:
    """The experiment's config, as the workflow merges it (later files override earlier ones, key by key)."""
    return read_config(REPO, setting.configs) | setting.overrides


def grid(config: dict, setting: Setting) -> list[tuple[str, int, int]]:
    """(method, acceleration, seed) of every trained run of the experiment."""
    if setting.cpu:
        return [(m, a, s) for m, a, seeds in setting.cpu_grid for s in seeds]
    return [(m, a, s) for m in config["methods"] for a in config["masks"]["accelerations"]
            for s in config["training"]["seeds"]]  # fmt: skip


def metrics_file(results: Path, method: str, acc: int, seed: int) -> Path:
    return results / result(METRICS, method, acc, seed)


def _matches(pattern: str, run: tuple[str, int, int]) -> bool:
    return all(p in ("*", str(v)) for p, v in zip(pattern.split(":"), run, strict=True))


def selected(runs: list[tuple[str, int, int]], only: list[str] | None) -> list[tuple[str, int, int]]:
    """The runs ``(method, acceleration, seed)`` that ``only``'s ``method:acc:seed`` patterns select (``*`` for
    any), in the order of the patterns (the grid's order within one); every run if ``only`` is ``None``."""
    if not only:
        return list(runs)
    out = []
    for pattern in only:
        out += [r for r in runs if _matches(pattern, r) and r not in out]
    return out


def run(setting: Setting, cores: int, only: list[str] | None = None) -> int:
    """Train and evaluate the grid (the runs ``only`` selects, in its order) with Snakemake; return its exit status.

    On the GPU, one Snakemake call for all. On the CPU, where a job uses one core: a first call makes the data,
    masks and zero-filled metrics, then ``cores`` workers take the runs in order, one ``snakemake --cores 1`` call
    each (the runs differ in length, so a worker that is done takes the next one).
    """
    config = load_config(setting)
    results = Path(config["results"])  # relative to the workflow's root, as the rules name their outputs
    runs = selected(grid(config, setting), only)
    accs = sorted({a for _, a, _ in runs})
    targets = [metrics_file(results, m, a, s) for m, a, s in runs]
    first = [metrics_file(results, "zf", a, 0) for a in accs]
    base = [sys.executable, "-m", "snakemake", "--configfile", *setting.configs]
    base += ["--config", *(f"{k}={v}" for k, v in setting.overrides.items())] if setting.overrides else []
    base += ["--cores"]
    (REPO / results).mkdir(parents=True, exist_ok=True)
    started = time.time()

    def call(cmd: list) -> int:
        print(" ".join(cmd), flush=True)
        return subprocess.call(cmd, cwd=REPO)

    if not setting.cpu:
        cmds = [base + [str(cores), "--", *map(str, targets + first)]]
        status = call(cmds[0])
    else:
        from concurrent.futures import ThreadPoolExecutor

        cmds = [base + [str(cores), "--", *map(str, first)]]
        status = call(cmds[0])
        if status == 0:
            cmds += [base + ["1", "--", str(t)] for t in targets]
            with ThreadPoolExecutor(max_workers=cores) as pool:
                status = max(pool.map(call, cmds[1:]), default=0)
    info = REPO / results / "converge_run.json"
    info = (
        info
        if not info.exists()
        else info.with_name(f"converge_run{len(list(info.parent.glob('converge_run*.json')))}.json")
    )
    info.write_text(
        json.dumps(
            {"cmds": cmds, "status": status, "started": started, "wall_s": time.time() - started}, indent=1
        )
    )
    return status


# ----------------------------------------------------------------------------------------------------------------
# The results page
# ----------------------------------------------------------------------------------------------------------------


def score(val: pd.DataFrame) -> pd.Series:
    """A run's validation score in dB, higher is better: its PSNR, or for a run validated without ground truth
    (``training.select: holdout``, acquired scans) minus its held-out-line NMSE in dB."""
    if val[PSNR].notna().any():
        return val[PSNR]
    return -10 * np.log10(val[HOLDOUT_NMSE])


def plateau(val: pd.DataFrame) -> dict:
    """The plateau criterion on one run's validation curve (:func:`score`, the measurements after step 0).

    :return: ``{"last": mean score of the last quarter, "gain": last - previous quarter, "plateau": bool}``.
    """
    curve = val[val.step > 0].sort_values("step")
    n = len(curve) // 4
    if n == 0:
        return {"last": float("nan"), "gain": float("nan"), "plateau": False}
    values = score(curve)
    last, before = values.iloc[-n:].mean(), values.iloc[-2 * n : -n].mean()
    return {"last": last, "gain": last - before, "plateau": bool(last - before < PLATEAU_DB)}


def needed_budget(val: pd.DataFrame, batch: int) -> float:
    """Slice-passes at which the plateau criterion would be met, from a fit of the validation curve
    (:func:`score` ``= a - b * exp(-step / tau)``, measurements after step 0); NaN if the fit fails, or finds no rise
    (``b`` under twice the criterion's 0.1 dB) to extrapolate.

    The criterion compares the last two quarters of a run of length ``L``: under the fit their mean difference is
    means under the fit, computed numerically; the smallest ``L`` (searched on a log grid) where they differ by
    less than :data:`PLATEAU_DB` is returned (``inf`` beyond 100 times the run).
    """
    from scipy.optimize import curve_fit

    curve = val[val.step > 0].sort_values("step")
    t, y = curve.step.to_numpy(float), score(curve).to_numpy(float)
    if len(t) < 8:
        return float("nan")

    def model(t, a, b, tau):
        return a - b * np.exp(-t / tau)

    try:
        (a, b, tau), _ = curve_fit(model, t, y, p0=(y[-1], y[-1] - y[0], t[-1] / 3), maxfev=20_000)
    except (RuntimeError, ValueError):
        return float("nan")
    if not (tau > 0 and np.isfinite(tau)) or b < 2 * PLATEAU_DB:  # no rise to extrapolate
        return float("nan")

    def quarter_gain(length):
        grid = np.linspace(0, length, 4001)[1:]
        fit = model(grid, a, b, tau)
        n = len(grid) // 4
        return fit[-n:].mean() - fit[-2 * n : -n].mean()

    if (
        quarter_gain(t[-1]) < PLATEAU_DB
    ):  # the fit says this run plateaued: it does not describe a run that did not
        return float("nan")
    for length in np.geomspace(t[-1], t[-1] * 100, 400):
        if quarter_gain(length) < PLATEAU_DB:
            return float(length * batch)
    return float("inf")


#: The slice keys of a metrics file: a test slice of a run is the same slice in every setting of the same patients.
SLICE_KEYS = ["patient", "view", "slice"]


def paired_difference(
    metrics: pd.DataFrame, a: str, b: str, acc: int, metric: str = PSNR, rng_seed: int = 0
) -> dict | None:
    """Mean ``metric`` of ``a`` minus ``b``, paired by test slice and seed, with a 95 % bootstrap CI over slices and the
    per-seed differences; ``None`` if either has no run. Zero-filled (evaluated once) pairs with every seed."""
    sel = metrics[metrics.acceleration == acc]
    pa, pb = sel[sel.method == a], sel[sel.method == b]
    if b == "zf":
        both = pa.merge(pb.drop(columns="seed"), on=SLICE_KEYS, suffixes=("_a", "_b"))
    else:
        both = pa.merge(pb, on=["seed", *SLICE_KEYS], suffixes=("_a", "_b"))
    if both.empty:
        return None
    both["d"] = both[f"{metric}_a"] - both[f"{metric}_b"]
    per_seed = both.groupby("seed").d.mean()
    slices = both.groupby(SLICE_KEYS).d.mean().to_numpy()
    rng = np.random.default_rng(rng_seed)
    boot = rng.choice(slices, (10_000, len(slices))).mean(1)
    return {
        "mean": float(both.d.mean()),
        "ci": (float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))),
        "per_seed": {int(s): float(v) for s, v in per_seed.items()},
        "slices": len(slices),
        "wins": f"{int((slices > 0).sum())}/{len(slices)}",
    }


#: The metrics of the difference tables: each one's name in a table and the format of a difference.
DIFFERENCE_FORMATS = {PSNR: ("PSNR (dB)", "{:+.2f}"), SSIM: ("SSIM", "{:+.3f}")}


def difference_row(
    a: str, b: str, metric: str, d: dict, acc: int | None = None, what: str | None = None
) -> str:
    """One row of a table of paired differences (:func:`paired_difference`): comparison, what is compared (unless
    ``None``), metric, the acceleration (unless ``None``), mean, confidence interval, per seed, slices won."""
    unit, fmt = DIFFERENCE_FORMATS[metric]
    seeds = ", ".join(f"seed {s}: {fmt.format(v)}" for s, v in d["per_seed"].items())
    ci = f"[{fmt.format(d['ci'][0])}, {fmt.format(d['ci'][1])}]"
    cells = [f"{a} − {b}", *([what] if what is not None else []), unit, *([str(acc)] if acc is not None else []),
             fmt.format(d["mean"]), ci, seeds]  # fmt: skip
    return "| " + " | ".join([*cells, str(d["wins"])]) + " |"


def machine() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name()
    except ImportError:
        pass
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        name = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line)
        flags = next((line for line in lscpu.splitlines() if line.startswith("Flags")), "")
        extras = [f for f in ("avx512f", "avx512_bf16", "amx_tile") if f in flags.split()]
        cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
        return f"{name} ({cores} cores; {', '.join(extras) or 'no AVX-512'})"
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def commit(root: Path | None = None) -> str:
    """The commit of the checkout ``root`` (default: the one whose workflow ran), marked if its code is changed."""
    root = REPO if root is None else root
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "ddei", "workflow", "config"], cwd=root,
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")


def collect(config: dict, setting: Setting) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(validation curves, test metrics, per-run summary) of every run that has its files."""
    results = REPO / config["results"]
    curves, metrics, rows = [], [], []
    for m, a, s in grid(config, setting):
        val_csv = results / result(VAL, m, a, s)
        bench = results / "benchmarks" / "train" / f"{result(RUN_NAME, m, a, s)}.tsv"
        checkpoint = results / result(CHECKPOINT, m, a, s)
        row = {"method": m, "acceleration": a, "seed": s, "status": "not run"}
        if (results / result(MODEL, m, a, s)).is_file():
            row["status"] = "trained"
        elif checkpoint.is_file():
            row["status"] = "unfinished (checkpoint kept)"
        if val_csv.is_file():
            val = pd.read_csv(val_csv).assign(method=m, acceleration=a, seed=s)
            curves.append(val)
            row |= plateau(val) | {"steps": int(val.step.max())}
            row["fit_budget"] = needed_budget(val, config["training"]["batch_size"])
            row["slice_passes"] = int(val.step.max()) * config["training"]["batch_size"]
        if bench.is_file():
            row["train_s"] = float(pd.read_csv(bench, sep="\t").s.iloc[0])
        mf = metrics_file(results, m, a, s)
        if mf.is_file():
            df = pd.read_csv(mf, dtype={"patient": str})
            metrics.append(df)
            row["test_psnr"], row["test_ssim"] = df.psnr.mean(), df.ssim.mean()
        rows.append(row)
    for a in sorted({a for _, a, _ in grid(config, setting)}):
        mf = metrics_file(results, "zf", a, 0)
        if mf.is_file():
            df = pd.read_csv(mf, dtype={"patient": str})
            metrics.append(df)
            rows.append({"method": "zf", "acceleration": a, "seed": 0, "status": "not trained",
                         "test_psnr": df.psnr.mean(), "test_ssim": df.ssim.mean()})  # fmt: skip
    cat = lambda frames: pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()  # noqa: E731
    return cat(curves), cat(metrics), pd.DataFrame(rows)


HOLDOUT_SUFFIX = "-holdout"


def selection_pairs(config: dict, setting: Setting) -> list[str]:
    """The page's section on each run ``X-holdout`` whose base run ``X`` (same method, acceleration and seed, the
    last weights kept) is there too: whether the two trained alike (per-epoch training losses, which the selection
    must not change: only the validation, which trains nothing, differs) and which step each kept.

    When they trained alike, the base run's validation PSNR at a step is that of the ``-holdout`` run's weights at
    the same step, so the base run's curve tells how well the held-out-line error ranks the checkpoints: the PSNR at
    the step it kept, at the last step and at the best step (chosen with ground truth, for comparison only), and
    the rank correlation of held-out error and PSNR over the validation steps, all and those of the run's second half
    (``-1``: it ranks them perfectly).
    """
    results = REPO / config["results"]
    batch = config["training"]["batch_size"]
    rows, runs = [], grid(config, setting)
    for m, a, s in runs:
        base = m.removesuffix(HOLDOUT_SUFFIX)
        files = [results / result(LOSS, x, a, s) for x in (base, m)]
        if base == m or (base, a, s) not in runs or not all(f.is_file() for f in files):
            continue
        last, held = (pd.read_csv(f).set_index("epoch").loss for f in files)
        common = last.index.intersection(held.index)
        gap = float((last[common] - held[common]).abs().max()) if len(common) else float("nan")
        same = "identical" if gap == 0 else f"max difference {gap:.3g}"
        vals = [results / result(VAL, x, a, s) for x in (base, m)]
        curve = pd.DataFrame()
        if all(v.is_file() for v in vals):
            psnr, nmse = (pd.read_csv(v).set_index("step") for v in vals)
            curve = (
                psnr[[PSNR]]
                .join(nmse[[HOLDOUT_NMSE, "kept"]], how="inner")
                .dropna(subset=[PSNR, HOLDOUT_NMSE])
            )
        kept = curve.index[curve.kept == 1] if "kept" in curve else []
        cells = ["not yet"] + [""] * 4  # the held-out run has not finished
        if len(kept):
            cells[0] = f"{kept[0] * batch:,}"
        # one trajectory: the base run's validation PSNR scores the held-out run's checkpoints
        if len(kept) and gap == 0:
            best = curve[PSNR].idxmax()
            late = curve[curve.index > curve.index.max() / 2]
            rho = [c[HOLDOUT_NMSE].corr(c[PSNR], method="spearman") for c in (curve, late)]
            cells[1:] = [f"{curve[PSNR][kept[0]]:.2f}", f"{curve[PSNR].iloc[-1]:.2f}",
                         f"{curve[PSNR][best]:.2f} ({best * batch:,})", f"{rho[0]:+.2f}, {rho[1]:+.2f}"]  # fmt: skip
        rows.append(f"| {base} | {a} | {s} | {len(common)} | {same} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    return [
        "",
        "## One training, two selections",
        "",
        "A `-holdout` run repeats its base run's training (same seed and steps; validation trains nothing) and keeps "
        "other weights. Per-epoch training losses compared over the epochs both have run; where they are identical, "
        "the base run's validation PSNR at each step is that of the held-out run's weights, so the held-out "
        "selection is scored on it (the best step is chosen with ground truth, for comparison only; the rank "
        "correlation is that of held-out error and validation PSNR over all validation steps, then over the second "
        "half of the run, where the kept step lies; −1 is a perfect ranking):",
        "",
        "| base run | acc | seed | epochs compared | training losses | held-out selection kept (slice-passes) | "
        "val PSNR there | val PSNR, last step | val PSNR, best step (slice-passes) | rank correlation |",
        "|---|--:|--:|--:|---|--:|--:|--:|--:|--:|",
        *rows,
    ]


SEED_LINES = ("-", "--", ":", "-.")  # line style of seed 0, 1, 2, ...


def gains(metrics: pd.DataFrame) -> pd.DataFrame:
    """Each trained run's metrics minus zero-filled's on the same test slice (its gain over zero-filled), with the
    columns of ``metrics``; zero-filled itself is left out."""
    zf = metrics[metrics.method == "zf"].drop(columns=["method", "seed"])
    runs = metrics[metrics.method != "zf"]
    both = runs.merge(zf, on=["acceleration", *SLICE_KEYS], suffixes=("", "_zf"))
    for metric in DIFFERENCE_FORMATS:
        both[metric] = both[metric] - both[f"{metric}_zf"]
    return both[runs.columns]


def against_twins(acquired: pd.DataFrame, twins: pd.DataFrame) -> list[str]:
    """The section of the acquired scans' page that compares each method learned from them with the same method
    learned from their FullSample twins with the pipeline's time-varying masks of the same factor (each tested on its
    own test inputs, the same slices): what each run reaches, and what it gains over its own zero-filled input.

    :param acquired: the test metrics of the acquired setting's runs and zero-filled (:func:`collect`).
    :param twins: the same of the twins' setting.
    """
    if acquired.empty or twins.empty:
        return []
    key = lambda df: set(map(tuple, df[["acceleration", *SLICE_KEYS]].astype(str).to_numpy()))  # noqa: E731
    for acc in set(acquired.acceleration) & set(twins.acceleration):
        a, t = (key(df[(df.method == "zf") & (df.acceleration == acc)]) for df in (acquired, twins))
        if a != t:
            raise ValueError(
                f"at {acc}x the acquired scans' test slices and the twins' differ ({len(a)} and {len(t)}, "
                f"{len(a & t)} shared): the two settings must split the same patients the same way"
            )
    label = lambda df, name: df.assign(method=df.method + f" ({name})")  # noqa: E731
    absolute = pd.concat([label(acquired, "acquired"), label(twins, "twins")], ignore_index=True)
    gained = pd.concat([label(gains(acquired), "acquired"), label(gains(twins), "twins")], ignore_index=True)
    lines = [
        "",
        "## Against the paper's kind of mask (the FullSample twins)",
        "",
        "Each method learned from the acquired scans (the same lines in every frame) against the same method learned "
        "from their FullSample twins undersampled by the pipeline's time-varying masks of the same factor "
        "(`--data twins`), each tested on its own test inputs, paired by slice and seed. **reached**: the test "
        "metric itself; **gain over zero-filled**: each run's metric minus its own zero-filled input's, so that the "
        "difference is what the kind of mask is worth to learning.",
        "",
        "| comparison | what | metric | acc | mean | 95 % CI (bootstrap over slices) | per seed | slices won |",
        "|---|---|---|--:|--:|---|---|--:|",
    ]
    methods = [m for m in dict.fromkeys(acquired.method) if m in set(twins.method)]
    for what, frame in (("reached", absolute), ("gain over zero-filled", gained)):
        for m in methods if what == "reached" else [m for m in methods if m != "zf"]:
            for acc in sorted(frame.acceleration.unique()):
                for metric in DIFFERENCE_FORMATS:
                    d = paired_difference(frame, f"{m} (acquired)", f"{m} (twins)", acc, metric)
                    if d is not None:
                        lines.append(difference_row(f"{m} (acquired)", f"{m} (twins)", metric, d, acc, what))
    return lines


def where_errors(config: dict, runs: pd.DataFrame) -> list[str]:
    """The section on where in k-space each trained run's test error lies (``experiments/baselines.py``
    :func:`region_table`), means over the test slices and over the seeds."""
    import copy

    from baselines import kspace_errors, region_table, validated

    if runs.empty or "status" not in runs:
        return []
    trained = runs[runs.status == "trained"]
    keys = [(r.method, int(r.acceleration), int(r.seed)) for r in trained.itertuples()]
    errors = kspace_errors(validated(copy.deepcopy(config)), keys, REPO / config["results"])
    if errors.empty:
        return []
    here = Path(__file__).resolve().parents[1]
    return [
        "",
        *region_table(errors)[:-1],
        "",
        f"Computed by the code of commit {commit(here)} from the trained models.",
    ]


def figure(curves: pd.DataFrame, config: dict, path: Path) -> None:
    """Validation PSNR and SSIM against slice-passes, one column per acceleration, one line per run; a third row
    with the held-out-line NMSE of the runs validated without ground truth, if any."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ddei.report import style as styles

    # a shipped variant is labelled by this checkout (the run's config may carry an older label of it)
    variants = {n: v for n, v in config.get("variants", {}).items() if n not in styles.SHIPPED_LABELS}
    styles.register(variants)
    accs = sorted(curves.acceleration.unique())
    rows = [(PSNR, "validation PSNR (dB)"), (SSIM, "validation SSIM")]
    if HOLDOUT_NMSE in curves and curves[HOLDOUT_NMSE].notna().any():
        curves = curves.assign(holdout_db=10 * np.log10(curves[HOLDOUT_NMSE]))
        rows.append(("holdout_db", "held-out-line NMSE (dB), lower is better"))
    fig, axes = plt.subplots(len(rows), len(accs), figsize=(6.5 * len(accs), 3.7 * len(rows)), squeeze=False,
                             sharex=True)  # fmt: skip
    batch = config["training"]["batch_size"]
    for col, acc in enumerate(accs):
        for row, (metric, name) in enumerate(rows):
            ax = axes[row, col]
            for (m, s), run in curves[curves.acceleration == acc].groupby(["method", "seed"]):
                style = styles.style_of(m)
                ax.plot(run.step * batch, run[metric], color=style.colour, ls=SEED_LINES[s % len(SEED_LINES)], lw=1.2,
                        label=f"{style.label}, seed {s}")  # fmt: skip
            ax.axvline(19_200, color="grey", lw=0.8, ls=":")
            ax.set(ylabel=name, title=f"{acc}x" if row == 0 else "")
            ax.grid(alpha=0.3)
        axes[-1, col].set_xlabel("training slice-passes (the paper: 19,200)")
    for ax in axes[0]:  # each column has its own runs
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(setting: Setting, out: Path) -> Path:
    """Write the results page (and its figure) from what the runs wrote; return the page's path."""
    config = load_config(setting)
    curves, metrics, runs = collect(config, setting)
    name = setting.page
    if not curves.empty:
        figure(curves, config, out / f"{name}_curves.png")
    # a run interrupted and started again (same code and config) resumes: its wall time is the sum of its parts
    parts = sorted((REPO / config["results"]).glob("converge_run*.json"))
    wall = sum(json.loads(p.read_text())["wall_s"] for p in parts) if parts else float("nan")
    lines = [
        f"# Convergence experiment ({'CPU variant' if setting.cpu else 'GPU'}, {setting.data} measurements): "
        "DDEI against T-SSDU trained to a plateau",
        "",
        f"- **Config:** `{' + '.join(setting.configs)}`; driver `experiments/converge.py {setting.flags}`.",
        f"- **Commit:** {commit()}. **Machine:** {machine()}. **Date:** {datetime.date.today().isoformat()}.",
        (
            f"- **Wall time** of the driver's workflow run: {wall / 60:.1f} min ({len(parts)} part(s)); per run, the "
            "training time below (Snakemake's `benchmark:` files)."
            if parts
            else "- **Wall time:** the driver's run has not ended; per run, the training time below (Snakemake's "
            "`benchmark:` files)."
            if "status" in runs and (runs.status == "trained").any()
            else "- **Wall time:** not run yet."
        ),
        f"- **Plateau criterion** (fixed before the runs): the last quarter's mean validation PSNR improves on the "
        f"quarter before by less than {PLATEAU_DB} dB (for a run validated without ground truth, minus its "
        "held-out-line NMSE in dB).",
        *(["", f"![validation curves]({name}_curves.png)"] if not curves.empty else []),
        "",
        "## Runs",
        "",
        "| method | acc | seed | status | slice-passes | train (min) | val score, last quarter (dB) | gain on the "
        "quarter before (dB) | plateau | plateau budget from a fit (slice-passes) | test PSNR | test SSIM |",
        "|---|--:|--:|---|--:|--:|--:|--:|---|--:|--:|--:|",
    ]
    for r in runs.to_dict("records"):
        f = lambda k, fmt="{:.2f}": fmt.format(r[k]) if k in r and pd.notna(r[k]) else ""  # noqa: E731
        plateau_s = ""
        if r["status"] == "trained" and pd.notna(r.get("plateau")):
            plateau_s = "yes" if r["plateau"] else "**no**"
            plateau_s += " (declining)" if r["gain"] < -PLATEAU_DB else ""
        train_min = f"{r['train_s'] / 60:.1f}" if pd.notna(r.get("train_s", np.nan)) else ""
        budget = (f("fit_budget", "{:,.0f}") or "no trend to fit") if plateau_s.startswith("**no**") else ""
        lines.append(
            f"| {r['method']} | {r['acceleration']} | {r['seed']} | {r['status']} | {f('slice_passes', '{:.0f}')} | "
            f"{train_min} | {f('last')} | {f('gain', '{:+.3f}')} | {plateau_s} | {budget} | "
            f"{f('test_psnr')} | "
            f"{f('test_ssim', '{:.4f}')} |"
        )
    lines += ["", "## Differences on the test slices (paired by slice and seed)", ""]
    lines += ["| comparison | metric | acc | mean | 95 % CI (bootstrap over slices) | per seed | slices won |",
              "|---|---|--:|--:|---|---|--:|"]  # fmt: skip
    if not metrics.empty:
        for a, b in setting.comparisons + [(m, "zf") for m in config["methods"]]:
            for acc in sorted(metrics.acceleration.unique()):
                for metric in DIFFERENCE_FORMATS:
                    d = paired_difference(metrics, a, b, acc, metric)
                    if d is not None:
                        lines.append(difference_row(a, b, metric, d, acc))
    lines += selection_pairs(config, setting)
    if setting.data == "acquired":
        twins = Setting(setting.cpu, "twins")
        lines += against_twins(metrics, collect(load_config(twins), twins)[1])
    lines += where_errors(config, runs)
    notes = Path(__file__).resolve().parents[1] / "docs" / "results" / f"{name}_notes.md"
    if notes.is_file():  # the reading of the results, written by hand after they came out
        lines += ["", notes.read_text().rstrip()]
    page = out / f"{name}.md"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text("\n".join(lines) + "\n")
    return page


def _set_root(root: Path) -> None:
    global REPO
    REPO = Path(root).resolve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["run", "report", "all"])
    parser.add_argument("--cpu", action="store_true", help="the CPU variant (config/converge_cpu.yaml)")
    parser.add_argument("--data", choices=list(DATA), default="simulated",
                        help="simulated measurements (the contest), the release's undersampled scans alone "
                        "(acquired), or their FullSample twins with the pipeline's masks (twins)")  # fmt: skip
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--only", nargs="+", metavar="METHOD:ACC:SEED",
                        help="run only these runs of the grid (`*` for any), e.g. '*:8:*' 'ddei:16:2'")  # fmt: skip
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results")
    parser.add_argument("--root", type=Path, default=REPO,
                        help="the checkout whose workflow ran (its results, configs and commit are reported)")  # fmt: skip
    args = parser.parse_args()
    _set_root(args.root)
    status = 0
    if args.action in ("run", "all"):
        status = run(Setting(args.cpu, args.data), args.cores, args.only)
    if args.action in ("report", "all"):
        print(f"wrote {report(Setting(args.cpu, args.data), args.out)}")
    sys.exit(status)


if __name__ == "__main__":
    main()
