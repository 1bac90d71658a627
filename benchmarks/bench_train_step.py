"""Time per training step of each method, in fp32 and with the fast settings, and the cost of the paper's runs.

One step is :func:`ddei.runs.training.train_step` (forward, the method's losses, backward, Adam step) of the CRNN,
12 frames, on random normalised data with a real 8x k-t mask. Each method is timed in these settings, in one
process, on one device:

- ``fp32``: as shipped before issue 8 (float32, NCHW, no ``cudnn.benchmark``), the reference of every ratio;
- ``fp32+cl``: float32, channels_last (and ``cudnn.benchmark`` on CUDA);
- ``bf16+cl``: bfloat16 autocast of the convolutions, channels_last, ``cudnn.benchmark``;
- ``compile+bf16+cl``: the same, with the network compiled (``training.compile``; its compile time is printed);
- ``compile+fp32+cl``: float32, channels_last, compiled.

It prints the device's name, seconds per step (median), the ratio to ``fp32``, the peak GPU memory and the
projected time of one paper run (96 training patients x 4 slices x 50 epochs). ``--paper`` uses the paper's size
(512x256, 64 channels); the default is the small default config (64x64, 16 channels).

With ``--pipeline`` it also trains and evaluates through :mod:`ddei.runs.preparation` on tiny synthetic data on the
chosen device, with the given precision and compilation (an end-to-end check).

    python benchmarks/bench_train_step.py [--paper] [--device auto] [--methods sup ddei ...] [--settings ...]
        [--batch 1] [--size 128 128 --chans 64] [--json out.json] [--pipeline]
"""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from ddei.methods.registry import METHODS
from ddei.mri.losses import LossContext
from ddei.mri.masks import gaussian_kt_mask
from ddei.mri.models import build_model
from ddei.mri.precision import configure
from ddei.runs.preparation import Run, build_method, make_physics, pick_device
from ddei.runs.training import RunFiles, train_step

PAPER_STEPS = 96 * 4 * 50  # training slices x epochs
SETTINGS = {  # name: (precision, channels_last, compile, cudnn.benchmark)
    "fp32": ("fp32", False, False, False),
    "fp32+cl": ("fp32", True, False, True),
    "bf16+cl": ("bf16", True, False, True),
    "compile+bf16+cl": ("bf16", True, True, True),
    "compile+fp32+cl": ("fp32", True, True, True),
}
METHOD_SETTINGS = {
    "transform_mode": "fixed",
    "split_ratio": 0.6,
    "eval_n_samples": 5,
    "split_mask": "gaussian",
    "split_centre": "reference",
    "split_dc": "learned",
}


def build_step(
    method: str,
    setting: str,
    size,
    chans: int,
    batch: int,
    device,
    transform_mode: str = "fixed",
):
    """One training step of ``method`` in ``setting``, as a function: random data, a real 8x k-t mask."""
    precision, channels_last, compile, benchmark = SETTINGS[setting]
    img = (2, 12, *size)
    torch.manual_seed(0)
    rng = torch.Generator().manual_seed(0)
    net = configure(build_model("crnn", chans=chans).to(device), precision, channels_last, compile, device)
    settings = METHOD_SETTINGS | {"transform_mode": transform_mode}
    model, losses = build_method(METHODS[method], net, LossContext(img, rng, 0.0, settings, device))
    model.to(device).train()
    physics = make_physics(img, 0.0, rng, device)
    mask = torch.from_numpy(gaussian_kt_mask(size, 8, 12, seed=0)).permute(2, 0, 1).float()
    x = torch.randn(batch, *img)
    batch_ = {"x": x, "params": {"mask": mask.expand(batch, 2, *mask.shape).contiguous()}}
    physics.update(mask=batch_["params"]["mask"].to(device))
    batch_["y"] = physics.A(x.to(device)).cpu()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        torch.backends.cudnn.benchmark = benchmark
        loss = train_step(model, losses, batch_, physics, opt, 0)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return loss

    return step


