"""Evidence for learning from undersampled scans alone: on the synthetic TrainingSet at 8x, DDEI and T-SSDU
trained on ``kspace_single_sub08`` alone against the same methods trained as today (FullSample k-space with the
pipeline's time-varying Gaussian masks), on the same patients, and zero-filled.

1. ``run``: the workflow twice, on the same synthetic patients and split (``config/undersampled.yaml`` and the
   overlay below): ``acquired`` learns from the AccFactor08 scans and their uniform masks; ``simulated`` from the
   FullSample twins masked by the pipeline. Both normalise by the zero-filled image (the only normalisation the
   acquired scans allow), at the default's budget (600 steps, 32x32, 8 channels), on 3 seeds.
2. ``report``: every model is evaluated on the acquired test scans (what the acquired path is for: reconstructing
   the scans as measured) and on its own test data; paired differences by slice and seed with 95 % bootstrap
   confidence intervals, as ``docs/results/convergence_cpu.md`` does; ``docs/results/undersampled.md``.

    python experiments/undersampled.py run [--cores 2]
    python experiments/undersampled.py report [--out docs/results]
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from ddei.io.layout import MODEL, result

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from converge import DIFFERENCE_FORMATS, commit, difference_row, machine, paired_difference  # noqa: E402

RESULTS = "results/undersampled_evidence"
METHODS = ("ddei", "t-ssdu")
SEEDS = (0, 1, 2)
ACCELERATION = 8
#: The two trainings: the overlay written over config/config.yaml and config/undersampled.yaml.
RUNS = {
    "acquired": {"data": {"measurements": "acquired"}},
    "simulated": {"data": {"measurements": "simulated"}},
}
COMMON = {
    "methods": list(METHODS),
    "masks": {"accelerations": [ACCELERATION]},
    "training": {"seeds": list(SEEDS)},
    "reconstruct": {"input": None},
    "evaluation": {"reference": "ddei", "save_recon": 0},
}


def overlay(name: str) -> Path:
    path = REPO / RESULTS / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {"results": f"{RESULTS}/{name}", **COMMON, "data": RUNS[name]["data"]}
    path.write_text(yaml.safe_dump(config))
    return path


def model(name: str, method: str, seed: int) -> str:
    return f"{RESULTS}/{name}/{result(MODEL, method, ACCELERATION, seed)}"


def run(cores: int) -> int:
    status, parts = 0, {}
    for name in RUNS:
        targets = [model(name, m, s) for m in METHODS for s in SEEDS]
        cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--configfile", "config/undersampled.yaml",
               str(overlay(name).relative_to(REPO)), "--", *targets]  # fmt: skip
        print(" ".join(cmd), flush=True)
        t0 = time.time()
        status = max(status, subprocess.call(cmd, cwd=REPO))
        parts[name] = time.time() - t0
    (REPO / RESULTS / "run.json").write_text(json.dumps({"wall_s": parts, "status": status}, indent=1))
    return status


def evaluate_all() -> pd.DataFrame:
    """Every model (and zero-filled) on the acquired test scans, and each model on its own test data."""
    sys.path.insert(0, str(REPO))
    from ddei.methods.config import RunConfig
    from ddei.runs.evaluation import run_evaluation
    from ddei.runs.preparation import Run
    from ddei.runs.weights import load_state

    frames = []
    out = REPO / RESULTS / "cross"
    for data in RUNS:
        extract, masks = REPO / RESULTS / data / "extract", REPO / RESULTS / data / "masks"
        for trained in RUNS:
            for method in METHODS:
                for seed in SEEDS:
                    path = REPO / model(trained, method, seed)
                    cfg = RunConfig.from_dict(load_state(path, ("state_dict",))["cfg"])
                    df = run_evaluation(
                        Run(cfg, ACCELERATION, seed, extract, masks),
                        path,
                        out / f"{trained}_{method}_{seed}_on_{data}.csv",
                        progress=False,
                    )
                    frames.append(df.assign(method=f"{method} ({trained})", data=data))
        zf = RunConfig("zf", "zf", (32, 32), "measurement", 0.0, "cpu", 1)
        df = run_evaluation(
            Run(zf, ACCELERATION, 0, extract, masks), None, out / f"zf_on_{data}.csv", progress=False
        )
        frames.append(df.assign(method="zf", data=data))
    return pd.concat(frames, ignore_index=True)


COMPARISONS = [
    ("ddei (acquired)", "zf"),
    ("t-ssdu (acquired)", "zf"),
    ("ddei (acquired)", "t-ssdu (acquired)"),
    ("ddei (simulated)", "zf"),
    ("t-ssdu (simulated)", "zf"),
    ("ddei (acquired)", "ddei (simulated)"),
    ("t-ssdu (acquired)", "t-ssdu (simulated)"),
]


def report(out: Path) -> Path:
    metrics = evaluate_all()
    metrics.to_csv(REPO / RESULTS / "cross_metrics.csv", index=False)
    info = (
        json.loads((REPO / RESULTS / "run.json").read_text())
        if (REPO / RESULTS / "run.json").is_file()
        else {}
    )
    lines = [
        "# Learning from undersampled scans alone (synthetic TrainingSet, 8x)",
        "",
        "- **Configs:** `config/config.yaml + config/undersampled.yaml` with the overlays of "
        "`experiments/undersampled.py` (`acquired`: `data.measurements: acquired`; `simulated`: the FullSample twins "
        "with the pipeline's masks); methods DDEI and T-SSDU, 8x, seeds 0, 1, 2; 600 steps at 32x32 with 8 channels "
        "(the default's budget); normalisation by the zero-filled image in both.",
        f"- **Commit:** {commit()}. **Machine:** {machine()}. **Date:** {datetime.date.today().isoformat()}.",
        "- **Wall time** of the trainings: "
        + (", ".join(f"{k} {v / 60:.1f} min" for k, v in info.get("wall_s", {}).items()) or "unknown")
        + " (the runs shared the CPU with other work: not speed measurements).",
        "- **Test data:** the 6 test patients (24 slices), the same in both runs. *On the acquired scans*: the "
        "AccFactor08 measurements as they are (uniform lines, the same in every frame), against their FullSample "
        "twins. *On its own data*: each run's own test inputs (the simulated run's: time-varying Gaussian masks).",
        "",
        "## Mean test metrics",
        "",
        "| model | data | PSNR (dB) | SSIM | slices x seeds |",
        "|---|---|--:|--:|--:|",
    ]
    for (method, data), g in metrics.groupby(["method", "data"], sort=True):
        lines.append(f"| {method} | {data} | {g.psnr.mean():.2f} | {g.ssim.mean():.4f} | {len(g)} |")
    lines += ["", "## Differences on the acquired test scans (paired by slice and seed)", "",
              "| comparison | metric | mean | 95 % CI (bootstrap over slices) | per seed | slices won |",
              "|---|---|--:|---|---|--:|"]  # fmt: skip
    on_acquired = metrics[metrics.data == "acquired"].copy()
    on_acquired["acceleration"] = ACCELERATION
    for a, b in COMPARISONS:
        for metric in DIFFERENCE_FORMATS:
            d = paired_difference(on_acquired, a, b, ACCELERATION, metric)
            if d is not None:
                lines.append(difference_row(a, b, metric, d))
    notes = REPO / "docs" / "results" / "undersampled_notes.md"
    if notes.is_file():
        lines += ["", notes.read_text().rstrip()]
    page = out / "undersampled.md"
    page.write_text("\n".join(lines) + "\n")
    return page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["run", "report", "all"])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results")
    args = parser.parse_args()
    status = run(args.cores) if args.action in ("run", "all") else 0
    if args.action in ("report", "all"):
        print(f"wrote {report(args.out)}")
    sys.exit(status)


if __name__ == "__main__":
    main()
