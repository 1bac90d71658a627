"""Files that are written whole or not at all, and that can be checked later.

- :func:`atomic_write`: the one way this project writes a file: to a temporary sibling, then renamed in place, so
  an interrupted or failed write leaves the previous file (or none), never a partial one.
- :func:`disk_space`: a write that fails because the disk (or the quota) is full says so, with the path. numpy
  reports a full disk as ``"49152 requested and 16352 written"`` without an ``errno``; h5py as ``errno = 28``.
- :func:`file_record`, :func:`check_file`: the size and content hash of a file, recorded when it is written and
  checked by its consumers, with a message that names the file and the command that rebuilds it.
- :func:`write_manifest`, :func:`read_manifest`: those records for every file of a folder, in ``manifest.csv``.
- :func:`warn`: a message for the job's log and the console both.

This module imports nothing but the standard library.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

#: The file of a folder that records the size and content hash of every other file in it.
MANIFEST = "manifest.csv"


class DiskFullError(OSError):
    """A write failed because the disk or the quota is full; the message names the file."""


class CorruptFileError(ValueError):
    """A file's size or content differs from the record written with it; the message names the file and the
    command that rebuilds it."""


_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")


def is_disk_full(error: BaseException) -> bool:
    """Whether an error of a write means that the disk (or the quota) is full."""
    if not isinstance(error, OSError):
        return False
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(error)
    return bool(_SHORT_WRITE.search(text)) or "No space left" in text or "errno = 28" in text


@contextmanager
def disk_space(path: str | os.PathLike) -> Iterator[None]:
    """Turn a write error of a full disk into a :class:`DiskFullError` that says so and names ``path``."""
    try:
        yield
    except OSError as e:
        if not is_disk_full(e) or isinstance(e, DiskFullError):
            raise
        path = Path(path)
        free = _free_bytes(path)
        raise DiskFullError(
            errno.ENOSPC,
            f"No space left on the disk to write {path} ({e}; {free} free there). Nothing was written: free some "
            "space (or raise the quota) and rerun",
        ) from e


def _free_bytes(path: Path) -> str:
    for folder in (path, *path.parents):
        if folder.exists():
            try:
                return f"{shutil.disk_usage(folder).free / 2**20:.1f} MiB"
            except OSError:
                break
    return "unknown space"


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Write ``path`` whole or not at all: ``write(tmp)`` writes a temporary sibling, which then replaces ``path``.

    On any error the temporary file is removed and an existing ``path`` is left untouched; a full disk raises
    :class:`DiskFullError` naming ``path``.

    :param path: the file to (re)write; its folder is created.
    :param write: called with the temporary path to write to.
    :return: ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with disk_space(path):
            write(tmp)
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def file_record(path: str | os.PathLike) -> dict:
    """``{"bytes": size, "sha256": hex digest}`` of a file's content."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return {"bytes": Path(path).stat().st_size, "sha256": h.hexdigest()}


def check_file(path: str | os.PathLike, record: dict, remedy: str, content: bool = True) -> None:
    """Check a file against its :func:`file_record`: its size always, its content hash if ``content``.

    :param record: ``{"bytes", "sha256"}`` as written with the file.
    :param str remedy: the command that rebuilds the file, e.g. ``snakemake -R extract``.
    :param bool content: also hash the content (reads the whole file).
    :raises CorruptFileError: the file is missing, or its size or content differs from the record.
    """
    path = Path(path)
    if not path.is_file():
        raise CorruptFileError(f"{path} is missing; rebuild it with `{remedy}`")
    size = path.stat().st_size
    if size != int(record["bytes"]):
        raise CorruptFileError(
            f"{path} has {size} bytes, but {record['bytes']} were written (truncated or overwritten); rebuild it "
            f"with `{remedy}`"
        )
    if content and file_record(path)["sha256"] != record["sha256"]:
        raise CorruptFileError(
            f"{path}: its content differs from the checksum written with it (changed or corrupted on disk); "
            f"rebuild it with `{remedy}`"
        )


def write_manifest(folder: str | os.PathLike) -> Path:
    """Record the size and content hash of every file below ``folder`` in ``folder/manifest.csv``."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["file", "bytes", "sha256"])
            writer.writeheader()
            writer.writerows({"file": p.relative_to(folder).as_posix(), **file_record(p)} for p in files)

    return atomic_write(folder / MANIFEST, write)


def read_manifest(folder: str | os.PathLike, remedy: str) -> dict[str, dict]:
    """The records of :func:`write_manifest`: ``{relative path: {"bytes", "sha256"}}``.

    :raises CorruptFileError: the folder has no manifest.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise CorruptFileError(f"{path} is missing, so the files of {folder} cannot be checked; rebuild them with "
                               f"`{remedy}`")  # fmt: skip
    with open(path, newline="") as f:
        return {
            row["file"]: {"bytes": int(row["bytes"]), "sha256": row["sha256"]} for row in csv.DictReader(f)
        }


def warn(message: str) -> None:
    """Print ``message`` to the output (a workflow job's log) and to the console, if that is elsewhere."""
    print(message, flush=True)
    console = sys.__stderr__
    if console is not None and console is not sys.stdout and console is not sys.stderr:
        print(message, file=console, flush=True)
