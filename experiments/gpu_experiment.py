"""The GPU experiment within a wall-time budget: time the methods, size the epochs, run the workflow.

1. Calibration: one training step of every method of the config (its precision, batch, image size and width),
   timed on this card with :func:`bench_train_step.step_time` (a few seconds each).
2. Sizing: the number of epochs that fits the budget, from those step times, the number of training runs, a
   per-job start-up cost and the concurrency of the GPU jobs (``resources.train.gpu_share``); clamped to
   ``[--min-epochs, --max-epochs]``. The epochs depend on the card's speed only, never on results.
3. The workflow, with that number of epochs: ``snakemake --configfile <config with epochs>``, under a time limit.

Writes ``<out>/gpu_used.yaml`` (the config as run), ``<out>/calibration.json`` and the workflow's log.

    python experiments/gpu_experiment.py --config config/gpu.yaml --budget 330 --out $OUT
"""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_train_step import step_time  # noqa: E402

from ddei.methods.config import method_config  # noqa: E402
from ddei.mri.metrics import MIN_EXTENT  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
JOB_STARTUP_S = 5.0  # python, torch, deepinv and CUDA start-up of one Snakemake job (train or evaluate)
# Throughput of the GPU jobs of config/gpu.yaml sharing the GPU (gpu_share 12: 8 at a time), relative to the sum
# of their step times measured alone: 0.66 on an H200, 2026-11-26 (docs/results/gpu_experiment.md). The first run
# assumed 1.15 and overshot its budget.
GPU_SHARING_GAIN = 0.66


def resolved(config: dict) -> dict:
    """The config with the schema's defaults filled in, as the workflow sees it (Snakemake's own validation)."""
    from snakemake.utils import validate

    config = json.loads(json.dumps(config))
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def calibrate(config: dict, device) -> dict[str, float]:
    """Seconds per training step of each method of the config, on this device."""
    out = {}
    size, chans = tuple(config["image_size"]), config["model"]["chans"]
    for name in config["methods"]:
        cfg = method_config(config, name)
        setting = "bf16+cl" if cfg["training"]["precision"] == "bf16" else "fp32+cl"
        mode = cfg["settings"].get("transform_mode", "fixed")
        try:
            r = step_time(cfg["base"], setting, size, chans, cfg["training"]["batch_size"], device, 5, mode)
        except Exception as e:  # noqa: BLE001 - its jobs will fail too; size the rest without it
            print(
                f"calibration: {name:16s} FAILED ({type(e).__name__}: {e}); counted as 2x the slowest",
                flush=True,
            )
            continue
        out[name] = r["seconds"]
        print(f"calibration: {name:16s} {setting:8s} {r['seconds']:.4f} s/step (batch {cfg['training']['batch_size']})",
              flush=True)  # fmt: skip
    failed = [n for n in config["methods"] if n not in out]
    out |= {n: 2 * max(out.values(), default=1.0) for n in failed}
    return out


