"""CPU speed of the CRNN against what the core can do: GFLOP/s of its forward and backward pass at the
default and convergence sizes, next to its rate at 128x128 with 32 channels on the same core, and the cost of one
DDEI training step, in fp32, bf16 autocast, channels_last and ``torch.compile``.

- **Rate:** the convolutions' floating-point operations of one forward and backward pass of the network alone
  (``model(y, physics)``, the data-consistency FFTs included in the time but not in the count), counted by
  :class:`torch.utils.flop_counter.FlopCounterMode`, divided by the median time of a pass.
- **Step:** one DDEI training step (:func:`ddei.runs.training.train_step`: the network, MC + EI over the DDEI group,
  backward, Adam), median seconds, from :func:`bench_train_step.step_times` (the settings' steps interleaved).
- **Compile time:** the first pass (or step) of a compiled network, reported apart: it is paid once per job.

One thread (``training.threads: 1``, as the CPU configs run), batch 1, 12 frames. Prints a Markdown table and, with
``--json``, writes the numbers.

    python benchmarks/bench_cpu_speed.py [--sizes default converge reference] [--settings ...] [--json out.json]
"""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train_step import SETTINGS, step_times  # noqa: E402

from ddei.mri.masks import gaussian_kt_mask  # noqa: E402
from ddei.mri.models import build_model  # noqa: E402
from ddei.mri.precision import configure  # noqa: E402
from ddei.runs.preparation import make_physics  # noqa: E402

#: name: ((H, W), channels)
SIZES = {"default": ((32, 32), 8), "converge": ((32, 64), 8), "reference": ((128, 128), 32)}


def cpu_name() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        name = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line)
        flags = next((line for line in lscpu.splitlines() if line.startswith("Flags")), "").split()
        extras = [f for f in ("avx512f", "avx512_bf16", "amx_tile") if f in flags]
        return f"{name} ({', '.join(extras) or 'no AVX-512'})"
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def _inputs(size):
    torch.manual_seed(0)
    img = (2, 12, *size)
    physics = make_physics(img, 0.0, torch.Generator().manual_seed(0), "cpu")
    mask = torch.from_numpy(gaussian_kt_mask(size, 8, 12, seed=0)).permute(2, 0, 1).float()
    physics.update(mask=mask.expand(1, 2, *mask.shape).contiguous())
    return physics.A(torch.randn(1, *img)), physics


def pass_flops(size, chans: int) -> int:
    """Floating-point operations of one forward and backward pass (counted on the eager fp32 network: the same
    convolutions as in any setting; a compiled network cannot be counted)."""
    y, physics = _inputs(size)
    net = configure(build_model("crnn", chans=chans), "fp32", False, False, "cpu")
    with FlopCounterMode(display=False) as counter:
        net(y, physics).float().square().mean().backward()
    return counter.get_total_flops()


def network_pass(size, chans: int, setting: str, repeats: int, flops: int) -> dict:
    """Median seconds and GFLOP/s of one forward and backward pass of the CRNN alone."""
    precision, channels_last, compile, _ = SETTINGS[setting]
    if compile:
        torch._dynamo.reset()
    y, physics = _inputs(size)
    torch.manual_seed(0)
    net = configure(build_model("crnn", chans=chans), precision, channels_last, compile, "cpu")

    def step():
        net(y, physics).float().square().mean().backward()
        net.zero_grad(set_to_none=True)

    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    seconds = sorted(times)[len(times) // 2]
    return {
        "pass_s": seconds,
        "gflops": flops / 1e9,
        "gflop_per_s": flops / seconds / 1e9,
        "first_pass_s": first,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--step-settings", nargs="*", default=None, choices=list(SETTINGS),
                        help="the settings of the DDEI step (default: all of --settings; none: no step)")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    print(f"CPU: {cpu_name()}; torch {torch.__version__}; 1 thread; batch 1, 12 frames\n")
    print(
        "| size | setting | GFLOP per pass | pass (s) | GFLOP/s | first pass (s) | DDEI step (s) | first step (s) |"
    )
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    for name in args.sizes:
        size, chans = SIZES[name]
        flops = pass_flops(size, chans)
        timed = args.settings if args.step_settings is None else args.step_settings
        steps = {
            r["setting"]: r
            for r in step_times("ddei", timed, size, chans, 1, torch.device("cpu"), args.repeats)
        }
        for setting in args.settings:
            row = {"size": name, "hw": list(size), "chans": chans, "setting": setting}
            row |= network_pass(size, chans, setting, args.repeats, flops)
            step = steps.get(setting, {})
            if "seconds" in step:
                row |= {"step_s": step["seconds"], "first_step_s": step["first_step"]}
            rows.append(row)
            print(f"| {name} {size[0]}x{size[1]}, {chans} ch | {setting} | {row['gflops']:.3f} | {row['pass_s']:.4f} | "
                  f"{row['gflop_per_s']:.1f} | {row['first_pass_s']:.1f} | {row.get('step_s', float('nan')):.4f} | "
                  f"{row.get('first_step_s', float('nan')):.1f} |", flush=True)  # fmt: skip
    if args.json:
        args.json.write_text(
            json.dumps({"cpu": cpu_name(), "torch": torch.__version__, "rows": rows}, indent=1)
        )


if __name__ == "__main__":
    main()
