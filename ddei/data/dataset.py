"""Training and test samples from extracted slices and k-t masks.

The extract rule already zero-padded each slice to the training size and normalised it as the paper does
(reference ``CineNetDataTransform`` and :class:`deepinv.datasets.CMRxReconSliceDataset`), and stored its k-space
(:mod:`ddei.data.extract`). A sample only applies the file's k-t mask, zero-padded the same way, and optionally
fixed measurement noise. Samples are deepinv dict samples::

    {"x": (2, T, H, W), "y": (2, T, H, W), "params": {"mask": (2, T, H, W)}}

so that :class:`deepinv.physics.DynamicMRI` with ``physics.update(**params)`` reproduces ``y`` from ``x``.

Every file is checked against the size and hash written with it (``index.csv`` for the slices, the mask folder's
``manifest.csv`` for the masks): the sizes of all of them when the dataset is opened, and each file's content the
first time it is read (once per process, a small cost next to a training job's epochs). A damaged file stops the
job with its name and the command that rebuilds it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from ddei.data.extract import center_fit, check_slice, complex_to_channels, load_index, standardise
from ddei.io.files import read_manifest
from ddei.io.layout import INDEX, REBUILD_EXTRACT, REBUILD_MASKS, accfactor_name, mask_folder_name
from ddei.io.maskfiles import check_mask, read_mask
from ddei.mri.fft import image_to_kspace, kspace_to_image

NORMALISATIONS = ("reference", "measurement", "none")


def sample_seed(seed: int, key: str) -> int:
    """A stable per-sample seed (for measurement noise), independent of the dataset's order."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{key}".encode()).digest()[:8], "little") >> 1


