"""Extraction of CMRxRecon single-coil cine data into a fast per-slice format.

CMRxRecon stores each patient's cine as MATLAB v7.3 files ``FullSample/Pxxx/cine_{lax,sax}.mat`` with the key
``kspace_single_full`` of MATLAB shape ``(kx, ky, slice, t)``. The reference code and
:class:`deepinv.datasets.CMRxReconSliceDataset` re-read (and decompress) the whole file for every training
sample. Here each selected slice is read once, transformed to the image domain, zero-padded to the training size
and normalised as the paper does (mean and standard deviation of the padded image), and written with its k-space
as one ``float32`` ``.npy`` array ``(2, 2, t, H, W)``: ``[image, kspace] x [real, imag]``.
:class:`ddei.data.dataset.CineSliceDataset` then only has to apply the k-t mask.

Outputs (all written to a temporary folder first, then moved in place, so an error leaves nothing behind):

- ``<out>/slices/<patient>_<view>_s<slice>.npy``
- ``<out>/index.csv``: one row per slice (:data:`ddei.io.layout.INDEX_COLUMNS`): patient, view, slice, split, file,
  kx, ky, frames, height, width, the ``mean``/``std`` the slice was normalised with, the ``bytes`` and ``sha256`` of
  its file, which its readers check (:func:`check_slice`), ``acceleration`` 0 (its masks are simulated, for any
  factor) and ``truth`` 1 (:mod:`ddei.data.acquired` writes the same table for undersampled scans)
- ``<out>/split.csv``: the patient-level split (:data:`SPLITS`): patient, split

The real data and the synthetic data of :mod:`ddei.data.synthetic` go through exactly the same code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ddei.io.files import check_file, disk_space, file_record, require_columns
from ddei.io.folders import atomic_folder
from ddei.io.layout import INDEX, INDEX_COLUMNS, REBUILD_EXTRACT, SLICES, SPLIT, SPLIT_COLUMNS, slice_key
from ddei.io.matlab import MatFileError, mat_shape, read_mat_slice
from ddei.mri.fft import image_to_kspace, kspace_to_image

KSPACE_KEY = "kspace_single_full"
FULLSAMPLE = Path("SingleCoil/Cine/TrainingSet/FullSample")
VIEWS = ("lax", "sax")
#: The command that rebuilds an extraction (its slices, index and split).
REBUILD = REBUILD_EXTRACT


class ImageSizeError(ValueError):
    """``image_size`` is smaller than the data, and cropping was not asked for; the message names the key."""


@dataclass(frozen=True)
class CineFile:
    """One ``cine_<view>.mat`` file and its MATLAB shape ``(kx, ky, slices, frames)``."""

    patient: str
    view: str
    path: Path
    shape: tuple[int, int, int, int]


def fullsample_dir(root: str | os.PathLike) -> Path:
    """The ``FullSample`` folder under a CMRxRecon root (or ``root`` itself if it is that folder).

    :param root: CMRxRecon root (holding ``SingleCoil/``) or the ``FullSample`` folder.
    :raises FileNotFoundError: if neither exists.
    """
    root = Path(root)
    for candidate in (root / FULLSAMPLE, root):
        if candidate.is_dir() and any(candidate.glob("P*/cine_*.mat")):
            return candidate
    raise FileNotFoundError(
        f"No CMRxRecon cine data under {root}: expected {root / FULLSAMPLE}/Pxxx/cine_lax.mat or cine_sax.mat. "
        "Point config 'data.root' at the CMRxRecon folder (the one holding SingleCoil/), "
        "or use 'data.source: synthetic'."
    )


def scan(root: str | os.PathLike, views: tuple[str, ...] = VIEWS) -> list[CineFile]:
    """Find and check every cine file, reading only shapes.

    :param root: CMRxRecon root or ``FullSample`` folder.
    :param tuple views: views to include.
    :raises FileNotFoundError: if there is no data.
    :raises MatFileError: if a file is unreadable, lacks ``kspace_single_full`` or is not 4D.
    """
    folder = fullsample_dir(root)
    files = []
    for view in views:
        if view not in VIEWS:
            raise ValueError(f"Unknown view {view!r}; choose from {VIEWS}")
        for path in sorted(folder.glob(f"P*/cine_{view}.mat")):
            shape = mat_shape(path, KSPACE_KEY)
            if len(shape) != 4:
                raise MatFileError(
                    f"{path}: '{KSPACE_KEY}' must be 4D (kx, ky, slice, t) single-coil k-space, got shape {shape}"
                    + (
                        " (multi-coil data has a coil axis: use the SingleCoil folder)"
                        if len(shape) == 5
                        else ""
                    )
                )
            files.append(CineFile(path.parent.name, view, path, shape))
    if not files:
        raise FileNotFoundError(f"No cine_{{{','.join(views)}}}.mat files under {folder}")
    return sorted(files, key=lambda f: (f.patient, f.view))


#: The splits of ``split.csv``: training, validation (held out, measured during training) and test patients.
SPLITS = ("train", "val", "test")


def split_sizes(n: int, train_fraction: float, val_fraction: float = 0.0) -> tuple[int, int, int]:
    """Numbers of training, validation and test patients of :func:`patient_split` for ``n`` patients.

    :param int n: number of patients.
    :param float train_fraction: fraction of patients used for training and validation.
    :param float val_fraction: fraction of all patients held out for validation (0: none).
    :return: ``(n_train, n_val, n_test)``.
    :raises ValueError: fewer than 2 patients.
    """
    if n < 2:
        raise ValueError(f"Need at least 2 patients for a train/test split, found {n}")
    n_fit = min(max(int(round(n * train_fraction)), 1), n - 1)
    n_val = 0
    if val_fraction > 0:
        n_val = min(max(int(round(n * val_fraction)), 1 if n >= 4 else 0), n_fit - 1)
    return n_fit - n_val, n_val, n - n_fit


def patient_split(
    patients: list[str], train_fraction: float = 0.8, seed: int = 0, val_fraction: float = 0.0
) -> dict[str, str]:
    """Random patient-level split, as the paper's 80/20 train/test split, with validation patients held out of the
    training share.

    The test patients depend only on ``patients``, ``train_fraction`` and ``seed`` (rounded, at least one), so
    that turning validation on or off never changes the test set. Of the remaining patients,
    ``round(n * val_fraction)`` are validation patients, at least one when ``val_fraction > 0`` and there are at
    least 4 patients, and at least one patient is left for training.

    :param list patients: patient ids.
    :param float train_fraction: fraction of patients used for training and validation.
    :param int seed: seed of the permutation.
    :param float val_fraction: fraction of all patients held out for validation (0: none).
    :return: ``{patient: "train" | "val" | "test"}``.
    :raises ValueError: too few patients for the split asked for.
    """
    patients = sorted(set(patients))
    n_train, n_val, _ = split_sizes(len(patients), train_fraction, val_fraction)
    order = np.random.default_rng(seed).permutation(len(patients))
    split = {patients[i]: "train" for i in order[:n_train]}
    split |= {patients[i]: "val" for i in order[n_train : n_train + n_val]}
    return {p: split.get(p, "test") for p in patients}


def select_slices(n_slices: int, keep: int) -> list[int]:
    """The first ``keep`` slices (all if ``keep`` is -1 or larger than ``n_slices``).

    The paper keeps all 3 long-axis views and the first short-axis slice of each patient.
    """
    return list(range(n_slices if keep < 0 else min(keep, n_slices)))


@dataclass(frozen=True)
class Selection:
    """Which slices an extraction keeps, how it splits the patients, and the size it pads them to: the config's
    ``data`` keys of the same names (``seed`` is ``data.split_seed``, ``img_size`` ``image_size``), with the schema's
    defaults (``tests/test_extract.py`` checks that they agree).

    :param int lax_slices: long-axis views kept per patient (-1: all).
    :param int sax_slices: short-axis slices kept per patient, from the first (-1: all).
    :param float train_fraction: fraction of patients for training and validation; the rest are test patients.
    :param float val_fraction: fraction of patients held out for validation (see :func:`patient_split`).
    :param int seed: split seed.
    :param tuple img_size: ``(H, W)`` every slice is zero-padded to at the centre (the paper: ``(512, 256)``).
    """

    lax_slices: int = -1
    sax_slices: int = 1
    train_fraction: float = 0.8
    val_fraction: float = 0.1
    seed: int = 0
    img_size: tuple[int, int] = (512, 256)

    @property
    def views(self) -> tuple[str, ...]:
        """The views with at least one slice kept."""
        return tuple(v for v in VIEWS if self._keep(v) != 0)

    def _keep(self, view: str) -> int:
        return self.lax_slices if view == "lax" else self.sax_slices

    def slices(self, f: CineFile) -> list[int]:
        """The slices of a file that are kept (:func:`select_slices`)."""
        return select_slices(f.shape[2], self._keep(f.view))

    def split(self, patients: list[str]) -> dict[str, str]:
        """The patients' split (:func:`patient_split`)."""
        return patient_split(patients, self.train_fraction, self.seed, self.val_fraction)


