"""CPU cost of one CRNN training step versus image size and width.

For each image size and channel count: seconds per training step (forward, backward and an Adam step on an MSE
loss; batch 1, 12 frames, 2 cascades, Cartesian k-t mask) and the peak increase of resident memory during the
steps. Prints a table and the ratios to the 64-channel model (the paper's) at the same size.

Peak memory is read from the kernel (``VmHWM`` in ``/proc/self/status``, reset through ``/proc/self/clear_refs``
before each configuration, freed heap returned with ``malloc_trim``), because :mod:`tracemalloc` does not see
torch's allocations. Where the reset is not allowed, the process-wide peak (``ru_maxrss``) is reported instead.

Usage::

    python benchmarks/bench_crnn.py                       # 64x64 and 128x128, chans 16/32/64 (~1 min on 2 cores)
    python benchmarks/bench_crnn.py --sizes 64 --chans 64 --steps 5 --threads 2
"""

from __future__ import annotations

import ddei  # noqa: F401  (must be imported before deepinv)

# isort: split
import argparse
import ctypes
import gc
import resource
import time
from dataclasses import dataclass

import torch
from deepinv.physics import DynamicMRI

from ddei.mri.models import CRNN

FRAMES = 12


@dataclass
class Result:
    size: int
    chans: int
    params: int
    step_s: float
    peak_mib: float


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> int | None:
    """Free cached memory and reset the peak RSS; return the current RSS (KiB), or None if not possible."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_kib("VmRSS")
    except OSError:
        return None


def bench(size: int, chans: int, steps: int, warmup: int, max_seconds: float) -> Result:
    """Time training steps of a CRNN of width ``chans`` on ``size x size`` frames.

    :param int size: image height and width.
    :param int chans: CRNN channels.
    :param int steps: maximum number of timed steps.
    :param int warmup: untimed steps first.
    :param float max_seconds: stop timing after this many seconds (at least one timed step).
    :return: (Result) median seconds per step and peak resident memory increase (MiB).
    """
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 2, FRAMES, size, size, generator=g)
    lines = (torch.rand(1, 1, FRAMES, 1, size, generator=g) < 0.25).float()
    physics = DynamicMRI(mask=lines.expand(1, 2, FRAMES, size, size).clone())
    y = physics(x)
    torch.manual_seed(0)
    model = CRNN(num_cascades=2, chans=chans)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(y, physics), x)
        loss.backward()
        optimizer.step()

    rss0 = _reset_peak()
    for _ in range(warmup):
        step()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < steps and (not times or time.perf_counter() - start < max_seconds):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    if rss0 is None:
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    else:
        peak_kib = _status_kib("VmHWM") - rss0
    times.sort()
    return Result(
        size, chans, sum(p.numel() for p in model.parameters()), times[len(times) // 2], peak_kib / 1024
    )


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="image sizes (H = W)")
    parser.add_argument("--chans", type=int, nargs="+", default=[16, 32, 64], help="CRNN channel counts")
    parser.add_argument("--steps", type=int, default=3, help="maximum timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per configuration")
    parser.add_argument("--max-seconds", type=float, default=6.0, help="time budget per configuration")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 1, {FRAMES} frames, 2 cascades"
    )
    results = [
        bench(size, chans, args.steps, args.warmup, args.max_seconds)
        for size in args.sizes
        for chans in sorted(args.chans)
    ]
    ref = {r.size: r for r in results if r.chans == 64}
    header = f"{'size':>7} {'chans':>5} {'params':>9} {'s/step':>8} {'peak MiB':>9} {'time/64ch':>9} {'mem/64ch':>8}"
    print(header)
    print("-" * len(header))
    for r in results:
        base = ref.get(r.size)
        t_ratio = f"{r.step_s / base.step_s:9.2f}" if base else f"{'-':>9}"
        m_ratio = f"{r.peak_mib / base.peak_mib:8.2f}" if base and base.peak_mib > 0 else f"{'-':>8}"
        print(
            f"{r.size:>3}x{r.size:<3} {r.chans:>5} {r.params:>9,} {r.step_s:>8.3f} {r.peak_mib:>9.1f} {t_ratio} {m_ratio}"
        )
    return results


if __name__ == "__main__":
    main()
