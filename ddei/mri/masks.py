"""Time-varying Gaussian Cartesian k-t masks, in the paper's on-disk format.

The paper's masks live in ``TimeVaryingGaussianMaskXX/Pxxx/cine_{lax,sax}_mask.mat`` (key ``mask``, ``uint8``,
MATLAB shape ``(kx, ky, 12)``): one mask per cine file, shared by its slices. Every frame samples
``floor(ky / R)`` full phase-encode lines (``ky`` columns): a centre block that is always sampled (8 %, 4 %, 2 %
of the lines at 4x, 8x, 16x, i.e. ``0.32 / R``) and Gaussian-density random lines that change from frame to frame.

Sampling is :class:`deepinv.physics.generator.GaussianMaskGenerator` driven by an explicit
:class:`torch.Generator` seeded per file (deepinv's generators otherwise all start from the same default seed).

A mask folder written by :func:`write_mask_folder` holds a ``manifest.csv`` (:func:`ddei.io.files.write_manifest`):
the size and content hash of each file, which :func:`check_mask` verifies before a mask is used.

How many lines a mask samples is :mod:`ddei.mri.sampling` (dependency-free, for the workflow's configuration checks).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ddei.io.files import check_file, read_manifest, require_columns, write_manifest
from ddei.io.folders import atomic_folder
from ddei.io.layout import MASK_FOLDER_PREFIX, REBUILD_EXTRACT, REBUILD_MASKS, mask_folder_name  # noqa: F401  (part of this module's API)
from ddei.io.matlab import MatFileError, read_mat, write_mat73
from ddei.mri.sampling import (  # noqa: F401 (default_center_fraction, AccelerationError: part of this API)
    AccelerationError,
    center_lines,
    check_acceleration,
    default_center_fraction,
)

MASK_KEY = "mask"
#: The columns of an extraction's ``index.csv`` (:data:`ddei.io.layout.INDEX_COLUMNS`) that the masks are made from.
INDEX_READ = ("patient", "view", "kx", "ky", "frames")
#: The command that rebuilds the mask folders.
REBUILD = REBUILD_MASKS


def mask_path(root: str | os.PathLike, acceleration: int, patient: str, view: str) -> Path:
    """Path of one mask file in the paper's layout.

    :param root: folder holding the ``TimeVaryingGaussianMaskXX`` folders.
    :param int acceleration: acceleration factor.
    :param str patient: patient id, e.g. ``P001``.
    :param str view: ``lax`` or ``sax``.
    """
    return Path(root) / mask_folder_name(acceleration) / patient / f"cine_{view}_mask.mat"


def file_seed(seed: int, acceleration: int, patient: str, view: str) -> int:
    """A stable 63-bit seed for one mask file, independent of which other files exist.

    :param int seed: the workflow's mask seed.
    """
    digest = hashlib.sha256(f"{seed}/{acceleration}/{patient}/{view}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def gaussian_kt_mask(
    shape: tuple[int, int],
    acceleration: int,
    frames: int = 12,
    seed: int = 0,
    center_fraction: float | None = None,
) -> np.ndarray:
    """One time-varying Gaussian Cartesian mask in MATLAB order ``(kx, ky, frames)``, ``uint8``.

    :param tuple shape: ``(kx, ky)``; lines are full ``kx`` columns, chosen along ``ky``.
    :param int acceleration: acceleration factor R: each frame samples ``floor(ky / R)`` lines.
    :param int frames: number of frames.
    :param int seed: seed of the explicit :class:`torch.Generator`.
    :param float center_fraction: fraction of central lines always sampled (default ``0.32 / R``; at least one
        line, the k-space centre).
    """
    import torch
    from deepinv.physics.generator import GaussianMaskGenerator

    kx, ky = shape
    if acceleration < 1:
        raise ValueError(f"acceleration must be >= 1, got {acceleration}")
    cf, _ = center_lines(ky, acceleration, center_fraction)
    rng = torch.Generator().manual_seed(int(seed))
    gen = GaussianMaskGenerator((1, frames, kx, ky), acceleration=acceleration, center_fraction=cf, rng=rng)
    mask = gen.step(batch_size=1)["mask"][0, 0]  # (T, kx, ky)
    return np.ascontiguousarray(mask.permute(1, 2, 0).numpy().astype(np.uint8))


def write_mask(path: str | os.PathLike, mask: np.ndarray) -> Path:
    """Write a mask in the paper's format (MATLAB v7.3, key ``mask``, ``uint8`` ``(kx, ky, T)``).

    :param path: destination ``.mat`` file (folders are created).
    :param numpy.ndarray mask: binary mask in MATLAB order.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_mat73(path, {MASK_KEY: np.asarray(mask, dtype=np.uint8)})


