"""What a workflow run cost, from its ``benchmark:`` files: per rule, the number of jobs, their summed wall time
and summed CPU time (Snakemake's ``s`` and ``cpu_time`` columns), and the totals.

Snakemake samples a job's CPU time every 0.5 s for 15 s, then every 30 s, and keeps the last sample, so
``cpu_time`` undercounts longer jobs; for one-thread jobs the summed wall time is the CPU time they held.

The default configuration was chosen by the total CPU time of these files (``docs/results/default_budget.md``). Give several results folders to compare
runs side by side (the ratio is to the first one):

    python benchmarks/run_cost.py results [/other/checkout/results ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
from converge import machine  # noqa: E402


def run_cost(results: Path) -> pd.DataFrame:
    """One row per rule (``jobs``, ``wall_s``, ``cpu_s``) summed over the run's benchmark files, and a total row.

    :param results: the run's results folder (the one holding ``benchmarks/``).
    """
    rows = []
    for tsv in sorted((Path(results) / "benchmarks").rglob("*.tsv")):
        rule = tsv.parent.name if tsv.parent.name != "benchmarks" else tsv.stem
        bench = pd.read_csv(tsv, sep="\t")
        rows.append({"rule": rule, "jobs": 1, "wall_s": bench["s"].sum(), "cpu_s": bench["cpu_time"].sum()})
    if not rows:
        raise SystemExit(f"no benchmark files under {Path(results) / 'benchmarks'}: run the workflow first")
    per_rule = pd.DataFrame(rows).groupby("rule", as_index=False).sum()
    total = pd.DataFrame([{"rule": "total", **per_rule[["jobs", "wall_s", "cpu_s"]].sum().to_dict()}])
    return pd.concat([per_rule, total], ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="results folders (the first is the reference)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    reference = None
    for results in args.results:
        cost = run_cost(results)
        print(f"\n{results}")
        print(cost.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
        total = cost.iloc[-1]
        if reference is None:
            reference = total
        else:  # wall_s first: Snakemake's cpu_time misses what a job does after its last sample (every 30 s)
            print(
                f"of {args.results[0]}'s: summed wall {total.wall_s / reference.wall_s:.2f}, "
                f"Snakemake cpu_time {total.cpu_s / reference.cpu_s:.2f}"
            )


if __name__ == "__main__":
    main()