def step_times(
    method: str,
    settings: list[str],
    size,
    chans: int,
    batch: int,
    device,
    repeats: int,
    transform_mode: str = "fixed",
) -> list[dict]:
    """Median seconds per step of each setting (after warm-up), peak memory and the first step's time (compilation).

    The settings' steps are timed in turn, forwards then backwards (A B C, C B A, ...), so that a change of the
    machine's speed during the measurement (our shared VMs drift by tens of percent) falls on every setting alike.
    A setting that fails to build or in its first steps (a compilation error) gives a row with its ``error``; the
    others are timed without it.
    """
    if any(SETTINGS[s][2] for s in settings):
        torch._dynamo.reset()
    steps, rows = {}, {}
    for setting in settings:
        try:
            step = build_step(method, setting, size, chans, batch, device, transform_mode)
            t0 = time.perf_counter()
            step()  # warm-up (compilation, cudnn autotuning)
            first = time.perf_counter() - t0
            for _ in range(2):
                step()
        except Exception as e:  # noqa: BLE001 - report it and time the other settings
            rows[setting] = {"method": method, "setting": setting, "error": f"{type(e).__name__}: {e}"[:2000]}
            continue
        steps[setting] = step
        rows[setting] = {"method": method, "setting": setting, "first_step": first, "times": [], "peak": 0.0}
    order = list(steps)
    for r in range(repeats):
        for setting in order if r % 2 == 0 else order[::-1]:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            t0 = time.perf_counter()
            steps[setting]()
            rows[setting]["times"].append(time.perf_counter() - t0)
            if device.type == "cuda":
                rows[setting]["peak"] = max(rows[setting]["peak"], torch.cuda.max_memory_allocated() / 2**30)
    out = []
    for setting in settings:
        row = rows[setting]
        if "times" in row:
            times, peak = row.pop("times"), row.pop("peak")
            row |= {
                "seconds": sorted(times)[len(times) // 2],
                "peak_gib": peak if device.type == "cuda" else float("nan"),
            }
        out.append(row)
    return out


def step_time(
    method: str,
    setting: str,
    size,
    chans: int,
    batch: int,
    device,
    repeats: int,
    transform_mode: str = "fixed",
) -> dict:
    """Median seconds per step of one setting (:func:`step_times`); raises if the setting fails."""
    row = step_times(method, [setting], size, chans, batch, device, repeats, transform_mode)[0]
    if "error" in row:
        raise RuntimeError(row["error"])
    return row


def pipeline_check(device, precision: str, compile: bool) -> None:
    """Train and evaluate three methods end to end through the pipeline on tiny synthetic data."""
    from ddei.data.extract import Selection, extract
    from ddei.data.synthetic import generate_cmrxrecon
    from ddei.methods.config import ModelConfig, RunConfig, TrainingConfig
    from ddei.mri.masks import write_mask_folder
    from ddei.runs.evaluation import run_evaluation
    from ddei.runs.training import run_training

    training = TrainingConfig(
        epochs=2,
        steps_per_epoch=3,
        lr=1e-3,
        batch_size=2,
        precision=precision,
        compile=compile,
        validate_every=False,
        channels_last=True,
        select="last",
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        generate_cmrxrecon(
            tmp / "raw", 5, lax_shape=(60, 44), sax_shape=(64, 52), n_sax_slices=1, progress=False
        )
        extract(tmp / "raw", tmp / "ex", Selection(val_fraction=0.0, img_size=(64, 64)), progress=False)
        write_mask_folder(tmp / "ex" / "index.csv", tmp / "masks", 8, progress=False)
        for method in ("ddei", "t-ssdu*", "phase2phase"):
            cfg = RunConfig(
                method, method, (64, 64), "reference", 0.0, device.type, 2, ModelConfig("crnn", 2, 8), training,
                {k: METHOD_SETTINGS[k] for k in METHODS[method].settings},
            )  # fmt: skip
            run = Run(cfg, 8, 0, tmp / "ex", tmp / "masks")
            run_training(run, tmp / "m.pt", RunFiles(tmp / "c.pt", tmp / "l.csv"), progress=False)
            df = run_evaluation(run, tmp / "m.pt", tmp / "e.csv", precision=precision, progress=False)
            print(f"pipeline on {device} ({precision}, compile={compile}): {method:12s} trained and evaluated, "
                  f"mean PSNR {df.psnr.mean():.2f} dB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paper", action="store_true", help="512x256, 64 channels")
    parser.add_argument("--size", type=int, nargs=2, default=None, help="image size (overrides --paper's)")
    parser.add_argument("--chans", type=int, default=None)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--methods", nargs="+", default=["sup", "ddei", "ei-r", "t-ssdu", "phase2phase"])
    parser.add_argument("--settings", nargs="+", default=None, choices=list(SETTINGS),
                        help="default: all on CUDA; fp32, fp32+cl, bf16+cl on the CPU")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--pipeline", action="store_true")
    parser.add_argument("--pipeline-precision", default="bf16")
    parser.add_argument("--pipeline-compile", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    size, chans = ((512, 256), 64) if args.paper else ((64, 64), 16)
    size, chans = tuple(args.size or size), args.chans or chans
    settings = args.settings or (list(SETTINGS) if device.type == "cuda" else ["fp32", "fp32+cl", "bf16+cl"])
    card = (
        torch.cuda.get_device_name() if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    )
    print(f"device: {card}; torch {torch.__version__}; image {size[0]}x{size[1]}, {chans} channels, 2 cascades, "
          f"12 frames, batch {args.batch}")  # fmt: skip
    print(f"{'method':12s} {'setting':16s} {'s/step':>8s} {'x fp32':>7s} {'peak GiB':>9s} {'1st step s':>10s} "
          f"{'paper run (h)':>14s}")  # fmt: skip
    rows = []
    for method in args.methods:
        timed = step_times(method, settings, size, chans, args.batch, device, args.repeats)
        base = next((r["seconds"] for r in timed if r["setting"] == "fp32" and "error" not in r), None)
        for r in timed:
            setting = r["setting"]
            rows.append(r)
            if "error" in r:
                print(f"{method:12s} {setting:16s} failed: {r['error'][:300]}", flush=True)
                continue
            r["ratio"] = base / r["seconds"] if base else float("nan")
            hours = r["seconds"] * PAPER_STEPS / args.batch / 3600
            print(f"{method:12s} {setting:16s} {r['seconds']:8.3f} {r['ratio']:7.2f} {r['peak_gib']:9.2f} "
                  f"{r['first_step']:10.1f} {hours:14.2f}", flush=True)  # fmt: skip
            if args.json:  # rewritten after every row: a run cut short keeps what it measured
                args.json.parent.mkdir(parents=True, exist_ok=True)
                meta = {
                    "device": card,
                    "torch": torch.__version__,
                    "size": size,
                    "chans": chans,
                    "batch": args.batch,
                }
                args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    if args.pipeline:
        pipeline_check(device, args.pipeline_precision, args.pipeline_compile)


if __name__ == "__main__":
    main()
