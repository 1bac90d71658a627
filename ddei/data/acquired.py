"""Undersampled scans as acquired: the CMRxRecon release's ``AccFactorXX`` folders in, per-slice arrays out.

The release ships, beside ``FullSample``, the undersampled acquisitions of every patient (:mod:`ddei.io.layout`)::

    SingleCoil/Cine/{TrainingSet,ValidationSet}/AccFactor{04,08,10}/Pxxx/cine_{lax,sax}.mat       kspace_single_subXX
    SingleCoil/Cine/{TrainingSet,ValidationSet}/AccFactor{04,08,10}/Pxxx/cine_{lax,sax}_mask.mat  maskXX

``kspace_single_subXX`` has MATLAB shape ``(kx, ky, slice, t)``, its unsampled phase-encode lines zero (the official
zero-filled reconstruction inverse-transforms it as it is). ``maskXX`` is ``(kx, ky)``: the same lines for every slice
and frame (uniform, with 24 central lines). The ``ValidationSet`` has no ``FullSample``.

:func:`extract_acquired` reads them with the project's v7.3 reader: the measured k-space is the file's, the mask the
file's own; nothing is simulated. Every scan is checked before anything is written (:func:`scan_acquired`): the key
of its folder's factor, its mask file, the mask's shape and orientation against the k-space, the number of frames;
every slice's measured lines must be its mask's lines (none outside the mask, no line of the mask without measured
k-space: a mask of another factor or scan is refused). Each selected slice is then

- zero-padded **in k-space** to the training size (centred): the measured lines stay measured lines, so the
  measurement and the physics ``y = M F x`` hold exactly on the padded grid (padding the image, as the simulation
  of the FullSample path does, would move every line); the image is the scan's, interpolated to the larger grid;
- normalised as the paper does, but with the statistics of the **zero-filled** image (mean and unbiased standard
  deviation of its real and imaginary values pooled), the only ones there are without ground truth;
- stored as ``[x, y]``: the ``FullSample`` twin's image on the same grid and scale where the set has one (the
  ``TrainingSet``), zeros where not (``truth`` = 0 in ``index.csv``), and the normalised measured k-space.

The masks go, repeated over the frames, to ``<mask_root>/AccFactorXX/Pxxx/cine_<view>_mask.mat`` in this pipeline's
mask format, with their manifest, so that :class:`ddei.data.dataset.CineSliceDataset` reads them as it reads the
simulated masks. Written to temporary folders and moved in place: an error leaves nothing behind.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ddei.data.extract import Selection, center_fit, complex_to_channels, standardise, write_index
from ddei.io.files import disk_space, file_record, write_manifest
from ddei.io.folders import atomic_folder
from ddei.io.layout import (
    FULL_KEY,
    SETS,
    SLICES,
    VIEWS,
    accfactor_dir,
    accfactor_name,
    cine_file,
    cine_mask_file,
    fullsample_dir,
    release_mask_key,
    slice_key,
    subsampled_key,
)
from ddei.io.maskfiles import write_mask
from ddei.io.matlab import MatFileError, mat_shape, mat_variables, read_mat, read_mat_slice
from ddei.mri.fft import image_to_kspace, kspace_to_image

_SUB_KEY = re.compile(r"kspace(_single)?_sub(\d+)$")


@dataclass(frozen=True)
class AcquiredFile:
    """One undersampled ``cine_<view>.mat``, its mask file, its MATLAB shape ``(kx, ky, slices, frames)`` and its
    fully sampled twin (``None`` without one)."""

    patient: str
    view: str
    acceleration: int
    path: Path
    mask_path: Path
    shape: tuple[int, int, int, int]
    twin: Path | None


def _check_key(path: Path, acceleration: int) -> None:
    """Refuse a file without its folder's key, naming what it holds instead."""
    key = subsampled_key(acceleration)
    names = mat_variables(path)
    if key in names:
        return
    for name in names:
        match = _SUB_KEY.match(name)
        if match and match[1] is None:
            raise MatFileError(
                f"{path}: holds {name!r}, multi-coil k-space; this pipeline reads the SingleCoil tree ({key!r})"
            )
        if match:
            raise MatFileError(
                f"{path}: holds {name!r}, the key of {accfactor_name(int(match[2]))}, not {key!r} of its folder "
                f"{accfactor_name(acceleration)}: the file is in the wrong folder, or the folder has the wrong name"
            )
    raise MatFileError(f"{path}: no variable {key!r}; the file holds {names or 'no variables'}")


