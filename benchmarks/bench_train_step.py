"""Time per training step of each method, and the projected cost of the paper's runs.

One step = forward, loss, backward and Adam step of the CRNN with a method's losses, batch 1, 12 frames, on
random normalised data with a real 8x k-t mask. ``--paper`` uses the paper's size (512x256, 64 channels); the
default is the small default config (64x64, 16 channels). Prints seconds per step, peak memory, the ratio to the
supervised step, and the projected time of one paper run (96 training patients x 4 slices x 50 epochs).

With ``--pipeline`` it also trains and evaluates through :mod:`ddei.pipeline` on tiny synthetic data on the
chosen device (a CUDA end-to-end check).

    python benchmarks/bench_train_step.py [--paper] [--device auto] [--methods sup ddei ...] [--pipeline]
"""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import argparse
import tempfile
import time
from pathlib import Path

import torch

from ddei.masks import gaussian_kt_mask
from ddei.methods import build_method
from ddei.models import build_model
from ddei.training import make_physics, pick_device

PAPER_STEPS = 96 * 4 * 50  # training slices x epochs


def step_time(method: str, size: tuple[int, int], chans: int, device, repeats: int) -> tuple[float, float]:
    img = (2, 12, *size)
    rng = torch.Generator().manual_seed(0)
    model, losses = build_method(method, build_model("crnn", chans=chans), img, rng, device=device)
    model.to(device).train()
    physics = make_physics(img, 0.0, rng, device)
    mask = torch.from_numpy(gaussian_kt_mask(size, 8, 12, seed=0)).permute(2, 0, 1).float()
    physics.update(mask=mask.expand(1, 2, *mask.shape).to(device))
    x = torch.randn(1, *img, device=device)
    y = physics.A(x)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    kwargs = {"update_parameters": True} if method in ("t-ssdu", "t-ssdu*", "phase2phase") else {}

    def step():
        opt.zero_grad(set_to_none=True)
        x_net = model(y, physics, **kwargs)
        loss = sum(fn(x=x, x_net=x_net, y=y, physics=physics, model=model).mean() for fn in losses)
        loss.backward()
        opt.step()

    step()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    return sorted(times)[len(times) // 2], peak


def pipeline_check(device) -> None:
    from ddei.data.extract import extract
    from ddei.data.synthetic import generate_cmrxrecon
    from ddei.masks import write_mask_folder
    from ddei.pipeline import run_evaluation, run_training

    cfg = {
        "model": {"name": "crnn", "cascades": 2, "chans": 8},
        "training": {
            "epochs": 2,
            "steps_per_epoch": 3,
            "lr": 1e-3,
            "batch_size": 1,
            "device": device.type,
            "threads": 2,
        },
        "transform_mode": "fixed",
        "image_size": [64, 64],
        "normalisation": "reference",
        "noise_sigma": 0.0,
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        generate_cmrxrecon(
            tmp / "raw", 5, lax_shape=(60, 44), sax_shape=(64, 52), n_sax_slices=1, progress=False
        )
        extract(tmp / "raw", tmp / "ex", img_size=(64, 64), progress=False)
        write_mask_folder(tmp / "ex" / "index.csv", tmp / "masks", 8, progress=False)
        for method in ("ddei", "t-ssdu*", "phase2phase"):
            run_training(
                method,
                8,
                0,
                cfg,
                tmp / "ex",
                tmp / "masks",
                tmp / "m.pt",
                tmp / "l.csv",
                tmp / "c.pt",
                progress=False,
            )
            df = run_evaluation(
                method,
                8,
                0,
                cfg,
                tmp / "ex",
                tmp / "masks",
                tmp / "m.pt",
                tmp / "e.csv",
                tmp / "r.npz",
                progress=False,
            )
            print(
                f"pipeline on {device}: {method:12s} trained and evaluated, mean PSNR {df.psnr.mean():.2f} dB"
            )
            (tmp / "c.pt").unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paper", action="store_true", help="512x256, 64 channels")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--methods", nargs="+", default=["sup", "ddei", "ei-r", "t-ssdu", "phase2phase"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pipeline", action="store_true")
    args = parser.parse_args()
    device = pick_device(args.device)
    size, chans = ((512, 256), 64) if args.paper else ((64, 64), 16)
    name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    print(f"device: {name}; image {size[0]}x{size[1]}, {chans} channels, 2 cascades, 12 frames, batch 1")
    print(f"{'method':12s} {'s/step':>8s} {'vs sup':>7s} {'peak GiB':>9s} {'paper run (h)':>14s}")
    base = None
    for method in args.methods:
        seconds, peak = step_time(method, size, chans, device, args.repeats)
        base = base or seconds
        print(
            f"{method:12s} {seconds:8.3f} {seconds / base:7.2f} {peak:9.2f} {seconds * PAPER_STEPS / 3600:14.1f}"
        )
    if args.pipeline:
        pipeline_check(device)


if __name__ == "__main__":
    main()