def write_index(folder: Path, rows: list[dict], split: dict[str, str]) -> pd.DataFrame:
    """Write an extraction's ``index.csv`` (one row per slice) and ``split.csv``; return the index."""
    index = pd.DataFrame(rows, columns=list(INDEX_COLUMNS))
    index.to_csv(folder / INDEX, index=False)
    pd.DataFrame(sorted(split.items()), columns=list(SPLIT_COLUMNS)).to_csv(folder / SPLIT, index=False)
    return index


def extract(
    root: str | os.PathLike,
    out_dir: str | os.PathLike,
    selection: Selection = Selection(),
    progress: bool = True,
    crop: bool = False,
) -> pd.DataFrame:
    """Extract the selected slices of every patient and write the split.

    :param root: CMRxRecon root or ``FullSample`` folder.
    :param out_dir: output folder (replaced as a whole when the extraction succeeds).
    :param Selection selection: the slices kept, the split and the padded size.
    :param bool progress: show a progress bar.
    :param bool crop: centre-crop data larger than ``img_size`` (config ``image_crop``); otherwise such data is
        refused before anything is written.
    :return: the index table (also written to ``index.csv``).
    :raises ImageSizeError: data larger than ``img_size`` without ``crop``.
    """
    img_size = selection.img_size
    files = scan(root, selection.views)
    if not crop:
        check_image_size(files, img_size)
    else:
        report_crop(files, img_size)
    split = selection.split([f.patient for f in files])
    jobs = [(f, s) for f in files for s in selection.slices(f)]

    with atomic_folder(out_dir) as tmp:
        (tmp / SLICES).mkdir()
        rows = []
        for f, s in tqdm(jobs, desc="extract", unit="slice", disable=not progress):
            kspace = read_mat_slice(f.path, KSPACE_KEY, s, axis=2)  # (kx, ky, t)
            if not np.iscomplexobj(kspace):
                raise MatFileError(f"{f.path}: '{KSPACE_KEY}' is not complex (dtype {kspace.dtype})")
            image = kspace_to_image(np.moveaxis(kspace, -1, 0)).astype(np.complex64)  # (t, kx, ky)
            if not np.isfinite(image).all():
                raise MatFileError(f"{f.path}: slice {s} contains NaN or inf values")
            name = f"{slice_key(f.patient, f.view, s)}.npy"
            x, mean, std = standardise(center_fit(image, img_size))
            with disk_space(Path(out_dir) / SLICES / name):
                np.save(
                    tmp / SLICES / name,
                    np.stack([complex_to_channels(x), complex_to_channels(image_to_kspace(x))]),
                )
            rows.append(
                {
                    "patient": f.patient,
                    "view": f.view,
                    "slice": s,
                    "split": split[f.patient],
                    "file": f"{SLICES}/{name}",
                    "kx": f.shape[0],
                    "ky": f.shape[1],
                    "frames": f.shape[3],
                    "height": img_size[0],
                    "width": img_size[1],
                    "mean": mean,
                    "std": std,
                    **file_record(tmp / SLICES / name),
                    "acceleration": 0,  # fully sampled: every acceleration's masks apply
                    "truth": 1,
                }
            )
        index = write_index(tmp, rows, split)
    return index


