r"""
Synthetic dataset in the format of the CMRxRecon 2023 single-coil cine data.

:func:`generate_cmrxrecon` writes, for patients ``P001``, ``P002``, ..., the files ::

    root/SingleCoil/Cine/TrainingSet/FullSample/P001/cine_lax.mat   (kx, ky, 3, t): 2-, 3- and 4-chamber views
    root/SingleCoil/Cine/TrainingSet/FullSample/P001/cine_sax.mat   (kx, ky, slices, t): short axis, base to apex

each a genuine MATLAB v7.3 file holding the single complex ``single`` variable ``kspace_single_full``: the
centred orthonormal k-space (:func:`ddei.data.phantom.image_to_kspace`) of :func:`ddei.data.phantom.cardiac_cine`
phantoms, scaled so the peak image magnitude is about :math:`10^{-3}`, as in the real data. So it can be read
by the same code as the real data, e.g. :class:`deepinv.datasets.CMRxReconSliceDataset`.

Each patient is drawn from its own seed, derived from ``(seed, patient index)``, so patient ``P007`` is the same
whatever the number of patients generated.

Command line::

    python -m ddei.data.synthetic ROOT --patients 4 --lax 448 204 --sax 512 246 --sax-slices 3 --seed 0
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ddei.data.phantom import cardiac_cine, sample_patient
from ddei.io.matlab import write_mat73
from ddei.mri.fft import image_to_kspace

__all__ = ["DATA_DIR", "KEY", "LAX_VIEWS", "generate_cmrxrecon", "main"]

#: Folder of the fully sampled single-coil cine training data, relative to the dataset root.
DATA_DIR = "SingleCoil/Cine/TrainingSet/FullSample"
#: Name of the k-space variable in each file.
KEY = "kspace_single_full"
#: Long-axis views, in the order of the slices of ``cine_lax.mat``.
LAX_VIEWS = ("lax2ch", "lax3ch", "lax4ch")
#: Typical peak image magnitude of the real data.
_PEAK = 1e-3


def generate_cmrxrecon(
    root: str | os.PathLike,
    n_patients: int,
    lax_shape: tuple[int, int] = (448, 204),
    sax_shape: tuple[int, int] = (512, 246),
    n_sax_slices: int = 3,
    frames: int = 12,
    seed: int = 0,
    progress: bool = True,
    shape_jitter: int = 0,
    noise: float = 0.01,
) -> list[Path]:
    r"""
    Write a synthetic single-coil cine dataset in the CMRxRecon 2023 folder structure and file format.

    :param str, os.PathLike root: dataset root; files go to ``root / DATA_DIR / "Pxxx"``.
    :param int n_patients: number of patients, named ``P001`` to ``P{n_patients:03d}``.
    :param tuple[int, int] lax_shape: long-axis image size ``(kx, ky)``.
    :param tuple[int, int] sax_shape: short-axis image size ``(kx, ky)``.
    :param int n_sax_slices: short-axis slices per patient, from base to apex.
    :param int frames: frames per cine.
    :param int seed: dataset seed; patient ``k`` uses a seed derived from ``(seed, k)``.
    :param bool progress: show a progress bar over patients.
    :param int shape_jitter: if positive, ``ky`` of each patient's files varies by up to this many lines (in
        steps of 2: the real ``ky`` sizes are even), as the real data's shapes vary between patients.
    :param float noise: standard deviation of the complex image noise, relative to the peak magnitude.
    :return: (list[pathlib.Path]) the files written, ``cine_lax.mat`` then ``cine_sax.mat`` for each patient.
    """
    if n_patients < 0:
        raise ValueError(f"n_patients must be non-negative, got {n_patients}")
    if n_sax_slices < 1:
        raise ValueError(f"n_sax_slices must be at least 1, got {n_sax_slices}")
    if shape_jitter < 0 or shape_jitter % 2:
        raise ValueError(f"shape_jitter must be a non-negative even number of lines, got {shape_jitter}")
    folder = Path(root) / DATA_DIR
    written = []
    for index in tqdm(range(n_patients), desc="synthetic CMRxRecon", unit="patient", disable=not progress):
        anatomy, shapes = np.random.SeedSequence(seed, spawn_key=(index,)).spawn(2)
        rng, shape_rng = np.random.default_rng(anatomy), np.random.default_rng(shapes)
        patient = sample_patient(rng)
        peak = _PEAK * rng.uniform(0.5, 2.0)
        lax_size, sax_size = (_jitter(shape, shape_jitter, shape_rng) for shape in (lax_shape, sax_shape))
        lax = [cardiac_cine(lax_size, frames, view, rng, patient=patient, noise=noise) for view in LAX_VIEWS]
        positions = 0.15 + 0.6 * (np.arange(n_sax_slices) + 0.5) / n_sax_slices
        sax = [
            cardiac_cine(sax_size, frames, "sax", rng, patient=patient, slice_position=z, noise=noise)
            for z in positions
        ]
        patient_dir = folder / f"P{index + 1:03d}"
        patient_dir.mkdir(parents=True, exist_ok=True)
        for name, cines in (("cine_lax.mat", lax), ("cine_sax.mat", sax)):
            written.append(write_mat73(patient_dir / name, {KEY: _to_kspace(cines, peak)}))
    return written


def _jitter(shape: tuple[int, int], jitter: int, rng: np.random.Generator) -> tuple[int, int]:
    """``shape`` with ``ky`` changed by a random even number of lines, at most ``jitter``."""
    return int(shape[0]), int(shape[1]) + 2 * int(rng.integers(-(jitter // 2), jitter // 2 + 1))


def _to_kspace(cines: Sequence[np.ndarray], peak: float) -> np.ndarray:
    """Stack cines of shape ``(t, kx, ky)`` into k-space of MATLAB shape ``(kx, ky, slice, t)`` with peak image
    magnitude ``peak``."""
    images = np.stack(cines)  # (slice, t, kx, ky)
    images *= np.float32(peak / np.abs(images).max())
    return image_to_kspace(images).transpose(2, 3, 0, 1)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point (see the module documentation)."""
    parser = argparse.ArgumentParser(
        prog="python -m ddei.data.synthetic", description="Write a synthetic CMRxRecon-format cine dataset."
    )
    parser.add_argument("root", type=Path, help="dataset root")
    parser.add_argument("--patients", type=int, required=True, help="number of patients")
    parser.add_argument(
        "--lax", type=int, nargs=2, default=(448, 204), metavar=("KX", "KY"), help="long-axis size"
    )
    parser.add_argument(
        "--sax", type=int, nargs=2, default=(512, 246), metavar=("KX", "KY"), help="short-axis size"
    )
    parser.add_argument("--sax-slices", type=int, default=3, help="short-axis slices per patient")
    parser.add_argument("--frames", type=int, default=12, help="frames per cine")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed")
    parser.add_argument("--shape-jitter", type=int, default=0, help="maximum per-patient change of ky (even)")
    parser.add_argument(
        "--noise", type=float, default=0.01, help="noise level, relative to the peak magnitude"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    files = generate_cmrxrecon(
        args.root,
        args.patients,
        lax_shape=tuple(args.lax),
        sax_shape=tuple(args.sax),
        n_sax_slices=args.sax_slices,
        frames=args.frames,
        seed=args.seed,
        progress=not args.quiet,
        shape_jitter=args.shape_jitter,
        noise=args.noise,
    )
    print(f"wrote {len(files)} files under {Path(args.root) / DATA_DIR}")


if __name__ == "__main__":
    main()
