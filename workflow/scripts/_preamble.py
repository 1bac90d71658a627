"""The first lines of every rule script: import ``ddei`` from this workflow's own source tree, and send the
script's output (progress bars included) to the rule's log file.

Each script in this folder starts with::

    import sys

    sys.path.insert(0, snakemake.scriptdir)
    from _preamble import setup

    setup(snakemake)

No environment installs the project (``envs/*.yaml`` hold registry packages only): the package is imported
from the workflow's root, ``<scriptdir>/../..``, put first on ``sys.path`` so that it wins over any other copy
(an editable install of another checkout, or the snakemake process's own path that Snakemake's script
preamble appends). This works whatever runs the job: the host Python, a conda env (``--use-conda``), a
container, a cluster node.
"""

from __future__ import annotations

import sys
from pathlib import Path


def repo_root(scriptdir: str) -> Path:
    """The workflow's root (the folder holding ``ddei/``) from the folder of the rule's script."""
    root = Path(scriptdir).resolve().parents[1]
    if not (root / "ddei" / "__init__.py").is_file():
        raise RuntimeError(
            f"no ddei package in {root}, the root of the workflow of script folder {scriptdir}"
        )
    return root


def setup(snakemake, log: bool = True) -> Path:
    """Put the workflow's root first on ``sys.path`` and, if ``log``, redirect stdout and stderr to
    ``snakemake.log[0]`` and begin it with why the job runs (:func:`ddei.provenance.reasons.log_reasons`).

    :return: the workflow's root.
    """
    root = repo_root(snakemake.scriptdir)
    while str(root) in sys.path:
        sys.path.remove(str(root))
    sys.path.insert(0, str(root))
    loaded = sys.modules.get("ddei")
    if loaded is not None and Path(loaded.__file__).resolve().parents[1] != root:
        raise RuntimeError(f"ddei was imported from {loaded.__file__} before the workflow's own ({root})")
    if log:
        start_log(snakemake)
    return root


def start_log(snakemake) -> None:
    """Redirect stdout and stderr to ``snakemake.log[0]`` and begin it with why the job runs
    (:func:`ddei.provenance.reasons.log_reasons`). A script that must not touch its log before it holds a lock
    (train.py) calls :func:`setup` with ``log=False`` and this once it holds it."""
    redirect(snakemake.log[0])
    from ddei.provenance.reasons import log_reasons

    log_reasons(snakemake)


def redirect(log_path):
    """Send stdout and stderr to ``log_path`` (line-buffered), for the rest of the script."""
    handle = open(log_path, "w", buffering=1)
    sys.stdout = sys.stderr = handle
    return handle
