"""The k-t masks the paper's reference code published, as real-world input and as the target of our generator.

``../shared/data/published_masks.tgz`` (or ``$DDEI_PUBLISHED_MASKS``) holds
``TrainingSet/TimeVaryingGaussianMask{04,08,16}/Pxxx/cine_{lax,sax}_mask.mat``: 666 MATLAB v5 files, key ``mask``,
``uint8`` ``(kx, ky, 12)`` at the real CMRxRecon patients' shapes, drawn with deepinv's ``GaussianMaskGenerator``
(the reference's ``data/prepare_masks.ipynb``). Every test here skips when the archive is absent.
"""

from __future__ import annotations

import ddei  # noqa: F401  (must be imported before deepinv)

# isort: split
import os
import shutil
import tarfile
from collections import Counter, defaultdict
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io

from ddei.data.extract import Selection, extract
from ddei.data.synthetic import DATA_DIR, generate_cmrxrecon
from ddei.io.matlab import MatFileError
from ddei.mri.masks import mask_folder_name, mask_path, read_mask, write_mask_folder

ARCHIVE = Path(
    os.environ.get(
        "DDEI_PUBLISHED_MASKS",
        Path(__file__).resolve().parents[2] / "shared" / "data" / "published_masks.tgz",
    )
)
ACCELERATIONS = (4, 8, 16)
#: Ones fractions over all published files, as measured (``../shared/data/README.md``), to 3 decimals.
README_FRACTIONS = {4: 0.249, 8: 0.123, 16: 0.060}
#: Patients imported in the import test: P001 (lax 448 x 204, sax 512 x 204) and P003 (no long-axis file, as in
#: the real data; sax 512 x 246). Each costs about a second of synthetic data generation at its real size.
IMPORT_PATIENTS = ("P001", "P003")


@pytest.fixture(scope="session")
def published(tmp_path_factory) -> Path:
    """The archive extracted once per session; returns its ``TrainingSet`` folder (holding the mask folders)."""
    if not ARCHIVE.is_file():
        pytest.skip(f"published masks archive not found at {ARCHIVE} (set DDEI_PUBLISHED_MASKS to its path)")
    dest = tmp_path_factory.mktemp("published_masks")
    with tarfile.open(
        ARCHIVE
    ) as tar:  # 0.6 MB compressed, unpacked in well under a second: no need to select
        tar.extractall(dest, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    return dest / "TrainingSet"


@pytest.fixture(scope="session")
def published_masks(published) -> dict[int, dict[tuple[str, str], np.ndarray]]:
    """Every published mask, ``{acceleration: {(patient, view): mask}}``, read with SciPy (independently of ddei)."""
    masks = {}
    for acc in ACCELERATIONS:
        folder = published / mask_folder_name(acc)
        masks[acc] = {
            (path.parent.name, path.name.split("_")[1]): scipy.io.loadmat(path)["mask"]
            for path in sorted(folder.glob("P*/cine_*_mask.mat"))
        }
    return masks


def _shape_of(published: Path, patient: str, view: str) -> tuple[int, int] | None:
    path = mask_path(published, 4, patient, view)
    return tuple(scipy.io.whosmat(path)[0][1][:2]) if path.is_file() else None


@pytest.fixture(scope="module")
def extraction(published, tmp_path_factory) -> Path:
    """Synthetic CMRxRecon data for :data:`IMPORT_PATIENTS` at their real shapes (read from the published masks),
    extracted; returns the extraction folder."""
    tmp = tmp_path_factory.mktemp("published_patients")
    raw = tmp / "raw"
    for i, patient in enumerate(IMPORT_PATIENTS):
        lax, sax = (_shape_of(published, patient, view) for view in ("lax", "sax"))
        one = tmp / patient
        # generate_cmrxrecon names its patients P001, ...: generate one at a time and rename it
        generate_cmrxrecon(
            one, 1, lax_shape=lax or (8, 8), sax_shape=sax, n_sax_slices=1, seed=i, progress=False
        )
        target = raw / DATA_DIR / patient
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(one / DATA_DIR / "P001", target)
        if lax is None:  # as in the real data, e.g. P003 has no long-axis cine
            (target / "cine_lax.mat").unlink()
    out = tmp / "extract"
    extract(
        raw, out, Selection(lax_slices=1, sax_slices=1, img_size=(32, 32)), progress=False, crop=True
    )  # real shapes
    return out


def test_import_published_masks(published, extraction, tmp_path):
    """``write_mask_folder(import_dir=...)`` reads the real v5 files, checks them against the data and copies them
    unchanged into the project's v7.3 layout."""
    index_csv = extraction / "index.csv"
    files = pd.read_csv(index_csv, dtype={"patient": str}).drop_duplicates(["patient", "view"])
    pairs = sorted(zip(files["patient"], files["view"]))
    assert pairs == [("P001", "lax"), ("P001", "sax"), ("P003", "sax")]
    for acc in ACCELERATIONS:
        out = write_mask_folder(index_csv, tmp_path / "masks", acc, import_dir=published, progress=False)
        assert out == tmp_path / "masks" / mask_folder_name(acc)
        assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mat")) == [
            f"{p}/cine_{v}_mask.mat" for p, v in pairs
        ]
        for row in files.itertuples():
            source = mask_path(published, acc, row.patient, row.view)
            assert source.read_bytes()[:10] == b"MATLAB 5.0", "the published masks are MATLAB v5 files"
            original = scipy.io.loadmat(source)["mask"]
            assert original.shape == (row.kx, row.ky, row.frames), (
                "the extraction has the patient's real shape"
            )
            written = out / row.patient / f"cine_{row.view}_mask.mat"
            with h5py.File(written, "r") as f:  # our v7.3 file, read without ddei
                imported = f["mask"][()].T
            assert imported.dtype == original.dtype == np.uint8
            assert imported.shape == original.shape
            assert imported.tobytes() == original.tobytes()
            assert np.array_equal(read_mask(written, shape=(row.kx, row.ky), frames=row.frames), original)


