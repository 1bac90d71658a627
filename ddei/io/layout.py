"""Where the paper's files live: the one definition of the folder names that the code and the workflow share.

This module imports nothing (the workflow reads it when it parses the Snakefile).
"""

from __future__ import annotations

#: The paper's mask folders are this prefix and the acceleration in two digits (:func:`mask_folder_name`).
MASK_FOLDER_PREFIX = "TimeVaryingGaussianMask"


def mask_folder_name(acceleration: int) -> str:
    """Folder name of the paper's masks for an acceleration, e.g. ``TimeVaryingGaussianMask08``.

    :param int acceleration: acceleration factor R.
    """
    return f"{MASK_FOLDER_PREFIX}{int(acceleration):02d}"


#: The rule that makes an extraction (its slices, ``index.csv`` and ``split.csv``), and the command that rebuilds it.
EXTRACT_RULE = "extract"
REBUILD_EXTRACT = f"snakemake -R {EXTRACT_RULE}"
#: The rule that makes the mask folders, and the command that rebuilds them.
MASKS_RULE = "masks"
REBUILD_MASKS = f"snakemake -R {MASKS_RULE}"

#: The columns of an extraction's ``index.csv`` (one row per slice; see :mod:`ddei.data.extract`).
INDEX_COLUMNS = ("patient", "view", "slice", "split", "file", "kx", "ky", "frames", "height", "width", "mean", "std",
                 "bytes", "sha256")  # fmt: skip
#: The columns of an extraction's ``split.csv`` (one row per patient).
SPLIT_COLUMNS = ("patient", "split")
#: The columns of a folder's ``manifest.csv`` (one row per file; see :func:`ddei.io.files.write_manifest`).
MANIFEST_COLUMNS = ("file", "bytes", "sha256")
