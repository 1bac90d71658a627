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
