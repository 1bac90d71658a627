"""Cost of reconstructing one undersampled scan at the real size (issue 20): seconds per slice and peak memory of
:func:`ddei.runs.reconstruction.reconstruct_scan` on a synthetic scan of the release's shape (512 x 246 short
axis, 12 frames, 8x), with the paper's CRNN (2 cascades, 64 channels; random weights: the cost does not depend on
them), trained on acquired scans of ``image_size`` 512 x 256 (so each slice is padded to 512 x 256 in k-space).

    python benchmarks/bench_reconstruct.py [--threads 2] [--slices 3] [--json out.json]
"""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cpu_speed import cpu_name  # noqa: E402

from ddei.data.synthetic import generate_cmrxrecon  # noqa: E402
from ddei.io.layout import accfactor_dir  # noqa: E402
from ddei.methods.config import ModelConfig, RunConfig, TrainingConfig  # noqa: E402
from ddei.mri.models import build_model  # noqa: E402
from ddei.runs.reconstruction import load_reconstructor, reconstruct_scan  # noqa: E402
from ddei.runs.weights import save_state  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--slices", type=int, default=3, help="short-axis slices of the scan")
    parser.add_argument("--chans", type=int, default=64)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        generate_cmrxrecon(tmp, 1, lax_shape=(448, 204), sax_shape=(512, 246), n_sax_slices=args.slices,
                           progress=False, accelerations=(8,), cmr_set="ValidationSet")  # fmt: skip
        made = time.perf_counter() - t0
        cfg = RunConfig("ddei", "ddei", (512, 256), "measurement", 0.0, "cpu", args.threads,
                        ModelConfig("crnn", 2, args.chans), TrainingConfig(1, 1, 1e-3, 1, "fp32", False, False, True, "last"),
                        {"transform_mode": "fixed"}, trained_as="ddei", measurements="acquired")  # fmt: skip
        torch.manual_seed(0)
        net = build_model("crnn", chans=args.chans)
        save_state(tmp / "model.pt", {"run_id": "bench", "cfg": cfg.to_dict(), "state_dict": net.state_dict()},
                   ("state_dict",))  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        reconstructor = load_reconstructor(tmp / "model.pt", 12, "cpu")
        scan = tmp / accfactor_dir("ValidationSet", 8) / "P001" / "cine_sax.mat"
        cost = reconstruct_scan(reconstructor, scan, 8, tmp / "out.mat", tmp / "out.gif", progress=False)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {
        "cpu": cpu_name(),
        "threads": args.threads,
        "torch": torch.__version__,
        "scan": f"{cost['shape'][0]}x{cost['shape'][1]}, {cost['shape'][3]} frames, {cost['slices']} slices, 8x",
        "chans": args.chans,
        "seconds_per_slice": cost["seconds_per_slice"],
        "peak_rss_gib": peak / 2**20,
        "rss_before_model_gib": before / 2**20,
        "synthetic_data_s": made,
    }
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
