"""Checksums of what the report is built from: the training logs and the metrics tables.

The figures and tables are drawn from CSV files. Each is recorded when it is written (its size and SHA-256,
:func:`ddei.io.files.file_record`) and checked by the rules that read it (:func:`ddei.io.files.check_file`), so that
a table edited or damaged on disk stops the report with the file's name and the command that rebuilds it, rather
than becoming a number of the paper:

- **the training logs** ``loss.csv`` and ``val.csv``, in the ``model.pt`` of their run (key :data:`LOGS`), under the
  model's own checksum (:mod:`ddei.runs.weights`). The report rules have no torch: :func:`saved_values` reads a
  saved state's plain values without it, and without running anything of the file;
- **every metrics CSV** (an evaluation's, and ``all.csv``), in a record beside it, ``<file>.sha256``
  (:func:`record_path`), written with it.

This module imports only the standard library and :mod:`ddei.io`.
"""

from __future__ import annotations

import json
import os
import pickle
import shlex
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from ddei.io.files import CorruptFileError, atomic_write, check_file, file_record

#: The key of a ``model.pt`` that records its run's logs: ``{"loss": record, "val": record}``.
LOGS = "logs"


def rebuild(path: str | os.PathLike) -> str:
    """The command that rebuilds a workflow output (and reruns what uses it)."""
    return f"snakemake --forcerun {shlex.quote(str(path))}"


def log_records(logs: Mapping[str, str | os.PathLike | None]) -> dict[str, dict]:
    """The records of a run's logs as written, for its ``model.pt``.

    :param logs: ``{"loss": path, "val": path or None}`` (``None``: no such log).
    :return: ``{name: {"bytes", "sha256"}}`` of every log there is.
    """
    return {name: file_record(path) for name, path in logs.items() if path is not None}


class _Dict(dict):
    """A saved ``OrderedDict`` (its attributes, such as a state dict's ``_metadata``, are kept)."""


class _Opaque:
    """Whatever a file names besides plain values (a tensor, a storage, any class or function): calling it, or
    setting its state, gives another one and runs nothing."""

    def __call__(self, *args, **kwargs) -> _Opaque:
        return self

    def __setstate__(self, state) -> None:
        pass


_OPAQUE = _Opaque()


class _PlainValues(pickle.Unpickler):
    """Unpickles a torch file's plain values; every other object is :data:`_OPAQUE`, nothing the file names is
    imported or called."""

    def find_class(self, module: str, name: str):
        return _Dict if (module, name) == ("collections", "OrderedDict") else _OPAQUE

    def persistent_load(self, pid) -> _Opaque:
        return _OPAQUE


def _plain(value: object) -> object:
    """``value`` with dicts as dicts and every opaque object as ``None``."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return None if isinstance(value, _Opaque) else value


def saved_values(path: str | os.PathLike) -> dict:
    """The plain values of a state saved with :func:`ddei.runs.weights.save_state`, read without torch: its strings,
    numbers, lists and dicts; tensors read as ``None``.

    :raises CorruptFileError: the file is not a torch file of a dict.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
            with archive.open(name) as f:
                state = _plain(_PlainValues(f).load())
    except (OSError, zipfile.BadZipFile, StopIteration, pickle.UnpicklingError, EOFError, ValueError, TypeError,
            AttributeError, IndexError, KeyError) as e:  # fmt: skip
        raise CorruptFileError(
            f"{path} is truncated or is not a torch file ({type(e).__name__}: {e}); rebuild it with `{rebuild(path)}`"
        ) from None
    if not isinstance(state, dict):
        raise CorruptFileError(f"{path} does not hold a saved state; rebuild it with `{rebuild(path)}`")
    return state


def check_logs(models: Iterable[str | os.PathLike], logs: Iterable[str | os.PathLike], name: str) -> None:
    """Check every run's log ``name`` against the record of its ``model.pt``.

    :param models: the runs' ``model.pt`` files.
    :param logs: their logs, in the same order.
    :param str name: which log (``loss`` or ``val``).
    :raises CorruptFileError: a log differs from its record, or its model records none (written by an older version);
        naming the file and the command that rebuilds it.
    """
    for model, log in zip(models, logs, strict=True):
        record = saved_values(model).get(LOGS, {}).get(name)
        if record is None:
            raise CorruptFileError(
                f"{model} records no checksum of {log} (written by an older version of the pipeline), so the log "
                f"cannot be checked; rebuild it with `{rebuild(log)}`"
            )
        check_file(log, record, rebuild(log))


def record_path(path: str | os.PathLike) -> Path:
    """The record of a file, beside it: ``<file>.sha256``."""
    path = Path(path)
    return path.with_name(f"{path.name}.sha256")


def write_record(path: str | os.PathLike) -> Path:
    """Record a file as written (:func:`ddei.io.files.file_record`) in :func:`record_path`.

    :return: the record's path.
    """
    record = {"file": Path(path).name, **file_record(path)}
    return atomic_write(record_path(path), lambda tmp: tmp.write_text(json.dumps(record) + "\n"))


def check_records(paths: Iterable[str | os.PathLike]) -> None:
    """Check files against the records written with them (:func:`write_record`).

    :param paths: the files.
    :raises CorruptFileError: a file or its record is missing, or the file differs from it; naming the file and the
        command that rebuilds it.
    """
    for path in paths:
        try:
            record = json.loads(record_path(path).read_text())
        except (OSError, ValueError):
            raise CorruptFileError(
                f"{path} has no record of its checksum ({record_path(path).name} beside it is missing or unreadable: "
                f"written by an older version of the pipeline, or removed); rebuild it with `{rebuild(path)}`"
            ) from None
        check_file(path, record, rebuild(path))