def scan_acquired(
    root: str | os.PathLike, cmr_set: str, acceleration: int, views=VIEWS, frames: int | None = None
) -> list[AcquiredFile]:
    """Find and check every undersampled scan of a set and factor, reading shapes only.

    :param root: the CMRxRecon root (holding ``SingleCoil/``).
    :param str cmr_set: ``TrainingSet`` or ``ValidationSet``.
    :param int acceleration: the factor (its folder ``AccFactorXX``).
    :param views: the views to read.
    :param int frames: the frames every scan must have (``None``: any).
    :raises FileNotFoundError: no such folder, or no scan in it.
    :raises MatFileError: a file lacks its folder's key (or holds another factor's), its mask file is missing, the
        mask does not fit the k-space (shape or orientation), or the number of frames differs; naming the files.
    """
    if cmr_set not in SETS:
        raise ValueError(f"data.set must be one of {SETS}, got {cmr_set!r}")
    folder = Path(root) / accfactor_dir(cmr_set, acceleration)
    if not folder.is_dir():
        there = sorted(p.name for p in folder.parent.glob("AccFactor*")) if folder.parent.is_dir() else []
        raise FileNotFoundError(
            f"No undersampled data for {acceleration}x: {folder} does not exist"
            + (f" (found {', '.join(there)})" if there else "")
            + ". Point data.root at the CMRxRecon folder (the one holding SingleCoil/), or choose masks.accelerations "
            "among the factors it has"
        )
    files = []
    for view in views:
        for path in sorted(folder.glob(f"P*/{cine_file(view)}")):
            _check_key(path, acceleration)
            shape = mat_shape(path, subsampled_key(acceleration))
            if len(shape) != 4:
                raise MatFileError(
                    f"{path}: {subsampled_key(acceleration)!r} must be 4D (kx, ky, slice, t) single-coil k-space, "
                    f"got shape {shape}"
                )
            if frames is not None and shape[3] != frames:
                raise MatFileError(
                    f"{path}: {shape[3]} frames, where every scan must have {frames} (masks.frames); leave this scan "
                    "out, or set masks.frames"
                )
            mask_path = path.parent / cine_mask_file(view)
            if not mask_path.is_file():
                raise MatFileError(
                    f"{mask_path} is missing: the undersampled scan {path} needs its mask "
                    f"({cine_mask_file(view)}, key {release_mask_key(acceleration)!r}) beside it"
                )
            _check_mask_shape(mask_path, acceleration, path, shape)
            twin = Path(root) / fullsample_dir(cmr_set) / path.parent.name / cine_file(view)
            if twin.is_file():
                if mat_shape(twin, FULL_KEY) != shape:
                    raise MatFileError(
                        f"{twin}: its shape {mat_shape(twin, FULL_KEY)} differs from its undersampled twin {path} "
                        f"{shape}"
                    )
            else:
                twin = None
            files.append(AcquiredFile(path.parent.name, view, acceleration, path, mask_path, shape, twin))
    if not files:
        raise FileNotFoundError(f"No cine_{{{','.join(views)}}}.mat files under {folder}/Pxxx")
    return sorted(files, key=lambda f: (f.patient, f.view))


def has_test_truth(root: str | os.PathLike, cmr_set: str, accelerations, selection: Selection) -> bool:
    """Whether a test scan of the release's undersampled folders has a ``FullSample`` twin, decided per scan from
    the files (their names only) and the split :func:`extract_acquired` makes: whether there is anything to
    measure against, whatever the set's name. A set without ``FullSample`` (or whose test patients have none) has
    no metric; one with twins for some patients has metrics for those.

    :param root: the CMRxRecon root.
    :param str cmr_set: ``TrainingSet`` or ``ValidationSet``.
    :param accelerations: the factors read.
    :param Selection selection: the views kept and the split.
    :return: ``True`` also when there is no scan to decide from (the extraction names what is missing).
    """
    root = Path(root)
    scans = {(path.parent.name, view) for a in accelerations for view in selection.views
             for path in (root / accfactor_dir(cmr_set, int(a))).glob(f"P*/{cine_file(view)}")}  # fmt: skip
    try:
        split = selection.split(sorted({patient for patient, _ in scans}))
    except ValueError:  # too few patients: the extraction says so
        return True
    full = root / fullsample_dir(cmr_set)
    return not scans or any(
        split[patient] == "test" and (full / patient / cine_file(view)).is_file() for patient, view in scans
    )