def check_image_size(files: list[CineFile], img_size: tuple[int, int]) -> None:
    """Refuse data larger than ``img_size`` (it would be cropped).

    :raises ImageSizeError: naming ``image_size``, the largest shape and a file of that shape.
    """
    too_big = [f for f in files if f.shape[0] > img_size[0] or f.shape[1] > img_size[1]]
    if too_big:
        largest = max(too_big, key=lambda f: (f.shape[0], f.shape[1]))
        kx = max(f.shape[0] for f in files)
        ky = max(f.shape[1] for f in files)
        raise ImageSizeError(
            f"image_size {list(img_size)} is smaller than the data: {len(too_big)} of {len(files)} files are larger, "
            f"e.g. {largest.path} with (kx, ky) = {largest.shape[:2]}. Set image_size to at least [{kx}, {ky}], or "
            "set image_crop: true to centre-crop the images"
        )


def report_crop(files: list[CineFile], img_size: tuple[int, int]) -> list[CineFile]:
    """Say (in the extract log) which files ``image_crop`` crops to ``img_size``, and from which shapes.

    :return: the cropped files.
    """
    cropped = [f for f in files if f.shape[0] > img_size[0] or f.shape[1] > img_size[1]]
    if cropped:
        shapes = sorted({f.shape[:2] for f in cropped})
        print(
            f"image_crop: centre-cropping {len(cropped)} of {len(files)} files to image_size {list(img_size)} "
            f"(kx, ky), from {', '.join(str(tuple(s)) for s in shapes)}; e.g. {cropped[0].path}",
            flush=True,
        )
    else:
        print(
            f"image_crop: no file is larger than image_size {list(img_size)}; nothing is cropped", flush=True
        )
    return cropped


