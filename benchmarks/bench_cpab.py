"""Cost of one CPAB warp of a video: deepinv/libcpab versus :class:`ddei.mri.transforms.Diffeomorphism`.

One warp = drawing ``theta`` and warping a ``(B, 2*12, H, W)`` tensor (a flattened 12-frame complex video), with
deepinv's defaults (3x3 tessellation, zero boundary, volume preservation, 50 integration steps). Three ways:

- ``deepinv``: :class:`deepinv.transform.CPABDiffeomorphism`, i.e. libcpab's ``sample_transformation`` and
  ``transform_data`` on its pure-torch integrator (PyPI's libcpab has no C/CUDA sources). Built with its basis
  file redirected to a temporary folder, so that the benchmark writes nothing under ``site-packages``.
- ``libcpab``: :class:`~ddei.mri.transforms.Diffeomorphism` with ``backend="libcpab"`` (libcpab's integrator and
  interpolation, our sampling; with ``constant_batch`` the grid is integrated once, not once per image).
- ``ddei``: :class:`~ddei.mri.transforms.Diffeomorphism` (vectorised integrator, ``grid_sample``).

Both integrate the sampling grid once per ``theta`` and reuse it for all 24 channels (libcpab already does;
deepinv however repeats ``theta`` per image, so with ``B > 1`` it integrates the same grid ``B`` times). Prints
median seconds per warp, the ratio to ``deepinv``, the time of the grid integration alone, and the largest
difference between the ``ddei`` and ``deepinv`` outputs for the same ``theta`` (float rounding of 50 steps).

Usage::

    python benchmarks/bench_cpab.py                     # 64x64 and 512x256, batch 1 (~15 s on 2 cores)
    python benchmarks/bench_cpab.py --sizes 64x64 --batch 4 --repeats 10 --threads 2 --device cuda
"""

from __future__ import annotations

import ddei  # noqa: F401  (must be imported before deepinv)

# isort: split
import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from deepinv.transform import CPABDiffeomorphism

from ddei.mri.transforms import Diffeomorphism

CHANNELS = 2 * 12


@contextlib.contextmanager
def libcpab_basis_dir_redirected() -> Iterator[None]:
    """Make libcpab write its basis pickle to a temporary folder instead of ``site-packages/basis_files``."""
    import libcpab.cpab

    original = libcpab.cpab.__file__
    with tempfile.TemporaryDirectory(prefix="bench-cpab-") as tmp:
        (Path(tmp) / "pkg").mkdir()
        libcpab.cpab.__file__ = str(Path(tmp) / "pkg" / "cpab.py")
        try:
            yield
        finally:
            libcpab.cpab.__file__ = original


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_time(fn: Callable[[], object], repeats: int, device: torch.device) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def parse_size(text: str) -> tuple[int, int]:
    h, _, w = text.lower().partition("x")
    return int(h), int(w or h)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", default=["64x64", "512x256"], help="HxW image sizes")
    parser.add_argument("--batch", type=int, default=1, help="videos per batch (one theta for all)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method (median reported)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    with libcpab_basis_dir_redirected():
        reference = CPABDiffeomorphism(device=device)
    ours = Diffeomorphism(device=device, rng=torch.Generator().manual_seed(0))
    slow = Diffeomorphism(device=device, rng=torch.Generator().manual_seed(0), backend="libcpab")
    methods = {
        "deepinv": lambda x: reference._transform(x, **reference._get_params(x)),
        "libcpab": lambda x: slow._transform(x, **slow._get_params(x)),
        "ddei": lambda x: ours._transform(x, **ours._get_params(x)),
    }

    print(f"device {device}, threads {torch.get_num_threads()}, batch {args.batch}, {CHANNELS} channels")
    header = f"{'size':>9} {'method':>8} {'s/warp':>9} {'speedup':>10} {'grid s':>8} {'max |diff|':>10}"
    print(header)
    print("-" * len(header))
    for size in map(parse_size, args.sizes):
        g = torch.Generator().manual_seed(1)
        x = torch.randn(args.batch, CHANNELS, *size, generator=g).to(device)
        theta = torch.randn(1, ours.theta_dim, generator=g).to(device)
        expected = reference._transform(x, diffeo=theta)
        base = None
        for name, warp in methods.items():
            seconds = median_time(lambda: warp(x), args.repeats, device)
            base = base or seconds
            if name == "deepinv":
                grid = median_time(
                    lambda: reference.cpab.transform_grid(reference.cpab.uniform_meshgrid(size), theta),
                    args.repeats,
                    device,
                )
                diff = 0.0
            else:
                t = ours if name == "ddei" else slow
                grid = median_time(lambda: t.warp_grid(theta, size), args.repeats, device)
                diff = (t._transform(x, diffeo=theta) - expected).abs().max().item()
            print(
                f"{size[0]:>4}x{size[1]:<4} {name:>8} {seconds:>9.4f} {base / seconds:>9.2f}x "
                f"{grid:>8.4f} {diff:>10.2e}"
            )


if __name__ == "__main__":
    main()
