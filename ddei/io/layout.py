"""Where the paper's files live: the one definition of the folder, file and key names that the code and the
workflow share, of the CMRxRecon 2023 release and of this pipeline's own files.

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

#: An extraction's folder: one array per slice under ``slices/``, the index of the slices, the patients' split.
SLICES, INDEX, SPLIT = "slices", "index.csv", "split.csv"


def slice_key(patient: str, view: str, slice_: int) -> str:
    """The name of one slice of a patient's view, e.g. ``P002_lax_s0`` (its array's name, its key in a
    reconstruction file)."""
    return f"{patient}_{view}_s{int(slice_)}"


def parse_slice_key(key: str) -> tuple[str, str, int]:
    """:func:`slice_key` read back: ``P002_lax_s0`` -> ``("P002", "lax", 0)``."""
    patient, view, s = key.rsplit("_", 2)
    return patient, view, int(s.removeprefix("s"))


#: The columns of an extraction's ``index.csv`` (one row per slice; see :mod:`ddei.data.extract`). ``acceleration``
#: is the factor of an acquired scan's measurement (:mod:`ddei.data.acquired`; 0: fully sampled, masks simulated),
#: ``truth`` whether the slice has a fully sampled image (1 for every fully sampled slice).
INDEX_COLUMNS = ("patient", "view", "slice", "split", "file", "kx", "ky", "frames", "height", "width", "mean", "std",
                 "bytes", "sha256", "acceleration", "truth")  # fmt: skip
#: The columns of an extraction's ``split.csv`` (one row per patient).
SPLIT_COLUMNS = ("patient", "split")
#: The columns of a folder's ``manifest.csv`` (one row per file; see :func:`ddei.io.files.write_manifest`).
MANIFEST_COLUMNS = ("file", "bytes", "sha256")


# --------------------------------------------------------------------------------------------------------------
# The CMRxRecon 2023 release (single-coil cine)
# --------------------------------------------------------------------------------------------------------------

#: The single-coil cine tree under a CMRxRecon root.
CINE = "SingleCoil/Cine"
#: Its sets: the training set (fully sampled and undersampled) and the validation set (undersampled only).
SETS = ("TrainingSet", "ValidationSet")
#: The views, each a file ``cine_<view>.mat`` per patient.
VIEWS = ("lax", "sax")
#: The key of the fully sampled k-space in ``FullSample/Pxxx/cine_<view>.mat``, MATLAB order (kx, ky, slice, t).
FULL_KEY = "kspace_single_full"


def fullsample_dir(cmr_set: str = "TrainingSet") -> str:
    """The fully sampled folder of a set, relative to the CMRxRecon root."""
    return f"{CINE}/{cmr_set}/FullSample"


def accfactor_name(acceleration: int) -> str:
    """The release's folder of an acceleration factor, e.g. ``AccFactor08``."""
    return f"AccFactor{int(acceleration):02d}"


def accfactor_dir(cmr_set: str, acceleration: int) -> str:
    """The undersampled folder of a set and factor, relative to the CMRxRecon root."""
    return f"{CINE}/{cmr_set}/{accfactor_name(acceleration)}"


def subsampled_key(acceleration: int) -> str:
    """The key of the undersampled k-space in ``AccFactorXX/Pxxx/cine_<view>.mat``, e.g. ``kspace_single_sub08``."""
    return f"kspace_single_sub{int(acceleration):02d}"


def release_mask_key(acceleration: int) -> str:
    """The key of the release's mask in ``AccFactorXX/Pxxx/cine_<view>_mask.mat``, e.g. ``mask08``: (kx, ky)."""
    return f"mask{int(acceleration):02d}"


def cine_file(view: str) -> str:
    """``cine_<view>.mat``."""
    return f"cine_{view}.mat"


def cine_mask_file(view: str) -> str:
    """``cine_<view>_mask.mat``."""
    return f"cine_{view}_mask.mat"


# --- this pipeline's results tree (relative to the config's ``results`` folder) ---------------------------------
# Patterns in Snakemake's wildcard syntax: the rules use them as they are, code fills them with :func:`result`.
# ``{method}`` is a method's file-name form (:func:`slug`).

#: The extraction (:data:`SLICES`, :data:`INDEX`, :data:`SPLIT`) and the mask folders.
EXTRACTION, MASKS = "extract", "masks"
#: A training run's folder: its weights, loss log and validation log.
MODEL_DIR = "models/{method}/acc{acc}/seed{seed}"
MODEL = f"{MODEL_DIR}/model.pt"
LOSS = f"{MODEL_DIR}/loss.csv"
VAL = f"{MODEL_DIR}/val.csv"
#: An interrupted training run's state (resumed by the next run of the same identity).
CHECKPOINT = "checkpoints/{method}_acc{acc}_seed{seed}.pt"
#: One evaluation's per-slice metrics, and the reconstructions it keeps for the figures.
METRICS = "metrics/{method}/acc{acc}/seed{seed}.csv"
RECON = "recon/{method}/acc{acc}/seed{seed}.npz"
#: Every evaluation's metrics in one table (the report's input).
ALL_METRICS = "metrics/all.csv"
#: The name of a run's log and benchmark files, under ``logs/<rule>/`` and ``benchmarks/<rule>/``.
RUN_NAME = "{method}_acc{acc}_seed{seed}"
#: A reconstruction of one undersampled scan by a trained model (``{model}``: the model's name), in a tree that
#: mirrors the release's (``{acc2}``: the factor's two digits), without its extension (``.mat`` and ``.gif``; under
#: ``logs/`` and ``benchmarks/``, ``.log`` and ``.tsv``).
RECONSTRUCTION = "reconstruct/{model}/{cmrset}/AccFactor{acc2}/{patient}/cine_{view}"


def slug(name: str) -> str:
    """File-name form of a method name (``t-ssdu*`` -> ``t-ssdu-star``)."""
    return name.replace("*", "-star")


def reconstruction(model: str, cmr_set: str, acceleration: int, patient: str, view: str) -> str:
    """:data:`RECONSTRUCTION` filled for one scan, e.g. ``reconstruct/ddei_seed0/ValidationSet/AccFactor08/P001/cine_sax``."""
    acc2 = accfactor_name(acceleration).removeprefix("AccFactor")
    return RECONSTRUCTION.format(model=model, cmrset=cmr_set, acc2=acc2, patient=patient, view=view)


def result(pattern: str, method: str, acc: int | str, seed: int | str) -> str:
    """A results pattern filled for one run, e.g. ``result(MODEL, "t-ssdu*", 8, 0)`` ->
    ``models/t-ssdu-star/acc8/seed0/model.pt``.

    :param str pattern: one of this module's results patterns.
    :param str method: the method's name (its :func:`slug` is used).
    """
    return pattern.format(method=slug(method), acc=int(acc), seed=int(seed))