def read_mask(
    path: str | os.PathLike, shape: tuple[int, int] | None = None, frames: int | None = None
) -> np.ndarray:
    """Read and validate a mask file (ours or the paper's published ones).

    A 2D ``(kx, ky)`` mask is repeated over ``frames``. Raises :class:`~ddei.io.matlab.MatFileError` if the file is
    missing or unreadable, has no ``mask`` key, is not binary, or does not match ``shape`` / ``frames``.

    :param path: mask ``.mat`` file.
    :param tuple shape: expected ``(kx, ky)`` of the data it masks.
    :param int frames: expected number of frames.
    :return: ``uint8`` array ``(kx, ky, T)``.
    """
    mask = read_mat(path, MASK_KEY)
    if mask.ndim == 2 and frames is not None:
        mask = np.repeat(mask[..., None], frames, axis=-1)
    if mask.ndim != 3:
        raise MatFileError(f"{path}: mask must be (kx, ky, frames) or (kx, ky), got shape {mask.shape}")
    values = np.unique(mask)
    if not np.isin(values, (0, 1)).all():
        raise MatFileError(f"{path}: mask must be binary, found values {values[:5]}")
    if shape is not None and tuple(mask.shape[:2]) != tuple(shape):
        raise MatFileError(
            f"{path}: mask shape {mask.shape[:2]} does not match the data's (kx, ky) = {tuple(shape)}"
        )
    if frames is not None and mask.shape[2] != frames:
        raise MatFileError(f"{path}: mask has {mask.shape[2]} frames, the data has {frames}")
    return mask.astype(np.uint8)


def check_mask(folder: str | os.PathLike, patient: str, view: str, records: dict | None = None,
               content: bool = True, remedy: str = REBUILD) -> Path:  # fmt: skip
    """Check a mask file of a mask folder (:func:`write_mask_folder`, or an acquired scan's) against its manifest.

    :param folder: the mask folder (``TimeVaryingGaussianMaskXX`` or ``AccFactorXX``).
    :param dict records: the folder's :func:`ddei.io.files.read_manifest` (read if ``None``).
    :param bool content: also hash the content.
    :param str remedy: the command that rebuilds the folder.
    :return: the file's path.
    :raises ddei.io.files.CorruptFileError: naming the file and ``remedy``.
    """
    folder = Path(folder)
    if records is None:
        records = read_manifest(folder, remedy)
    path = folder / patient / f"cine_{view}_mask.mat"
    relative = path.relative_to(folder).as_posix()
    if relative not in records:
        raise MatFileError(f"{path} is not in {folder / 'manifest.csv'}; rebuild the masks with `{remedy}`")
    check_file(path, records[relative], remedy, content)
    return path


def acceleration_of(mask: np.ndarray) -> float:
    """Effective acceleration of a ``(kx, ky, T)`` mask: lines available / lines sampled, averaged over frames.

    :param numpy.ndarray mask: binary mask.
    """
    lines = mask.any(axis=0)  # (ky, T)
    return float(lines.shape[0] / lines.sum(axis=0).mean())


def write_mask_folder(
    index_csv: str | os.PathLike,
    mask_root: str | os.PathLike,
    acceleration: int,
    seed: int = 0,
    frames: int = 12,
    import_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> Path:
    """Write ``mask_root/TimeVaryingGaussianMaskXX`` for every cine file of an extraction.

    Generates one seeded mask per ``(patient, view)``, or, with ``import_dir``, copies the published masks from
    ``import_dir/TimeVaryingGaussianMaskXX/Pxxx/cine_<view>_mask.mat`` after checking each against its data (binary,
    ``(kx, ky)`` and frame count). Written to a temporary folder and moved in place, so a failure leaves nothing.
    The folder's ``manifest.csv`` records each file's size and content hash (:func:`check_mask`).

    :param index_csv: ``index.csv`` of :func:`ddei.data.extract.extract` (patient, view, kx, ky, frames).
    :param mask_root: folder to hold the ``TimeVaryingGaussianMaskXX`` folder.
    :param int acceleration: acceleration factor.
    :param int seed: mask seed (each file's seed is derived from it, the acceleration, patient and view).
    :param int frames: frames per mask (when generating).
    :param import_dir: folder with the paper's mask folders, or ``None`` to generate.
    :param bool progress: show a progress bar.
    :return: the written folder.
    :raises AccelerationError: (generating) a file's ``ky`` lines cannot hold the centre block at ``acceleration``.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    require_columns(index_csv, INDEX_READ, REBUILD_EXTRACT)
    index = pd.read_csv(index_csv, dtype={"patient": str})
    files = index.drop_duplicates(["patient", "view"])
    out = Path(mask_root) / mask_folder_name(acceleration)
    if import_dir is None:  # before writing anything
        for row in files.itertuples():
            check_acceleration(int(row.ky), acceleration, f"{row.patient} cine_{row.view}")
    with atomic_folder(out) as tmp:
        for row in tqdm(list(files.itertuples()), desc=f"masks x{acceleration}", disable=not progress):
            shape = (int(row.kx), int(row.ky))
            if import_dir is None:
                mask = gaussian_kt_mask(
                    shape, acceleration, frames, file_seed(seed, acceleration, row.patient, row.view)
                )
            else:
                source = mask_path(import_dir, acceleration, row.patient, row.view)
                mask = read_mask(source, shape=shape, frames=int(row.frames))
            write_mask(tmp / row.patient / f"cine_{row.view}_mask.mat", mask)
        write_manifest(tmp)
    return out
