"""The k-t mask files: where each lies, and how one is written, read and checked.

A mask file is the paper's format (``TimeVaryingGaussianMaskXX/Pxxx/cine_{lax,sax}_mask.mat``, key ``mask``,
``uint8``, MATLAB shape ``(kx, ky, T)``), also used for an acquired scan's own mask (:mod:`ddei.data.acquired`).
How the masks are made is :mod:`ddei.mri.masks`; this module imports neither torch nor deepinv, so that code
that only reads or writes masks does not depend on them (nor reruns when they are upgraded).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ddei.io.files import check_file, read_manifest
from ddei.io.layout import REBUILD_MASKS, mask_folder_name
from ddei.io.matlab import MatFileError, read_mat, write_mat73

#: The key of a mask in its ``.mat`` file.
MASK_KEY = "mask"


def mask_path(root: str | os.PathLike, acceleration: int, patient: str, view: str) -> Path:
    """Path of one mask file in the paper's layout.

    :param root: folder holding the ``TimeVaryingGaussianMaskXX`` folders.
    :param int acceleration: acceleration factor.
    :param str patient: patient id, e.g. ``P001``.
    :param str view: ``lax`` or ``sax``.
    """
    return Path(root) / mask_folder_name(acceleration) / patient / f"cine_{view}_mask.mat"


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
               content: bool = True, remedy: str = REBUILD_MASKS) -> Path:  # fmt: skip
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
