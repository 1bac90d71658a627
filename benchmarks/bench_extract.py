"""Loading one training sample: re-reading the whole .mat (reference code, deepinv) vs the extracted slice.

The reference code and :class:`deepinv.datasets.CMRxReconSliceDataset` load the whole ``cine_xax.mat`` of a
patient (all slices, all frames, MATLAB v7.3 via ``mat73``) for every sample. The extract rule reads it once;
:class:`ddei.data.dataset.CineSliceDataset` then memory-maps one slice. Both produce the same padded (512x256),
normalised sample. deepinv's loader is run without masks (it cannot read the paper's (kx, ky, 12) k-t masks:
it expects (12, kx, ky)), which only flatters it. Target: at least 20x faster.

    python benchmarks/bench_extract.py [--patients 2] [--repeats 5] [--sax-slices 10]
"""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from deepinv.datasets import CMRxReconSliceDataset

from ddei.data.dataset import CineSliceDataset
from ddei.data.extract import Selection, extract
from ddei.data.synthetic import generate_cmrxrecon
from ddei.mri.masks import write_mask_folder

TARGET = 20.0


def _time(fn, repeats: int) -> float:
    fn()  # warm-up (page cache, imports)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(patients: int = 2, repeats: int = 5, sax_slices: int = 10) -> dict:
    """Measure both loaders at paper scale; returns the timings and their ratio."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # real CMRxRecon short-axis stacks have ~10 slices; the whole stack is read for every sample
        generate_cmrxrecon(
            tmp / "raw",
            patients,
            lax_shape=(448, 204),
            sax_shape=(512, 246),
            n_sax_slices=sax_slices,
            progress=False,
        )
        t0 = time.perf_counter()
        extract(tmp / "raw", tmp / "extract", Selection(img_size=(512, 256)), progress=False)
        masks = tmp / "raw" / "SingleCoil/Cine/TrainingSet"  # the paper's layout, beside FullSample
        write_mask_folder(tmp / "extract" / "index.csv", masks, 8, progress=False)
        extract_seconds = time.perf_counter() - t0

        ours = CineSliceDataset(tmp / "extract", None, masks, 8, img_size=(512, 256))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = CMRxReconSliceDataset(
                root=tmp / "raw",
                data_dir="SingleCoil/Cine/TrainingSet/FullSample",
                apply_mask=False,
                pad_size=(512, 256),
                use_dict_output=True,
            )
        # the same sample: the first sax slice of the first patient
        ref_index = next(
            i for i, s in enumerate(ref.samples) if "cine_sax" in str(s.fname) and s.slice_ind == 0
        )
        our_index = int(((ours.index.view == "sax") & (ours.index.slice == 0)).to_numpy().argmax())
        ref_s = _time(lambda: ref[ref_index], repeats)
        our_s = _time(lambda: ours[our_index], repeats)
    return {
        "extract_seconds": extract_seconds,
        "reference_seconds": ref_s,
        "ours_seconds": our_s,
        "ratio": ref_s / our_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--sax-slices", type=int, default=10, help="short-axis slices per file (real data: ~10)"
    )
    args = parser.parse_args()
    r = run(args.patients, args.repeats, args.sax_slices)
    print(f"one-off extraction ({args.patients} paper-scale patients): {r['extract_seconds']:.2f} s")
    print(f"sample load, whole .mat per sample (deepinv/reference): {r['reference_seconds'] * 1e3:8.1f} ms")
    print(f"sample load, extracted slice (ddei):                    {r['ours_seconds'] * 1e3:8.1f} ms")
    print(
        f"ratio: {r['ratio']:.1f}x (target >= {TARGET:.0f}x) -> {'OK' if r['ratio'] >= TARGET else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
