"""Speed targets, at paper scale. Benchmarks, not timed tests: run with `pytest -m benchmark`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.mark.benchmark
def test_extracted_sample_loads_20x_faster_than_rereading_the_mat():
    import bench_extract

    result = bench_extract.run(patients=2, repeats=5, sax_slices=10)
    assert result["ratio"] >= bench_extract.TARGET, result
