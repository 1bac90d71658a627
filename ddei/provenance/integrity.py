"""What the workflow checks before it plans: that a results folder is this checkout's, and that the intermediates
it would reuse are whole.

- **The results stamp.** Snakemake records what made each output (its params, code and inputs) in the working
  directory's ``.snakemake/``, not beside the outputs. A second checkout whose ``results:`` points at another
  checkout's folder has no such records, so it takes the other checkout's models and tables as its own, whatever
  their configuration. ``<results>/.stamp.json`` records the checkout (the working directory) that made the folder,
  with its configuration's and its code's fingerprints; :func:`check_stamp` refuses another checkout's folder unless
  the configuration says ``allow_shared_results: true``. A results folder inside the working directory (moved or
  copied with its ``.snakemake/``) stays its own.
- **Damaged intermediates.** The extraction's slices and the mask files are ``directory()`` outputs, so Snakemake
  does not see a file in them truncated or overwritten. :func:`damaged_intermediates` checks the tables' required
  columns (``index.csv``, ``split.csv``, each ``manifest.csv``: their headers) and compares each file's size with
  the record written with it (a stat per file); the jobs that read the files also check their content
  (:class:`ddei.data.dataset.CineSliceDataset`). The workflow runs it when it parses the Snakefile, where its error
  stops ``snakemake`` and ``snakemake -n`` whatever they would plan: raised from an input function while the DAG is
  built, Snakemake takes it for "no job makes this file" and adopts the damaged files.
- **A missing data folder.** :func:`missing_data_root`: ``data.root`` must be a folder holding ``SingleCoil/Cine``,
  checked when the Snakefile is parsed as well.

This module imports only the standard library and :mod:`ddei.io`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ddei.io.files import MANIFEST, CorruptFileError, atomic_write, require_columns
from ddei.io.layout import (
    CINE,
    EXTRACT_RULE,
    INDEX,
    INDEX_COLUMNS,
    MANIFEST_COLUMNS,
    MASKS_RULE,
    REBUILD_EXTRACT,
    REBUILD_MASKS,
    SPLIT,
    SPLIT_COLUMNS,
)

#: The stamp of a results folder.
STAMP = ".stamp.json"
#: The configuration key that lets a checkout use another checkout's results folder.
SHARED_KEY = "allow_shared_results"


class ForeignResultsError(RuntimeError):
    """The results folder was made by another checkout; the message says what would go wrong and how to proceed."""


def config_fingerprint(config: Mapping) -> str:
    """Hash of a (validated) configuration, without :data:`SHARED_KEY` (16 hex digits)."""
    blob = json.dumps({k: v for k, v in config.items() if k != SHARED_KEY}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def make_stamp(config: Mapping, code: str, workdir: str | os.PathLike) -> dict:
    """The stamp of a run: its checkout (working directory), its git commit, configuration and code fingerprints."""
    return {"checkout": str(Path(workdir).resolve()), "commit": git_commit(workdir), "config": config_fingerprint(config),
            "code": code}  # fmt: skip


def git_commit(folder: str | os.PathLike) -> str:
    """The short commit of the git checkout holding ``folder``, with ``+changes`` if its tracked files differ from it
    (``unknown`` outside git)."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, timeout=30
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (commit + ("+changes" if dirty else "")) if commit else "unknown"


def report_status(results: str | os.PathLike, stamp: dict, pending: int | None) -> dict:
    """What the report says of the results it shows: the stamp of the run that made them, this checkout's, and the
    jobs still to run for the current configuration.

    :param dict stamp: this checkout's stamp (:func:`make_stamp`).
    :param int pending: jobs a dry run plans (``None``: unknown).
    :return: ``{"made_by": stamp or None, "current": stamp, "pending": n, "warning": text or ""}``.
    """
    made = read_stamp(results)
    warning = ""
    if pending:
        warning = (
            f"These results are not up to date: the workflow still has {pending} job(s) to run for the current "
            "configuration and code (`snakemake -n` lists them); the report shows the results as they are."
        )
    elif made is not None and (made.get("config"), made.get("code")) != (stamp["config"], stamp["code"]):
        warning = "These results were made with another configuration or code than this checkout's."
    return {"made_by": made, "current": stamp, "pending": pending, "warning": warning}


