"""Time-varying Gaussian Cartesian k-t masks, in the paper's on-disk format.

The paper's masks live in ``TimeVaryingGaussianMaskXX/Pxxx/cine_{lax,sax}_mask.mat`` (key ``mask``, ``uint8``,
MATLAB shape ``(kx, ky, 12)``): one mask per cine file, shared by its slices. Every frame samples
``floor(ky / R)`` full phase-encode lines (``ky`` columns): a centre block that is always sampled (8 %, 4 %, 2 %
of the lines at 4x, 8x, 16x, i.e. ``0.32 / R``) and Gaussian-density random lines that change from frame to frame.

Sampling is :class:`deepinv.physics.generator.GaussianMaskGenerator` driven by an explicit
:class:`torch.Generator` seeded per file (deepinv's generators otherwise all start from the same default seed).

A mask folder written by :func:`write_mask_folder` holds a ``manifest.csv`` (:func:`ddei.io.files.write_manifest`):
the size and content hash of each file, which :func:`~ddei.io.maskfiles.check_mask` verifies before a mask is used.
The file format (path, write, read, check) is :mod:`ddei.io.maskfiles`.

How many lines a mask samples is :mod:`ddei.mri.sampling` (dependency-free, for the workflow's configuration checks).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ddei.io.files import require_columns, write_manifest
from ddei.io.folders import atomic_folder
from ddei.io.layout import MASK_FOLDER_PREFIX, REBUILD_EXTRACT, REBUILD_MASKS, mask_folder_name  # noqa: F401  (part of this module's API)
from ddei.io.maskfiles import (  # noqa: F401  (the mask files: part of this module's API)
    MASK_KEY,
    MatFileError,
    acceleration_of,
    check_mask,
    mask_path,
    read_mask,
    write_mask,
)
from ddei.mri.sampling import (  # noqa: F401 (default_center_fraction, AccelerationError: part of this API)
    AccelerationError,
    center_lines,
    check_acceleration,
    default_center_fraction,
)

#: The columns of an extraction's ``index.csv`` (:data:`ddei.io.layout.INDEX_COLUMNS`) that the masks are made from.
INDEX_READ = ("patient", "view", "kx", "ky", "frames")
#: The command that rebuilds the mask folders.
REBUILD = REBUILD_MASKS


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
