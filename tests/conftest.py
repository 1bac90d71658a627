"""Shared fixtures: a tiny synthetic CMRxRecon dataset, extracted, with masks at 4x and 8x; the tiny workflow run to
the end in a clone of the repository."""

from __future__ import annotations

import ddei  # noqa: F401  (must be imported before deepinv)

# isort: split
from pathlib import Path

import pytest

from ddei.data.extract import Selection, extract
from ddei.data.synthetic import generate_cmrxrecon
from ddei.mri.masks import write_mask_folder

TINY_SHAPES = dict(lax_shape=(30, 24), sax_shape=(32, 28))


@pytest.fixture(scope="session")
def raw_root(tmp_path_factory) -> Path:
    """Five synthetic patients in the CMRxRecon layout (tiny images)."""
    root = tmp_path_factory.mktemp("cmrxrecon")
    generate_cmrxrecon(root, n_patients=5, n_sax_slices=2, seed=3, progress=False, **TINY_SHAPES)
    return root


@pytest.fixture(scope="session")
def extracted(raw_root, tmp_path_factory) -> Path:
    """The extraction of :func:`raw_root` at 32x32 (3 training, 1 validation, 1 test patient), with generated masks
    at 4x and 8x under ``<dir>/masks``."""
    out = tmp_path_factory.mktemp("extracted") / "extract"
    extract(raw_root, out, Selection(val_fraction=0.2, img_size=(32, 32)), progress=False)
    for acc in (4, 8):
        write_mask_folder(out / "index.csv", out.parent / "masks", acc, seed=0, progress=False)
    return out


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """The tiny workflow (``test_workflow.tiny_config``), run to the end in a clone of the repository (results under
    ``<clone>/results``). Tests that change its files work on a copy."""
    from test_workflow import clone_repo, snakemake, tiny_config

    clone = clone_repo(tmp_path_factory.mktemp("clone"))
    config = tiny_config("results")
    result = snakemake(clone, config, snakefile=clone / "Snakefile")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return clone, config


@pytest.fixture
def compiled_graphs(monkeypatch) -> list:
    """The graphs that :func:`ddei.mri.precision.compiled` compiles from now on, counted by a pass-through backend
    (the network runs eagerly; each compilation appends its graph)."""
    import torch

    import ddei.mri.precision as precision

    graphs = []

    def counting(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    monkeypatch.setattr(precision, "COMPILE_BACKEND", counting)
    torch._dynamo.reset()
    return graphs
