"""The k-space error by region (:func:`ddei.mri.metrics.kspace_errors`), on a case computed by hand."""

import numpy as np
import pandas as pd
import pytest

from ddei.mri.metrics import KSPACE_REGIONS, kspace_errors


def case():
    """Three frames of four phase-encode lines: frames 0 and 2 measure line 0, frame 1 line 1; lines 2 and 3 are
    never measured. k = 2 everywhere; the output is 1 too high on the measured points, exact on the points another
    frame measured, and 1 where no frame measured."""
    mask = np.zeros((1, 1, 3, 1, 4))
    mask[0, 0, [0, 2], 0, 0] = 1
    mask[0, 0, 1, 0, 1] = 1
    k = np.full(mask.shape, 2.0)
    y = mask * k
    k_hat = np.where(mask == 1, y + 1, k)
    k_hat[..., 2:] = 1.0
    return k_hat, k, y, mask


def test_each_region_by_hand():
    errors = kspace_errors(*case(), time_dim=2)
    assert list(errors) == list(KSPACE_REGIONS)
    # measured: 3 points, error 1 each, over |y|^2 = 3 * 4
    assert errors["measured"] == pytest.approx(3 / 12)
    # unmeasured: 9 points of energy 4; the 3 that another frame measured are exact, the 6 others are 1 off
    assert errors["unmeasured"] == pytest.approx(6 / 36)
    assert errors["other_frames"] == pytest.approx(0.0)
    # never: 6 points, error 1 each, energy 4 each
    assert errors["never"] == pytest.approx(6 / 24)


def test_zero_filling_scores_one_off_the_measurement():
    k_hat, k, y, mask = case()
    errors = kspace_errors(y, k, y, mask, time_dim=2)
    assert errors["measured"] == 0
    assert errors["unmeasured"] == errors["other_frames"] == errors["never"] == pytest.approx(1.0)


def test_the_measured_points_are_scored_against_the_noisy_measurement():
    """An output that keeps the measurement exactly changes none of it, whatever the noise: the measured points are
    compared with y, not with the noiseless k-space."""
    k_hat, k, y, mask = case()
    noisy = mask * (k + np.random.default_rng(0).normal(0, 0.3, k.shape))
    assert kspace_errors(np.where(mask == 1, noisy, k_hat), k, noisy, mask, time_dim=2)["measured"] == 0


def test_the_frames_axis_decides_what_another_frame_measured():
    k_hat, k, y, mask = case()
    # read along the wrong axis (H, of size 1), no point is measured by "another frame": every unmeasured point
    # counts as never measured
    errors = kspace_errors(k_hat, k, y, mask, time_dim=3)
    assert np.isnan(errors["other_frames"])
    assert errors["never"] == errors["unmeasured"] == pytest.approx(6 / 36)


@pytest.mark.slow
def test_a_trained_models_regions_split_its_unmeasured_error(finished_run):
    """On the tiny workflow's DDEI, :func:`ddei.runs.evaluation.kspace_region_errors` scores every test slice, and
    its two parts of the unmeasured points (another frame's, no frame's) bracket the error on all of them: they
    partition the unmeasured points, so that error is their energy-weighted mean."""
    from snakemake.utils import validate

    from ddei.io.layout import MODEL, result
    from ddei.methods.config import RunConfig, method_config
    from ddei.methods.registry import register
    from ddei.runs.evaluation import kspace_region_errors
    from ddei.runs.preparation import Run

    clone, config = finished_run
    config = dict(config)
    validate(config, str(clone / "workflow" / "schemas" / "config.schema.yaml"))
    register(config["variants"], config["evaluation"]["external"])
    results = clone / config["results"]
    index, masks = next(results.rglob("index.csv")), next(results.rglob("TimeVaryingGaussianMask*"))
    run = Run(RunConfig.from_dict(method_config(config, "ddei")), 4, 0, index.parent, masks.parent)
    errors = kspace_region_errors(run, results / result(MODEL, "ddei", 4, 0))
    tested = pd.read_csv(results / "metrics" / "all.csv").query("method == 'ddei'")
    assert len(errors) == len(tested)
    assert errors[list(KSPACE_REGIONS)].notna().all().all()
    low = errors[["other_frames", "never"]].min(axis=1)
    high = errors[["other_frames", "never"]].max(axis=1)
    assert ((low <= errors.unmeasured + 1e-12) & (errors.unmeasured <= high + 1e-12)).all()
    assert (errors.measured < 0.5).all()  # data consistency keeps the measurement