def check_slice(extract_dir: str | os.PathLike, row, content: bool = True) -> Path:
    """Check a slice file of an extraction against the size (and, if ``content``, the hash) in ``index.csv``.

    :param row: its row of :func:`load_index`.
    :return: the file's path.
    :raises ddei.io.files.CorruptFileError: naming the file and :data:`REBUILD`.
    """
    path = Path(extract_dir) / row["file"]
    check_file(path, {"bytes": row["bytes"], "sha256": row["sha256"]}, REBUILD, content)
    return path


def center_fit(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Zero-pad or crop the last two axes of ``array`` around the centre to ``size``.

    Index ``n // 2`` (the k-space centre of the FFT convention) maps to index ``target // 2``, for odd and even
    sizes alike.

    :param numpy.ndarray array: array ``(..., H, W)``.
    :param tuple size: target ``(H, W)``.
    """
    out = array
    for axis, target in zip((-2, -1), size):
        n = out.shape[axis]
        if n < target:
            before = target // 2 - n // 2
            pad = [(0, 0)] * out.ndim
            pad[axis] = (before, target - n - before)
            out = np.pad(out, pad)
        elif n > target:
            start = n // 2 - target // 2
            out = np.take(out, np.arange(start, start + target), axis=axis)
    return out


def standardise(x: np.ndarray, reference: np.ndarray | None = None) -> tuple[np.ndarray, float, float]:
    """The paper's (and deepinv's) normalisation: subtract the mean and divide by the standard deviation of the
    real and imaginary values pooled, taken from ``reference`` (default ``x``). The standard deviation is torch's
    ``Tensor.std()``, unbiased (``ddof=1``), as the reference's :class:`deepinv.datasets.CMRxReconSliceDataset`
    computes it.

    :return: ``(normalised x as complex64, mean, std)``.
    """
    ref = x if reference is None else reference
    values = np.stack([ref.real, ref.imag]).astype(np.float64)
    mean, std = float(values.mean()), float(values.std(ddof=1))
    return ((x - mean * (1 + 1j)) / (std + 1e-11)).astype(np.complex64), mean, std


def complex_to_channels(z: np.ndarray) -> np.ndarray:
    """Complex ``(...)`` to ``float32`` ``(2, ...)`` real and imaginary channels."""
    return np.stack([z.real, z.imag]).astype(np.float32)


def load_index(extract_dir: str | os.PathLike, split: str | None = None) -> pd.DataFrame:
    """Read ``index.csv`` of an extraction, optionally one split.

    :param extract_dir: output folder of :func:`extract`.
    :param str split: one of :data:`SPLITS`, or ``None`` for all.
    :raises ddei.io.files.CorruptFileError: it lacks a column of :data:`ddei.io.layout.INDEX_COLUMNS`.
    """
    path = Path(extract_dir) / INDEX
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run the extract rule first")
    require_columns(path, INDEX_COLUMNS, REBUILD)
    index = pd.read_csv(path, dtype={"patient": str})
    if split is not None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        index = index[index["split"] == split].reset_index(drop=True)
    return index


__all__ = [
    "REBUILD",
    "SPLITS",
    "ImageSizeError",
    "check_image_size",
    "check_slice",
    "CineFile",
    "extract",
    "fullsample_dir",
    "load_index",
    "patient_split",
    "scan",
    "select_slices",
]