def read_stamp(results: str | os.PathLike) -> dict | None:
    """The stamp of a results folder, or ``None`` (none yet, or unreadable)."""
    try:
        stamp = json.loads((Path(results) / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) and "checkout" in stamp else None


def write_stamp(results: str | os.PathLike, stamp: dict) -> None:
    """Write the stamp of a results folder (only if it changed)."""
    if read_stamp(results) != stamp:
        atomic_write(Path(results) / STAMP, lambda tmp: tmp.write_text(json.dumps(stamp, indent=1) + "\n"))


def check_stamp(results: str | os.PathLike, stamp: dict, allow_shared: bool = False) -> str | None:
    """Whether this run (``stamp``, of :func:`make_stamp`) may use the results folder ``results`` as its own.

    :return: ``None``, or a note to print when another checkout's folder is shared on purpose.
    :raises ForeignResultsError: another checkout made the folder and sharing was not asked for.
    """
    theirs = read_stamp(results)
    if theirs is None or theirs["checkout"] == stamp["checkout"]:
        return None
    folder = Path(results).resolve()
    if folder.is_relative_to(stamp["checkout"]):  # moved or copied with its checkout (and its .snakemake/)
        return None
    same_config = theirs.get("config") == stamp["config"]
    same_code = theirs.get("code") == stamp["code"]
    differs = [what for what, same in (("configuration", same_config), ("code", same_code)) if not same]
    what = f"with another {' and '.join(differs)}" if differs else "with the same configuration and code"
    if allow_shared:
        return f"{folder} was made by the checkout {theirs['checkout']} ({what}); shared as {SHARED_KEY} says"
    raise ForeignResultsError(
        f"results: {folder} was made by another checkout, {theirs['checkout']}, {what} than this one "
        f"({stamp['checkout']}). Snakemake's records of what made those outputs are in that checkout's .snakemake/, "
        "so this run would take its models and tables as its own without rerunning anything. Point `results:` "
        f"at a folder of this checkout, or run from {theirs['checkout']}; if sharing the folder is intended, set "
        f"`{SHARED_KEY}: true`"
    )


def package_code() -> str:
    """A hash of the source of every ``ddei`` module (16 hex digits), for the stamp: which code made the folder."""
    package = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        h.update(f"{path.relative_to(package).as_posix()}\n".encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def missing_data_root(root: str | os.PathLike | None) -> str | None:
    """What is wrong with the CMRxRecon folder ``data.root`` names (a message), or ``None``: it must be a folder
    holding ``SingleCoil/Cine``. Checked when the workflow plans, so that ``snakemake -n`` refuses a missing root
    rather than the extract job failing on it.

    :param root: the folder (``data.root``).
    """
    if not root:
        return None
    folder = Path(root).expanduser()
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        return (
            f"data.root: {folder} {what}; point data.root at the CMRxRecon folder (the one holding "
            f"{CINE.split('/')[0]}/), or set data.source: synthetic"
        )
    if not (folder / CINE).is_dir():
        return (
            f"data.root: {folder} holds no {CINE}/ folder; point data.root at the CMRxRecon folder (the one holding "
            f"{CINE.split('/')[0]}/)"
        )
    return None


@dataclass(frozen=True)
class Damage:
    """A damaged intermediate: what is wrong (naming the file and the command that rebuilds it), its folder, and the
    rules whose forced rerun (``-R``) rebuilds it.

    :param str message: the error.
    :param Path folder: the output folder that holds the damaged file (a ``--forcerun`` of a path under it rebuilds
        it).
    :param tuple rules: the rules whose ``-R`` rebuilds it.
    """

    message: str
    folder: Path
    rules: tuple[str, ...]


def damaged_intermediates(
    extract_dir: str | os.PathLike, mask_folders, acquired: bool = False
) -> list[Damage]:
    """Every damaged intermediate of a results folder, found from the tables' headers and the files' sizes.

    :param extract_dir: the extraction's folder (``index.csv``, ``split.csv``, ``slices/``).
    :param mask_folders: the mask folders the workflow would read.
    :param bool acquired: the masks are acquired scans' own, which the extraction writes (else the masks rule).
    :return: one :class:`Damage` per damaged folder (empty if all are whole, or not made yet).
    """
    extract_dir = Path(extract_dir)
    out = []
    message = damaged_extract(extract_dir)
    if message:
        out.append(Damage(message, extract_dir, (EXTRACT_RULE,)))
    rules, rebuild = (
        ((EXTRACT_RULE,), REBUILD_EXTRACT) if acquired else ((MASKS_RULE, EXTRACT_RULE), REBUILD_MASKS)
    )
    for folder in mask_folders:
        message = damaged_masks(folder, rebuild)
        if message:
            out.append(Damage(message, Path(folder), rules))
    return out


def damaged_extract(extract_dir: str | os.PathLike, rebuild: str = REBUILD_EXTRACT) -> str | None:
    """The first damage of an extraction (a message): a table without one of its columns, or a slice file whose
    size differs from ``index.csv``'s record; ``None`` if whole or not made yet."""
    index = Path(extract_dir) / INDEX
    if not index.is_file():
        return None
    try:
        require_columns(index, INDEX_COLUMNS, rebuild)
        split = Path(extract_dir) / SPLIT
        if split.exists():
            require_columns(split, SPLIT_COLUMNS, rebuild)
        with open(index, newline="") as f:
            rows = list(csv.DictReader(f))
        records = [(row["file"], int(row["bytes"])) for row in rows]
    except CorruptFileError as e:
        return str(e)
    except (OSError, ValueError) as e:
        return f"{index} cannot be read ({e}); rebuild it with `{rebuild}`"
    return _first_damage(Path(extract_dir), records, index, rebuild)


def damaged_masks(mask_folder: str | os.PathLike, rebuild: str = REBUILD_MASKS) -> str | None:
    """The first damage of a mask folder (a message): a manifest without one of its columns, or a file whose size
    differs from it; ``None`` if whole, or not made yet."""
    manifest = Path(mask_folder) / MANIFEST
    if (
        not manifest.is_file()
    ):  # no folder yet (or one of an older version, which the jobs that read it refuse)
        return None
    try:
        require_columns(manifest, MANIFEST_COLUMNS, rebuild)
        with open(manifest, newline="") as f:
            records = [(row["file"], int(row["bytes"])) for row in csv.DictReader(f)]
    except CorruptFileError as e:
        return str(e)
    except (OSError, ValueError) as e:
        return f"{manifest} cannot be read ({e}); rebuild it with `{rebuild}`"
    return _first_damage(Path(mask_folder), records, manifest, rebuild)


def _first_damage(folder: Path, records, source: Path, rebuild: str) -> str | None:
    for name, size in records:
        path = folder / name
        try:
            actual = path.stat().st_size
        except OSError:
            return f"{path} is missing (listed in {source}); rebuild it with `{rebuild}`"
        if actual != size:
            return (
                f"{path} has {actual} bytes, {source} records {size} (truncated or overwritten); rebuild it with "
                f"`{rebuild}`"
            )
    return None
