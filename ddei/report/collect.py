"""One table of every run's metrics (rule collect_metrics), from one software environment only."""

from __future__ import annotations

import pandas as pd


def read_metrics(path) -> pd.DataFrame:
    """A metrics file (:data:`ddei.runs.evaluation.COLUMNS`), with identifiers read as strings."""
    return pd.read_csv(path, dtype={"patient": str, "view": str, "method": str})


class MixedVersionsError(ValueError):
    """Metrics files computed with different package versions."""


def collect_metrics(paths) -> pd.DataFrame:
    """Concatenate per-run metrics files into one table, refusing to mix package versions.

    :param paths: metrics files of :func:`ddei.runs.evaluation.evaluate` (each records its ``versions``).
    :raises MixedVersionsError: the files were computed with different package versions; the message names them.
    """
    frames = {str(p): read_metrics(p) for p in paths}
    by_versions: dict[str, list[str]] = {}
    for path, df in frames.items():
        for v in df["versions"].dropna().unique() if "versions" in df else ["(not recorded)"]:
            by_versions.setdefault(v, []).append(path)
    if len(by_versions) > 1:
        listing = "\n".join(f"  {v}: {', '.join(files)}" for v, files in by_versions.items())
        raise MixedVersionsError(
            "metrics computed with different package versions would be mixed:\n"
            f"{listing}\nrerun the older ones (snakemake --forcerun evaluate, or with the software-env rerun "
            "trigger of the profiles) so that every result comes from one environment"
        )
    return pd.concat(frames.values(), ignore_index=True)
