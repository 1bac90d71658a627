"""Files that are written whole or not at all, and that can be checked later.

- :func:`atomic_write`: the one way this project writes a file: to a temporary sibling, then renamed in place, so
  an interrupted or failed write leaves the previous file (or none), never a partial one.
- :func:`disk_space`: a write that fails because the disk (or the quota) is full says so, with the path. numpy
  reports a full disk as ``"49152 requested and 16352 written"`` without an ``errno``; h5py as ``errno = 28``.
- :func:`file_record`, :func:`check_file`: the size and content hash of a file, recorded when it is written and
  checked by its consumers, with a message that names the file and the command that rebuilds it.
- :func:`write_manifest`, :func:`read_manifest`: those records for every file of a folder, in ``manifest.csv``.
- :func:`require_columns`: a table's required columns, checked when it is opened, a missing one named with its file.
- :func:`exclusive`: one writer at a time: an exclusive lock held for a block, refused with the holder's PID.
- :func:`warn`: a message for the job's log and the console both.

This module imports nothing but the standard library and :mod:`ddei.io.layout`.
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

from ddei.io.layout import MANIFEST_COLUMNS

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


#: Below this many free bytes at a write's target, a failed write is taken for a full disk, whatever raised it.
FULL_BELOW = 1 << 20


@contextmanager
def disk_space(path: str | os.PathLike) -> Iterator[None]:
    """Turn a failed write into a :class:`DiskFullError` that says "disk full" and names ``path``, when the disk is
    full: an error that says so (``ENOSPC``, a quota, numpy's short write, h5py's ``errno = 28``), or any error
    raised while the disk at ``path`` has less than :data:`FULL_BELOW` bytes free (``torch.save`` reports a full
    disk as ``RuntimeError: [enforce fail at inline_container.cc] . unexpected pos``)."""
    try:
        yield
    except Exception as e:
        if isinstance(e, DiskFullError) or not (is_disk_full(e) or _free(Path(path)) < FULL_BELOW):
            raise
        path = Path(path)
        raise DiskFullError(
            errno.ENOSPC,
            f"Disk full: no space left to write {path} ({type(e).__name__}: {e}; {_free_bytes(path)} free there). "
            "Nothing was written: free some space (or raise the quota) and rerun",
        ) from e


def _free(path: Path) -> float:
    """Free bytes on the disk that holds ``path`` (its nearest existing folder); ``inf`` if unknown."""
    for folder in (path, *path.parents):
        if folder.exists():
            try:
                return shutil.disk_usage(folder).free
            except OSError:
                break
    return float("inf")


def _free_bytes(path: Path) -> str:
    free = _free(path)
    return "unknown space" if free == float("inf") else f"{free / 2**20:.1f} MiB"


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

    :raises CorruptFileError: the folder has no manifest, or it lacks a column of
        :data:`ddei.io.layout.MANIFEST_COLUMNS`.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise CorruptFileError(f"{path} is missing, so the files of {folder} cannot be checked; rebuild them with "
                               f"`{remedy}`")  # fmt: skip
    require_columns(path, MANIFEST_COLUMNS, remedy)
    with open(path, newline="") as f:
        return {
            row["file"]: {"bytes": int(row["bytes"]), "sha256": row["sha256"]} for row in csv.DictReader(f)
        }


def require_columns(path: str | os.PathLike, columns, remedy: str) -> list[str]:
    """Check that the CSV table ``path`` has every one of ``columns`` (its header only is read).

    :param columns: the required column names.
    :param str remedy: the command that rebuilds the table, named by the message.
    :return: the table's columns.
    :raises CorruptFileError: naming the file, the missing columns and ``remedy``.
    """
    try:
        with open(path, newline="") as f:
            header = next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise CorruptFileError(f"{path} cannot be read ({e}); rebuild it with `{remedy}`") from None
    missing = [c for c in columns if c not in header]
    if missing:
        raise CorruptFileError(
            f"{path} has no {', '.join(repr(c) for c in missing)} column{'s' if len(missing) > 1 else ''} (damaged, "
            f"or written by an older version); rebuild it with `{remedy}`"
        )
    return header


def warn(message: str) -> None:
    """Print ``message`` to the output (a workflow job's log) and to the console, if that is elsewhere."""
    print(message, flush=True)
    console = sys.__stderr__
    if console is not None and console is not sys.stdout and console is not sys.stderr:
        print(message, file=console, flush=True)


class LockedError(RuntimeError):
    """Another process holds the lock; the message names its PID and how to stop it."""


#: The locks this process holds (their resolved paths), and how many blocks hold each.
_HELD: dict[Path, int] = {}


@contextmanager
def exclusive(lock: str | os.PathLike, what: str) -> Iterator[Path]:
    """Hold an exclusive lock on the file ``lock`` for the block (``fcntl.flock``; released when the process dies,
    however it dies). The file holds the holder's PID. A block inside another one of the same process on the same
    lock holds it already (a job that takes its run's lock before it opens its log, and then trains).

    :param lock: the lock file (created, and kept: removing it would let two processes lock two files).
    :param str what: what the lock guards, for the message.
    :raises LockedError: another process holds it, naming its PID.
    """
    import fcntl

    lock = Path(lock)
    lock.parent.mkdir(parents=True, exist_ok=True)
    key = lock.resolve()
    if _HELD.get(key):
        _HELD[key] += 1
        try:
            yield lock
        finally:
            _HELD[key] -= 1
        return
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise LockedError(
                f"{what} is being written by another process (PID {holder}), which holds {lock}. Two writers would "
                f"share one checkpoint: wait for it to end, or stop it (`kill {holder}`) and rerun"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _HELD[key] = 1
        try:
            yield lock
        finally:
            _HELD.pop(key, None)
    finally:
        os.close(fd)  # releases the lock


def die_with_parent() -> bool:
    """Have the kernel end this process when its parent dies (Linux ``prctl(PR_SET_PDEATHSIG, SIGTERM)``), so that
    a job whose ``snakemake`` was killed does not run on and write beside the next one.

    :return: whether it was set (``False`` where the OS has no such call).
    """
    import ctypes
    import signal

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, int(signal.SIGTERM), 0, 0, 0) != 0:  # 1: PR_SET_PDEATHSIG
            return False
    except (OSError, AttributeError):
        return False
    return True
