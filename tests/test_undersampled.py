"""The undersampled path through the workflow, at tiny size: learning from the release's AccFactorXX scans
alone (config/undersampled.yaml), then reconstructing every scan of a folder in the CMRxRecon layout (rule
reconstruct). CI runs these after `make test` (marker `extended`); tests/test_acquired.py checks the parts in-process.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shipped import merged, shrink
from test_workflow import clone_repo, clone_snakemake, planned_jobs

from ddei.data.synthetic import generate_cmrxrecon
from ddei.io.layout import accfactor_dir
from ddei.io.matlab import read_mat, write_mat73

pytestmark = pytest.mark.extended


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The undersampled overlay, shrunk, trained on the synthetic TrainingSet's AccFactor04 scans, reconstructing a
    separate folder in the release's layout (its ValidationSet)."""
    clone = clone_repo(tmp_path_factory.mktemp("clone"))
    release = clone / "release"
    generate_cmrxrecon(release, 4, lax_shape=(30, 24), sax_shape=(32, 28), n_sax_slices=1, seed=9, progress=False,
                       accelerations=(4,), cmr_set="ValidationSet")  # fmt: skip
    config = shrink(merged("config/undersampled.yaml"), "results")
    config["reconstruct"] |= {"input": str(release), "set": "ValidationSet"}
    result = clone_snakemake(clone, config)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return clone, config, release


def test_it_learns_from_the_measurements_and_reconstructs_every_scan(run):
    clone, config, release = run
    results = clone / "results"
    metrics = pd.read_csv(results / "metrics" / "all.csv")
    assert set(metrics.method) == {*config["methods"], "zf"} and "sup" not in set(metrics.method)
    scans = sorted(p.relative_to(release / "SingleCoil/Cine") for p in (release / accfactor_dir("ValidationSet", 4))
                   .glob("P*/cine_???.mat"))  # fmt: skip
    out = results / "reconstruct" / "ddei_seed0"
    assert scans and all((out / s).is_file() and (out / s).with_suffix(".gif").is_file() for s in scans)
    for scan in scans:
        x = read_mat(out / scan, "reconstruction")
        assert x.shape == read_mat(release / "SingleCoil/Cine" / scan, "kspace_single_sub04").shape
    assert (results / "figures" / "reconstructions.png").stat().st_size > 0
    assert "Nothing to be done" in clone_snakemake(clone, config, "-n").stdout


def test_a_replaced_scan_reruns_its_reconstruction_only(run):
    """(In place: the last test of the run.)"""
    clone, config, release = run
    scan = release / accfactor_dir("ValidationSet", 4) / "P002" / "cine_sax.mat"
    write_mat73(scan, {"kspace_single_sub04": read_mat(scan, "kspace_single_sub04") * np.complex64(2)})
    result = clone_snakemake(clone, config, "-n")
    assert planned_jobs(result) == {"reconstruct": 1, "reconstruct_figure": 1, "all": 1}, result.stdout[
        -3000:
    ]
    assert "P002/cine_sax.mat" in result.stdout


@pytest.mark.parametrize("twins", ["none", "some"])
def test_a_training_set_without_every_twin_runs_to_the_end(tmp_path, twins):
    """The release's TrainingSet as a user who downloaded only the undersampled data has it (no FullSample), or with
    FullSample for some patients only: the workflow runs to the end. Without a twin: the models, their curves and
    the reconstructions; with twins for a test patient: its metrics too (the other test patient has none), and the
    reconstruction figures show a slice with its ground truth."""
    import shutil

    from ddei.data.extract import patient_split
    from ddei.io.layout import fullsample_dir

    (tmp_path / "clone").mkdir()
    clone = clone_repo(tmp_path / "clone")
    release = tmp_path / "release"
    generate_cmrxrecon(release, 4, lax_shape=(30, 24), sax_shape=(32, 28), n_sax_slices=1, seed=9, progress=False,
                       accelerations=(4,))  # fmt: skip
    config = shrink(merged("config/undersampled.yaml"), "results")
    config["data"] |= {"source": "cmrxrecon", "root": str(release), "train_fraction": 0.5}  # 2 test patients
    config["methods"], config["masks"]["accelerations"] = ["ddei"], [4]
    config["reconstruct"] |= {"input": str(release), "set": "TrainingSet", "method": "ddei"}
    split = patient_split([f"P{i:03d}" for i in range(1, 5)], 0.5, 0, config["data"]["val_fraction"])
    test = sorted(p for p, s in split.items() if s == "test")
    assert len(test) == 2
    if twins == "none":
        shutil.rmtree(release / fullsample_dir())
    else:  # the first test patient (whose slices come first) has no twin
        shutil.rmtree(release / fullsample_dir() / test[0])
    result = clone_snakemake(clone, config)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    results = clone / "results"
    assert (results / "models" / "ddei" / "acc4" / "seed0" / "model.pt").is_file()
    assert all(
        (results / "figures" / f"{name}.png").is_file() for name in ("training_curves", "validation_curves")
    )
    out = results / "reconstruct" / "ddei_seed0" / "TrainingSet" / "AccFactor04"
    assert len(list(out.glob("P*/cine_*.mat"))) == 8  # 4 patients, 2 views
    if twins == "none":
        assert not (results / "metrics" / "all.csv").exists()
    else:
        metrics = pd.read_csv(results / "metrics" / "all.csv", dtype={"patient": str})
        assert set(metrics.patient) == {test[1]} and set(metrics.method) == {"ddei", "zf"}
        assert (results / "figures" / "cine_acc4.gif").is_file() and (
            results / "tables" / "results.md"
        ).is_file()
    assert "Nothing to be done" in clone_snakemake(clone, config, "-n").stdout
