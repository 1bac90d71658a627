"""All-or-nothing output folders."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ddei.io.files import disk_space


@contextmanager
def atomic_folder(out: str | os.PathLike) -> Iterator[Path]:
    """Build a folder in a temporary sibling and move it to ``out`` only if the block succeeds.

    On any error (or interruption) the temporary folder is removed and an existing ``out`` is left untouched; a
    full disk raises :class:`ddei.io.files.DiskFullError` naming ``out``.

    :param out: the folder to (re)create.
    :return: the temporary folder to write into.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        with disk_space(out):
            yield tmp
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
