r"""
Synthetic dataset in the format of the CMRxRecon 2023 single-coil cine data.

:func:`generate_cmrxrecon` writes, for patients ``P001``, ``P002``, ..., the files ::

    root/SingleCoil/Cine/TrainingSet/FullSample/P001/cine_lax.mat   (kx, ky, 3, t): 2-, 3- and 4-chamber views
    root/SingleCoil/Cine/TrainingSet/FullSample/P001/cine_sax.mat   (kx, ky, slices, t): short axis, base to apex

each a genuine MATLAB v7.3 file holding the single complex ``single`` variable ``kspace_single_full``: the
centred orthonormal k-space (:func:`ddei.mri.fft.image_to_kspace`) of :func:`ddei.data.phantom.cardiac_cine`
phantoms, scaled so the peak image magnitude is about :math:`10^{-3}`, as in the real data. So it can be read
by the same code as the real data, e.g. :class:`deepinv.datasets.CMRxReconSliceDataset`.

Each patient is drawn from its own seed, derived from ``(seed, patient index)``, so patient ``P007`` is the same
whatever the number of patients generated.

With ``accelerations``, it also writes the release's undersampled folders, with the challenge's kind of mask
(uniform, :func:`acs_lines` central lines, the same for every frame)::

    root/SingleCoil/Cine/TrainingSet/AccFactor08/P001/cine_lax.mat        kspace_single_sub08 (kx, ky, 3, t)
    root/SingleCoil/Cine/TrainingSet/AccFactor08/P001/cine_lax_mask.mat   mask08 (kx, ky)
    root/SingleCoil/Cine/ValidationSet/AccFactor08/P001/...               other patients, no FullSample

Command line::

    python -m ddei.data.synthetic ROOT --patients 4 --lax 448 204 --sax 512 246 --sax-slices 3 --seed 0
    python -m ddei.data.synthetic ROOT --patients 4 --accelerations 4 8 10 [--set ValidationSet]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ddei.data.phantom import cardiac_cine, sample_patient
from ddei.io.layout import (
    FULL_KEY,
    SETS,
    accfactor_dir,
    cine_file,
    cine_mask_file,
    fullsample_dir,
    release_mask_key,
    subsampled_key,
)
from ddei.io.matlab import write_mat73
from ddei.mri.fft import image_to_kspace

__all__ = ["DATA_DIR", "KEY", "LAX_VIEWS", "generate_cmrxrecon", "main", "uniform_mask", "write_undersampled"]

#: Folder of the fully sampled single-coil cine training data, relative to the dataset root.
DATA_DIR = fullsample_dir("TrainingSet")
#: Name of the k-space variable in each file.
KEY = FULL_KEY
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
    accelerations: Sequence[int] = (),
    cmr_set: str = "TrainingSet",
) -> list[Path]:
    r"""
    Write a synthetic single-coil cine dataset in the CMRxRecon 2023 folder structure and file format.

    With ``accelerations``, also the release's undersampled folders (:func:`write_undersampled`): for the
    ``TrainingSet`` beside its ``FullSample`` twin, for the ``ValidationSet`` alone (its patients are others than the
    training set's, drawn from another seed, and it has no fully sampled data, as in the release).

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
    :param accelerations: factors of the undersampled folders to write (``AccFactorXX``); none by default.
    :param str cmr_set: ``TrainingSet`` or ``ValidationSet`` (undersampled folders only).
    :return: (list[pathlib.Path]) the k-space files written, for each patient ``cine_lax.mat`` then ``cine_sax.mat``
        of ``FullSample``, then of each ``AccFactorXX``.
    """
    if n_patients < 0:
        raise ValueError(f"n_patients must be non-negative, got {n_patients}")
    if n_sax_slices < 1:
        raise ValueError(f"n_sax_slices must be at least 1, got {n_sax_slices}")
    if shape_jitter < 0 or shape_jitter % 2:
        raise ValueError(f"shape_jitter must be a non-negative even number of lines, got {shape_jitter}")
    if cmr_set not in SETS:
        raise ValueError(f"cmr_set must be one of {SETS}, got {cmr_set!r}")
    if cmr_set != "TrainingSet" and not accelerations:
        raise ValueError("the ValidationSet has undersampled data only: give accelerations")
    set_seed = seed if cmr_set == "TrainingSet" else seed + VALIDATION_SEED_OFFSET
    written = []
    for index in tqdm(range(n_patients), desc="synthetic CMRxRecon", unit="patient", disable=not progress):
        anatomy, shapes = np.random.SeedSequence(set_seed, spawn_key=(index,)).spawn(2)
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
        name = f"P{index + 1:03d}"
        kspace = {"lax": _to_kspace(lax, peak), "sax": _to_kspace(sax, peak)}
        if cmr_set == "TrainingSet":
            patient_dir = Path(root) / DATA_DIR / name
            patient_dir.mkdir(parents=True, exist_ok=True)
            written += [write_mat73(patient_dir / cine_file(v), {KEY: kspace[v]}) for v in ("lax", "sax")]
        written += write_undersampled(root, cmr_set, name, kspace, accelerations)
    return written


#: The ValidationSet's patients are drawn from the dataset seed plus this offset: other patients than the training
#: set's ``Pxxx`` of the same number, as in the release.
VALIDATION_SEED_OFFSET = 1_000_003


def acs_lines(ky: int) -> int:
    """Central lines the challenge's masks always sample: 24, scaled down to ``ky * 24 / 246`` (at least 2) for the
    small images of tests and tiny configurations (under 128 lines), so that the share of the centre is kept."""
    return 24 if ky >= 128 else max(2, round(ky * 24 / 246))


def uniform_mask(shape: tuple[int, int], acceleration: int) -> np.ndarray:
    """The challenge's kind of mask, MATLAB order ``(kx, ky)`` ``uint8``: every ``acceleration``-th phase-encode line
    from the first (MATLAB's ``mask(:, 1:R:end) = 1``) and the :func:`acs_lines` central lines, the same for every
    frame and slice."""
    kx, ky = shape
    lines = np.zeros(ky, dtype=bool)
    lines[::acceleration] = True
    acs = acs_lines(ky)
    lines[ky // 2 - acs // 2 : ky // 2 - acs // 2 + acs] = True
    return np.ascontiguousarray(np.broadcast_to(lines, (kx, ky)), dtype=np.uint8)


def write_undersampled(
    root: str | os.PathLike, cmr_set: str, patient: str, kspace: dict, accelerations: Sequence[int]
) -> list[Path]:
    """Write one patient's undersampled files as the release lays them out: for each factor ``R``,
    ``AccFactorRR/Pxxx/cine_<view>.mat`` (key ``kspace_single_subRR``: the k-space with the unsampled lines zeroed)
    and ``cine_<view>_mask.mat`` (key ``maskRR``, ``(kx, ky)``, :func:`uniform_mask`).

    :param dict kspace: ``{view: k-space (kx, ky, slice, t)}``.
    :return: the k-space files written.
    """
    written = []
    for acceleration in accelerations:
        folder = Path(root) / accfactor_dir(cmr_set, acceleration) / patient
        folder.mkdir(parents=True, exist_ok=True)
        for view, full in kspace.items():
            mask = uniform_mask(full.shape[:2], int(acceleration))
            measured = (full * mask[:, :, None, None]).astype(full.dtype)
            written.append(write_mat73(folder / cine_file(view), {subsampled_key(acceleration): measured}))
            write_mat73(folder / cine_mask_file(view), {release_mask_key(acceleration): mask})
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
    parser.add_argument("--accelerations", type=int, nargs="*", default=[],
                        help="also write the undersampled AccFactorXX folders of these factors")  # fmt: skip
    parser.add_argument("--set", default="TrainingSet", choices=SETS, dest="cmr_set",
                        help="ValidationSet: undersampled folders only, other patients")  # fmt: skip
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
        accelerations=args.accelerations,
        cmr_set=args.cmr_set,
    )
    print(f"wrote {len(files)} k-space files under {Path(args.root)}")


if __name__ == "__main__":
    main()