def _check_mask_shape(mask_path: Path, acceleration: int, path: Path, shape) -> None:
    kx, ky = shape[:2]
    mshape = mat_shape(mask_path, release_mask_key(acceleration))
    if tuple(mshape) == (kx, ky):
        return
    if tuple(mshape) == (ky, kx):
        raise MatFileError(
            f"{mask_path}: mask of shape {tuple(mshape)} is the transpose of its k-space's (kx, ky) = {(kx, ky)} "
            f"({path}): read in another axis order, its lines would not be the sampled phase-encode lines"
        )
    raise MatFileError(
        f"{mask_path}: mask of shape {tuple(mshape)} does not fit its k-space {path}, (kx, ky) = {(kx, ky)}"
    )


def read_acquired_slice(f: AcquiredFile, s: int) -> tuple[np.ndarray, np.ndarray]:
    """The measured k-space ``(kx, ky, t)`` of one slice and its mask ``(kx, ky)`` (``uint8``), checked: the mask is
    binary, made of whole phase-encode lines, and its lines are the k-space's measured (non-zero) lines: every
    measured line is on the mask, and every line of the mask holds measured k-space in at least one frame.

    :raises MatFileError: naming both files.
    """
    kspace = read_mat_slice(f.path, subsampled_key(f.acceleration), s, axis=2)
    if not np.iscomplexobj(kspace):
        raise MatFileError(
            f"{f.path}: {subsampled_key(f.acceleration)!r} is not complex (dtype {kspace.dtype})"
        )
    mask = np.asarray(read_mat(f.mask_path, release_mask_key(f.acceleration), expected_ndim=2))
    values = np.unique(mask)
    if not np.isin(values, (0, 1)).all():
        raise MatFileError(f"{f.mask_path}: mask must be binary, found values {values[:5]}")
    mask = mask.astype(np.uint8)
    if not (mask == mask[:1]).all():
        raise MatFileError(
            f"{f.mask_path}: the mask is not made of whole phase-encode lines along ky (it varies along kx): is it "
            f"transposed against its k-space {f.path}?"
        )
    measured = np.abs(kspace).sum(axis=(0, 2)) > 0  # (ky,)
    lines = mask[0].astype(bool)
    outside = np.flatnonzero(measured & ~lines)
    if outside.size:
        raise MatFileError(
            f"{f.path}, slice {s}: {outside.size} measured phase-encode line(s) (e.g. ky = {outside[:3].tolist()}) lie "
            f"outside the sampled lines of its mask {f.mask_path}: the mask does not belong to this k-space, or its "
            "orientation differs"
        )
    empty = np.flatnonzero(lines & ~measured)
    if empty.size:
        raise MatFileError(
            f"{f.mask_path}: {empty.size} of its {int(lines.sum())} sampled phase-encode line(s) (ky = "
            f"{_shown(empty)}) hold no measured k-space in any frame of {f.path}, slice {s}: its lines are not this "
            f"scan's. Likely a mask of another factor ({lines.size / lines.sum():.1f}x of lines, in the folder of "
            f"{f.acceleration}x) or of another scan; use the mask that was acquired with this k-space"
        )
    if not np.isfinite(kspace).all():
        raise MatFileError(f"{f.path}: slice {s} contains NaN or inf values")
    return kspace, mask


def _shown(lines: np.ndarray, most: int = 8) -> str:
    """Line indices for a message: all of them, or the first ``most`` and how many more."""
    shown = ", ".join(str(int(i)) for i in lines[:most])
    return shown + (f" and {lines.size - most} more" if lines.size > most else "")


def _normalised(kspace: np.ndarray, mask: np.ndarray, twin: np.ndarray | None, img_size):
    """``(x, y, mean, std)``: the twin's image (or zeros) and the measured k-space, padded in k-space to ``img_size``
    and normalised by the zero-filled image's statistics."""
    k = center_fit(np.moveaxis(kspace, -1, 0), img_size)  # (t, H, W), zero lines added at the edges
    m = center_fit(mask, img_size)[None].astype(np.float32)
    zero_filled = kspace_to_image(k).astype(np.complex64)
    _, mean, std = standardise(zero_filled)

    def scale(image):
        return ((image - mean * (1 + 1j)) / (std + 1e-11)).astype(np.complex64)

    y = (image_to_kspace(scale(zero_filled)) * m).astype(np.complex64)
    if twin is None:
        x = np.zeros_like(zero_filled)
    else:
        x = scale(kspace_to_image(center_fit(np.moveaxis(twin, -1, 0), img_size)).astype(np.complex64))
    return x, y, mean, std