def test_import_rejects_masks_that_do_not_fit(published, extraction, tmp_path):
    index = pd.read_csv(extraction / "index.csv", dtype={"patient": str})
    wrong_shape = index.copy()
    wrong_shape.loc[(wrong_shape.patient == "P001") & (wrong_shape.view == "sax"), "ky"] += 2
    no_file = pd.concat([index, index[index.patient == "P003"].assign(view="lax")])  # P003 has no lax mask
    for table, message in ((wrong_shape, "does not match the data's"), (no_file, "P003")):
        table.to_csv(tmp_path / "index.csv", index=False)
        with pytest.raises(MatFileError, match=message):
            write_mask_folder(
                tmp_path / "index.csv", tmp_path / "masks", 8, import_dir=published, progress=False
            )
        assert not (tmp_path / "masks" / mask_folder_name(8)).exists(), "a failed import leaves nothing"


def _lines(mask: np.ndarray) -> np.ndarray:
    """Sampled ky lines ``(ky, T)`` of a mask, after checking that every line is a full kx column."""
    lines = mask.any(axis=0)
    assert (mask.all(axis=0) == lines).all(), "lines must be full kx columns"
    return lines


def _centre_block(lines: list[np.ndarray]) -> range:
    """The run of ky lines around ``ky // 2`` sampled in every frame of every one of ``lines``."""
    always = np.logical_and.reduce([ln.all(axis=1) for ln in lines])
    c = len(always) // 2
    lo, hi = c, c
    if not always[c]:
        return range(c, c)
    while lo > 0 and always[lo - 1]:
        lo -= 1
    while hi + 1 < len(always) and always[hi + 1]:
        hi += 1
    return range(lo, hi + 1)


