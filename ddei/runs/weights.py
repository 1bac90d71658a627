"""Saved torch states (checkpoints, trained models) that carry a checksum of their content.

:func:`save_state` writes a dict of tensors and plain values with :func:`torch.save`, atomically
(:func:`ddei.io.files.atomic_write`), with the key ``sha256``: a hash of every tensor's bytes, dtype and shape
and every other value of the dict. :func:`load_state` recomputes it, so that a file changed on disk after it was
written (a flipped bit, a partial overwrite) is detected even when it still unpickles. Neither touches a random
stream or a tensor: training is the same with and without them.

Weights that are not finite are refused at save (nothing is written) and at load.

Files are read with ``torch.load(weights_only=True)``: tensors, containers and plain values only. A file planted in
a results folder (or one adopted with ``allow_shared_results``) whose unpickling would run code is refused before
anything of it runs, and before its checksum is looked at.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import numpy as np
import torch

from ddei.io.files import CorruptFileError, atomic_write

CHECKSUM = "sha256"


class NonFiniteWeightsError(ValueError):
    """A saved or loaded state holds NaN or infinite weights; the message names the tensors."""


def _update(h, obj) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"tensor:{t.dtype}:{tuple(t.shape)}:".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, np.ndarray):
        h.update(f"ndarray:{obj.dtype}:{obj.shape}:".encode())
        h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, dict):
        h.update(f"dict:{len(obj)}:".encode())
        for key, value in obj.items():
            h.update(f"{key!r}=".encode())
            _update(h, value)
    elif isinstance(obj, (list, tuple)):
        h.update(f"{type(obj).__name__}:{len(obj)}:".encode())
        for value in obj:
            _update(h, value)
    else:
        h.update(f"{type(obj).__name__}:{obj!r};".encode())


def content_digest(state: dict) -> str:
    """SHA-256 of a state's content (every key but ``sha256``), in the order of its keys."""
    h = hashlib.sha256()
    _update(h, {k: v for k, v in state.items() if k != CHECKSUM})
    return h.hexdigest()


def nonfinite(state, prefix: str = "") -> list[str]:
    """The names (``key.subkey``) of the floating-point tensors and numbers of ``state`` that hold NaN or inf."""
    out = []
    if isinstance(state, torch.Tensor):
        if (state.is_floating_point() or state.is_complex()) and not bool(torch.isfinite(state).all()):
            out.append(prefix)
    elif isinstance(state, float):
        if not math.isfinite(state):
            out.append(prefix)
    elif isinstance(state, dict):
        for key, value in state.items():
            out += nonfinite(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(state, (list, tuple)):
        for i, value in enumerate(state):
            out += nonfinite(value, f"{prefix}[{i}]")
    return out


def _check_weights(state: dict, keys: tuple[str, ...], where: str) -> None:
    bad = [name for key in keys if key in state for name in nonfinite(state[key], key)]
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise NonFiniteWeightsError(f"{where}: weights that are NaN or infinite: {shown}")


def save_state(path: str | os.PathLike, state: dict, weights: tuple[str, ...]) -> Path:
    """Write ``state`` with its checksum, atomically.

    :param dict state: tensors and plain values.
    :param tuple weights: the keys of ``state`` whose floating-point tensors must be finite.
    :raises NonFiniteWeightsError: a weight is NaN or infinite (nothing is written).
    :raises ddei.io.files.DiskFullError: the disk is full (nothing is written).
    """
    _check_weights(state, weights, f"not writing {path}")
    state = {**state, CHECKSUM: content_digest(state)}
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def _load(path: Path, map_location, fix: str):
    """``torch.load(weights_only=True)``, its errors named: a file whose unpickling would run code, a truncated one."""
    import pickle

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        lines = [line.strip() for line in str(e).splitlines() if "Unsupported global" in line]
        raise UnsafeFileError(
            f"{path} holds objects other than tensors and plain values; it was not read, since unpickling it could "
            f"run code ({(lines or [str(e).splitlines()[0]])[0]}). Not written by this pipeline{fix}"
        ) from None
    except (RuntimeError, OSError, EOFError) as e:
        if not path.is_file():
            raise
        raise CorruptFileError(
            f"{path} is truncated or is not a torch file ({path.stat().st_size} bytes; {type(e).__name__}: "
            f"{str(e).splitlines()[0]}){fix}"
        ) from None


class UnsafeFileError(CorruptFileError):
    """A saved state that only a full unpickling could read (it could run code); it was not read."""


def load_state(
    path: str | os.PathLike, weights: tuple[str, ...], remedy: str | None = None, map_location=None
) -> dict:
    """Read a state of :func:`save_state` and verify its checksum and weights.

    :param tuple weights: the keys whose floating-point tensors must be finite.
    :param str remedy: the command that rebuilds the file, named by the messages (``None``: none).
    :raises ddei.io.files.CorruptFileError: truncated, no checksum, or the content does not match it.
    :raises UnsafeFileError: it holds objects that only a full unpickling, which could run code, would read.
    :raises NonFiniteWeightsError: a weight is NaN or infinite.
    """
    fix = f"; rebuild it with `{remedy}`" if remedy else ""
    state = _load(Path(path), map_location, fix)
    if not isinstance(state, dict) or CHECKSUM not in state:
        raise CorruptFileError(
            f"{path} carries no checksum (not written by this version of the pipeline){fix}"
        )
    if content_digest(state) != state[CHECKSUM]:
        raise CorruptFileError(
            f"{path}: its content does not match the checksum written with it (changed or corrupted on disk){fix}"
        )
    _check_weights(state, weights, f"{path}{fix.replace(';', ',')}")
    return state