class CineSliceDataset(Dataset):
    """Slices of an extraction, undersampled with the paper's k-t masks.

    :param extract_dir: output folder of :func:`ddei.data.extract.extract`.
    :param str split: ``"train"``, ``"test"`` or ``None`` (all slices).
    :param mask_root: folder holding ``TimeVaryingGaussianMaskXX/Pxxx/cine_<view>_mask.mat``; ``None`` means
        fully sampled (mask of ones on the original k-space, zero in the padding).
    :param int acceleration: which mask folder to use.
    :param tuple img_size: expected padded image size ``(H, W)`` (the extraction's; the paper: ``(512, 256)``).
    :param str normalisation: ``"reference"`` (the paper and deepinv: subtract the mean and divide by the standard
        deviation of the fully sampled padded image, real and imaginary values pooled), ``"measurement"`` (the
        same statistics taken from the zero-filled image instead, which uses no ground truth) or ``"none"``
        (the raw scale of the data).
    :param float noise_sigma: standard deviation of complex Gaussian noise added to the normalised k-space before
        masking (fixed per sample, drawn from ``noise_seed``).
    :param int noise_seed: seed of the measurement noise.
    :param bool ground_truth: read the fully sampled images. ``False``: samples carry no ``"x"`` and ``truth`` is
        ``False`` (what validation without ground truth sees); with the ``reference`` normalisation and acquired
        scans the image array of a slice file is then never read (the ``measurement`` and ``none``
        normalisations rescale the stored image, whose statistics they take from the zero-filled image).
    """

    def __init__(
        self,
        extract_dir: str | os.PathLike,
        split: str | None = "train",
        mask_root: str | os.PathLike | None = None,
        acceleration: int = 4,
        img_size: tuple[int, int] | None = None,
        normalisation: str = "reference",
        noise_sigma: float = 0.0,
        noise_seed: int = 0,
        ground_truth: bool = True,
    ):
        if normalisation not in NORMALISATIONS:
            raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {normalisation!r}")
        self.extract_dir = Path(extract_dir)
        self.index: pd.DataFrame = load_index(extract_dir, split)
        #: the extraction holds acquired scans (:mod:`ddei.data.acquired`): this factor's measurements, as they are
        self.acquired = bool((self.index["acceleration"] > 0).any())
        if self.acquired:
            self.index = self.index[self.index["acceleration"] == int(acceleration)].reset_index(drop=True)
        if len(self.index) == 0:
            what = f"{split} slices" + (f" measured at {acceleration}x" if self.acquired else "")
            raise ValueError(f"No {what} in {self.extract_dir / INDEX}")
        sizes = set(zip(self.index["height"], self.index["width"]))
        if img_size is not None and sizes != {tuple(img_size)}:
            raise ValueError(
                f"{self.extract_dir} was extracted at image size {sorted(sizes)}, not {tuple(img_size)}: "
                "rerun the extract rule with this image_size"
            )
        self.mask_root = None if mask_root is None else Path(mask_root)
        self.acceleration = int(acceleration)
        self.normalisation = normalisation
        self.noise_sigma = float(noise_sigma)
        self.noise_seed = int(noise_seed)
        self.ground_truth = bool(ground_truth)
        self._masks: dict[tuple[str, str], np.ndarray] = {}
        self._records = None
        #: the name of the mask folder under ``mask_root``: the release's ``AccFactorXX`` for acquired scans
        self.mask_folder = (accfactor_name if self.acquired else mask_folder_name)(self.acceleration)
        #: the command that rebuilds the masks: the extraction's, for acquired scans
        self.remedy = REBUILD_EXTRACT if self.acquired else REBUILD_MASKS
        if self.mask_root is not None:
            self._records = read_manifest(self.mask_root / self.mask_folder, self.remedy)
        self._verified: set[int] = set()
        self.check(content=False)

    def check(self, content: bool = True) -> None:
        """Check every file of the dataset: its size, and its content if ``content``.

        :raises ddei.io.files.CorruptFileError: naming the damaged file and the command that rebuilds it.
        """
        for _, row in self.index.iterrows():
            check_slice(self.extract_dir, row, content)
        if self.mask_root is not None:
            for patient, view in self.index[["patient", "view"]].drop_duplicates().itertuples(index=False):
                check_mask(
                    self.mask_root / self.mask_folder, patient, view, self._records, content, self.remedy
                )

    def __len__(self) -> int:
        return len(self.index)

    def record(self, i: int) -> dict:
        """The index row of sample ``i`` (patient, view, slice, ...)."""
        return self.index.iloc[i].to_dict()

    def kt_mask(self, row) -> np.ndarray:
        """The padded ``(T, H, W)`` float32 mask of a slice's cine file, read once and cached."""
        key = (row["patient"], row["view"])
        if key not in self._masks:
            shape, frames = (int(row["kx"]), int(row["ky"])), int(row["frames"])
            if self.mask_root is None:
                mask = np.ones((*shape, frames), dtype=np.uint8)
            else:
                path = check_mask(self.mask_root / self.mask_folder, *key, self._records, True, self.remedy)
                mask = read_mask(path, shape=shape, frames=frames)
            padded = center_fit(np.moveaxis(mask, -1, 0), (int(row["height"]), int(row["width"])))
            self._masks[key] = np.ascontiguousarray(padded, dtype=np.float32)
        return self._masks[key]

    def __getitem__(self, i: int) -> dict:
        row = self.index.iloc[i]
        if i not in self._verified:
            check_slice(self.extract_dir, row)
            self._verified.add(i)
        stored = np.load(self.extract_dir / row["file"], mmap_mode="r")  # (2 [x, k], 2, T, H, W) float32
        mask = self.kt_mask(row)
        if (
            self.normalisation == "reference" or self.acquired
        ):  # acquired: as extracted (no ground truth to use)
            x, k = (np.array(stored[0]) if self.ground_truth else None), stored[1]
        else:
            x, k = self._renormalise(stored[0], row, mask)
        if self.noise_sigma > 0:
            rng = np.random.default_rng(sample_seed(self.noise_seed, row["file"]))
            k = k + rng.standard_normal(k.shape, dtype=np.float32) * np.float32(self.noise_sigma)
        y = k * mask
        mask_t = torch.from_numpy(mask).expand(2, *mask.shape)
        sample = {"y": torch.from_numpy(y), "params": {"mask": mask_t}}
        if not self.ground_truth:
            return sample | {"truth": torch.tensor(False)}
        return {"x": torch.from_numpy(x)} | sample | {"truth": torch.tensor(bool(row["truth"]))}

    def _renormalise(self, x: np.ndarray, row, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = x[0] + 1j * x[1]
        if self.normalisation == "none":
            z = z * row["std"] + row["mean"] * (1 + 1j)
        else:  # measurement: standardisation is invariant to the affine map already applied
            z, _, _ = standardise(z, reference=kspace_to_image(image_to_kspace(z) * mask))
        return complex_to_channels(z), complex_to_channels(image_to_kspace(z))
