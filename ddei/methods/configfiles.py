"""The workflow's config files read as Snakemake reads them, for the drivers and tests that run the workflow (not
imported by the workflow's rules, whose environments need no YAML reader)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from ddei.methods.config import merge_config


def read_config(root: str | Path, files: Sequence[str | Path]) -> dict:
    """The workflow's config as ``snakemake --configfile FILES...`` reads it: ``config/config.yaml`` under ``root``,
    then each file of ``files`` (relative to ``root``) over it, in order (:func:`ddei.methods.config.merge_config`).
    No schema defaults are filled in: the workflow's validation does that.

    :param root: the repository's root.
    :param files: the config files over ``config/config.yaml``, in the order they are merged.
    """
    root = Path(root)
    config = yaml.safe_load((root / "config" / "config.yaml").read_text())
    for file in files:
        config = merge_config(config, yaml.safe_load((root / file).read_text()))
    return config