def extract_acquired(
    root: str | os.PathLike,
    out_dir: str | os.PathLike,
    mask_root: str | os.PathLike,
    cmr_set: str = "TrainingSet",
    accelerations=(8,),
    selection: Selection = Selection(),
    frames: int | None = 12,
    progress: bool = True,
) -> pd.DataFrame:
    """Extract the selected slices of every undersampled scan of a set, for each factor, and write the split and the
    masks (see the module documentation).

    :param root: the CMRxRecon root.
    :param out_dir: the extraction's folder (``slices/``, ``index.csv``, ``split.csv``), replaced whole on success.
    :param mask_root: the folder of the mask folders (``AccFactorXX`` is replaced whole).
    :param str cmr_set: ``TrainingSet`` or ``ValidationSet``.
    :param accelerations: the factors to read.
    :param Selection selection: the slices kept, the split, and the ``(H, W)`` of the k-space every slice is
        zero-padded to (no scan may be larger).
    :param int frames: frames every scan must have.
    :param bool progress: show a progress bar.
    :return: the index (``acceleration`` and ``truth`` columns included).
    """
    img_size = selection.img_size
    scans = {int(a): scan_acquired(root, cmr_set, int(a), selection.views, frames) for a in accelerations}
    _check_fits(scans, img_size)
    split = selection.split(sorted({f.patient for files in scans.values() for f in files}))
    jobs = [(f, s) for files in scans.values() for f in files for s in selection.slices(f)]
    mask_root = Path(mask_root)
    with atomic_folder(out_dir) as tmp:
        (tmp / SLICES).mkdir()
        rows = []
        masks = {}
        for f, s in tqdm(jobs, desc=f"extract {cmr_set}", unit="slice", disable=not progress):
            kspace, mask = read_acquired_slice(f, s)
            masks[(f.acceleration, f.patient, f.view)] = mask
            twin = None if f.twin is None else read_mat_slice(f.twin, FULL_KEY, s, axis=2)
            x, y, mean, std = _normalised(kspace, mask, twin, img_size)
            name = f"{slice_key(f.patient, f.view, s)}_{accfactor_name(f.acceleration)}.npy"
            with disk_space(Path(out_dir) / SLICES / name):
                np.save(tmp / SLICES / name, np.stack([complex_to_channels(x), complex_to_channels(y)]))
            rows.append({
                "patient": f.patient, "view": f.view, "slice": s, "split": split[f.patient],
                "file": f"{SLICES}/{name}", "kx": f.shape[0], "ky": f.shape[1], "frames": f.shape[3],
                "height": img_size[0], "width": img_size[1], "mean": mean, "std": std,
                **file_record(tmp / SLICES / name), "acceleration": f.acceleration, "truth": int(f.twin is not None),
            })  # fmt: skip
        for acceleration in scans:
            _write_masks(masks, acceleration, mask_root / accfactor_name(acceleration), frames or 12)
        index = write_index(tmp, rows, split)
    return index


def _check_fits(scans: dict, img_size) -> None:
    """Refuse a scan larger than ``img_size`` (its k-space would lose measured lines) before writing anything."""
    for files in scans.values():
        for f in files:
            if f.shape[0] > img_size[0] or f.shape[1] > img_size[1]:
                raise ValueError(
                    f"image_size {list(img_size)} is smaller than {f.path}, (kx, ky) = {f.shape[:2]}: undersampled "
                    "k-space is padded, never cropped (cropping would drop measured lines). Raise image_size"
                )


def _write_masks(masks: dict, acceleration: int, folder: Path, frames: int) -> None:
    with atomic_folder(folder) as tmp:
        for (a, patient, view), mask in sorted(masks.items()):
            if a == acceleration:
                write_mask(tmp / patient / cine_mask_file(view), np.repeat(mask[..., None], frames, axis=-1))
        write_manifest(tmp)