def _statistics(masks: list[np.ndarray], acc: int) -> dict:
    """Statistics of masks of one shape: checks the per-frame properties and returns the shape-level ones."""
    lines = [_lines(m) for m in masks]
    ky = masks[0].shape[1]
    block = _centre_block(lines)
    distances = []
    for ln in lines:
        assert (ln.sum(axis=0) == ky // acc).all(), "every frame samples floor(ky / R) lines"
        assert (ln[:, 1:] != ln[:, :-1]).any(axis=0).all(), "the lines change from every frame to the next"
        outside = ln.copy()
        outside[block.start : block.stop] = False
        distances.append(np.abs(np.nonzero(outside)[0] - ky // 2) / ky)
    distances = np.concatenate(distances)
    return {
        "fractions": {float(m.mean()) for m in masks},
        "block": block,
        "distance": distances.mean(),
        "distance_se": distances.std() / np.sqrt(len(distances)),
    }


def test_generated_masks_match_published_statistics(published_masks, tmp_path):
    """Our generator (``write_mask_folder`` without ``import_dir``), at the real shapes, against the published masks.

    Tolerances: the ones fraction, the lines per frame and the centre block are functions of ``(ky, R)`` alone in
    deepinv's generator, which both use, so they must agree exactly shape by shape. Only the positions of the other
    lines are random: the mean distance of those lines from the centre (a measure of the Gaussian's width, in units
    of ``ky``) must agree within 5 standard errors of our estimate (over 1,128 lines at 16x to 4,608 at 4x; drawn
    without replacement within a frame, so the naive standard error is conservative): a false alarm has odds below
    1e-6, while uniformly random lines (~0.27 from the centre against 0.11 to 0.18 here) or a Gaussian 1.5 times
    wider fail.
    """
    shapes_by_file = {key: m.shape for key, m in published_masks[4].items()}
    for acc in ACCELERATIONS:
        assert {key: m.shape for key, m in published_masks[acc].items()} == shapes_by_file, (
            "same files and shapes"
        )
    # two files per distinct (kx, ky, T), our masks for the same (patient, view)
    by_shape = defaultdict(list)
    for key, shape in shapes_by_file.items():
        by_shape[shape].append(key)
    assert len(by_shape) >= 5 and len(shapes_by_file) == 222
    chosen = {shape: keys[:2] for shape, keys in by_shape.items()}
    index = pd.DataFrame(
        [
            {"patient": p, "view": v, "kx": shape[0], "ky": shape[1], "frames": shape[2]}
            for shape, keys in chosen.items()
            for p, v in keys
        ]
    )
    index.to_csv(tmp_path / "index.csv", index=False)
    counts = Counter(shapes_by_file.values())
    weights = {shape: n / len(shapes_by_file) for shape, n in counts.items()}  # share of the files
    total_size = sum(n * np.prod(shape) for shape, n in counts.items())

    for acc in ACCELERATIONS:
        folder = write_mask_folder(tmp_path / "index.csv", tmp_path / "masks", acc, seed=0, progress=False)
        pooled = sum(m.sum() for m in published_masks[acc].values()) / sum(
            m.size for m in published_masks[acc].values()
        )
        assert pooled == pytest.approx(README_FRACTIONS[acc], abs=5e-4)
        ours_pooled, distance, variance, reference = 0.0, 0.0, 0.0, 0.0
        for shape, keys in chosen.items():
            theirs = _statistics([published_masks[acc][key] for key in by_shape[shape]], acc)
            mine = _statistics(
                [read_mask(folder / p / f"cine_{v}_mask.mat", shape[:2], shape[2]) for p, v in keys], acc
            )
            ky = shape[1]
            assert theirs["fractions"] == mine["fractions"] == {(ky // acc) / ky}, (acc, shape)
            assert mine["block"] == theirs["block"], (acc, shape)
            assert len(mine["block"]) == int(0.32 / acc * ky) and ky // 2 in mine["block"], (acc, shape)
            ours_pooled += counts[shape] * np.prod(shape) / total_size * (ky // acc) / ky  # weighted by size
            distance += weights[shape] * mine["distance"]
            variance += (weights[shape] * mine["distance_se"]) ** 2
            reference += weights[shape] * theirs["distance"]
        assert ours_pooled == pytest.approx(pooled, abs=1e-12)
        assert abs(distance - reference) < 5 * np.sqrt(variance), (
            acc,
            distance,
            reference,
            np.sqrt(variance),
        )