def size_epochs(config: dict, seconds: dict[str, float], budget: float, lo: int, hi: int) -> tuple[int, dict]:
    """Epochs that fit ``budget`` seconds of wall time, and the numbers behind them."""
    data, syn = config["data"], config["data"]["synthetic"]
    patients = syn["patients"]
    train_patients = min(max(round(patients * data["train_fraction"]), 1), patients - 1)
    slices = train_patients * (3 + 1)  # 3 long-axis views and the first short-axis slice per patient
    runs = len(config["masks"]["accelerations"]) * len(config["training"]["seeds"])
    per_epoch = sum(
        math.ceil(slices / method_config(config, m)["training"]["batch_size"]) * s for m, s in seconds.items()
    )
    per_epoch *= runs
    concurrency = max(1, 100 // config["resources"]["train"]["gpu_share"])
    jobs = 2 * runs * len(seconds) + len(config["masks"]["accelerations"])  # train + evaluate, zf
    overhead = JOB_STARTUP_S * jobs / concurrency + 20  # + synthetic data, extract, masks, tables and figures
    gain = (
        GPU_SHARING_GAIN if concurrency > 1 else 1.0
    )  # measured for 8 jobs at a time; for 1, 1 by definition
    epochs = int((budget - overhead) * gain // per_epoch)
    info = {"train_slices": slices, "runs_per_method": runs, "gpu_seconds_per_epoch": per_epoch,
            "overhead_s": overhead, "budget_s": budget, "epochs_fitting": epochs}  # fmt: skip
    return max(lo, min(hi, epochs)), info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "config" / "gpu.yaml")
    parser.add_argument("--budget", type=float, default=330, help="seconds for the workflow")
    parser.add_argument("--min-epochs", type=int, default=6)
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--cores", type=int, default=16)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument(
        "--scale-down",
        action="store_true",
        help="a CPU check of this driver: 5 patients, 48x48, 8 channels, seeds 0-1, results/gpu-small",
    )
    parser.add_argument("--smoke", action="store_true",
                        help="the CPU smoke of the GPU path (CI): 4 patients at 32x32, 4 channels, 6 frames, DDEI "
                             "and its reference-transform variant, the first acceleration and seed, 2 steps, bf16 and "
                             "compile on, no calibration")  # fmt: skip
    args = parser.parse_args()
    import torch

    from ddei.runs.preparation import pick_device

    args.out.mkdir(parents=True, exist_ok=True)
    used = yaml.safe_load(args.config.read_text())
    if args.scale_down:
        used["results"] = used["results"] + "-small"
        used["data"]["synthetic"] |= {"patients": 5, "lax_shape": [44, 40], "sax_shape": [48, 40]}
        used["image_size"], used["model"]["chans"], used["training"]["seeds"] = [48, 48], 8, [0, 1]
    if args.smoke:
        used["results"] = used["results"] + "-smoke"
        used["data"]["synthetic"] |= {"patients": 4, "lax_shape": [30, 24], "sax_shape": [32, 28]}
        used["data"]["train_fraction"], used["data"]["val_fraction"] = 0.8, 0.1
        used["image_size"], used["model"]["chans"] = [32, 32], 4
        used["methods"] = [m for m in used["methods"] if m in ("ddei", "ddei-upstream")]
        # the fewest frames the SSIM takes: compiling takes longer with more
        used["masks"] |= {"accelerations": used["masks"]["accelerations"][:1], "frames": MIN_EXTENT}
        # one thread a job, so that two jobs run at a time on CI's 2 cores
        used["training"] |= {"seeds": used["training"]["seeds"][:1], "steps_per_epoch": 2, "batch_size": 2,
                             "precision": "bf16", "compile": True, "validate_every": 2, "threads": 1}  # fmt: skip
        used["evaluation"] = used.get("evaluation", {}) | {"reference": "ddei"}
    if args.device == "cpu":
        used["training"]["device"], used["resources"]["train"]["gpu"] = "cpu", 0
    config = resolved(used)
    device = pick_device(args.device)
    card = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    t0 = time.perf_counter()
    if args.smoke:  # no calibration: one epoch of two steps
        seconds, calibration_s, epochs, info = {}, 0.0, 1, {"smoke": True}
    else:
        seconds = calibrate(config, device)
        calibration_s = time.perf_counter() - t0
        epochs, info = size_epochs(
            config, seconds, args.budget - calibration_s, args.min_epochs, args.max_epochs
        )
    print(f"sizing: {info} -> epochs {epochs}", flush=True)
    used["training"]["epochs"] = epochs
    used_file = args.out / "gpu_used.yaml"
    used_file.write_text(
        f"# {args.config.name} as run on {card}: training.epochs sized to the budget by experiments/gpu_experiment.py\n"
        + yaml.safe_dump(used, sort_keys=False)
    )
    summary = {"card": card, "torch": torch.__version__, "epochs": epochs, "calibration_s_per_step": seconds,
               "calibration_wall_s": calibration_s, **info}  # fmt: skip
    (args.out / "calibration.json").write_text(json.dumps(summary, indent=1))

    cmd = [sys.executable, "-m", "snakemake", "--cores", str(args.cores), "--configfile", str(used_file),
           "--resources", "gpu_share=100", "--scheduler", "greedy", "--keep-going"]  # fmt: skip
    limit = max(60.0, args.budget - (time.perf_counter() - t0) + 60)
    t1 = time.perf_counter()
    with open(args.out / "snakemake.log", "w") as log:
        try:
            rc = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, timeout=limit).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    summary |= {"workflow_wall_s": time.perf_counter() - t1, "workflow_rc": rc}
    (args.out / "calibration.json").write_text(json.dumps(summary, indent=1))
    print(f"workflow: rc {rc}, {summary['workflow_wall_s']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
