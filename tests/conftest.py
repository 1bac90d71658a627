"""Shared fixtures: a tiny synthetic CMRxRecon dataset, extracted, with masks at 4x and 8x; the tiny workflow run to
the end in a clone of the repository."""

from __future__ import annotations

import ddei  # noqa: F401  (must be imported before deepinv)

# isort: split
import fcntl
import os
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from ddei.data.extract import Selection, extract
from ddei.data.synthetic import generate_cmrxrecon
from ddei.io.files import atomic_write
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


def _uses_finished_run(item) -> bool:
    return "finished_run" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(session, config, items):
    """The tests that use :func:`finished_run` go last (in their order), so that the tiny run, started in the
    background when the first test starts (:func:`_tiny_run_in_background`), overlaps the other tests."""
    items.sort(key=_uses_finished_run)


def _shared_dir(tmp_path_factory) -> Path:
    """A folder of this test session shared by its processes: pytest-xdist's workers (``make test`` runs ``-n``)
    each have their own base temporary folder, under a common one."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def _locked(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session", autouse=True)
def _tiny_run_in_background(request, tmp_path_factory):
    """The tiny workflow (``test_workflow.tiny_config``), started once per test session in a clone of the
    repository, in the background, if a collected test uses :func:`finished_run`; ``None`` otherwise.

    Under pytest-xdist the first worker to start starts it, and every worker waits for the same run: its exit
    status is written to ``<folder>/returncode``. The worker that started it waits for it at its end (another
    worker's tests may still need it), or stops it if the session is stopping on a failure.

    :return: ``(clone, config, folder)``, ``folder`` holding ``tiny_run.log`` and, once the run ended,
        ``returncode``.
    """
    if not any(map(_uses_finished_run, request.session.items)):
        yield None
        return
    from test_workflow import clone_repo, snakemake_command, tiny_config

    shared = _shared_dir(tmp_path_factory)
    folder, config, proc, watcher = shared / "tiny_run", tiny_config("results"), None, None
    with _locked(shared / "tiny_run.lock"):
        if not folder.exists():
            (folder / "clone").mkdir(parents=True)
            clone = clone_repo(folder / "clone")
            with open(folder / "tiny_run.log", "w") as out:
                cmd = snakemake_command(clone, config, snakefile=clone / "Snakefile")
                proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
            watcher = threading.Thread(target=_write_status, args=(proc, folder / "returncode"), daemon=True)
            watcher.start()
    yield folder / "clone", config, folder
    if proc is not None:
        if proc.poll() is None and (request.session.shouldstop or request.session.shouldfail):
            proc.terminate()
        watcher.join(timeout=900)


def _write_status(proc: subprocess.Popen, path: Path) -> None:
    """Wait for ``proc``, then write its exit status to ``path`` (whole: other processes poll for it)."""
    returncode = proc.wait()
    atomic_write(path, lambda tmp: tmp.write_text(f"{returncode}\n"))


@pytest.fixture(scope="session")
def finished_run(_tiny_run_in_background):
    """The tiny workflow (``test_workflow.tiny_config``), run to the end in a clone of the repository (results under
    ``<clone>/results``). Tests that change its files work on a copy."""
    clone, config, folder = _tiny_run_in_background
    status, deadline = folder / "returncode", time.monotonic() + 900
    while not status.exists():
        assert time.monotonic() < deadline, "the tiny run took more than 15 minutes"
        time.sleep(0.5)
    assert status.read_text().strip() == "0", (folder / "tiny_run.log").read_text()[-6000:]
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
