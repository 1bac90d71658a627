"""Every random component draws from its documented distribution, checked over a few hundred to a few thousand
draws with tolerances derived from the sample size: a frequency ``p_hat`` of ``n`` draws must be within
``Z * sqrt(p (1 - p) / n)`` of its probability ``p`` (binomial standard error), a mean within ``Z`` standard errors.
With ``Z = 4.5`` a correct component fails one check in about 150 000 (the draws are seeded, so a test either
always passes or always fails); a component drawing from another distribution fails by many standard errors.

The components: the DDEI group's choice of transform, rotation angles, time-shift amounts and CPAB parameters
(:mod:`ddei.mri.transforms`), EI-rotate's angles, and the k-t masks' lines (:mod:`ddei.mri.masks`)."""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import numpy as np
import pytest
import torch

from ddei.mri.masks import gaussian_kt_mask
from ddei.mri.transforms import ddei_transform, rotate_transform

Z = 4.5


def assert_frequency(count: float, n: int, p: float, what: str = "") -> None:
    """``count`` successes of ``n`` draws are a binomial(n, p) count, within Z standard errors."""
    se = np.sqrt(p * (1 - p) / n)
    assert abs(count / n - p) <= Z * se + 1e-12, (
        f"{what}: frequency {count / n:.4f}, expected {p:.4f} ± {Z * se:.4f}"
    )


def assert_mean(values: np.ndarray, mean: float, sd: float, what: str = "") -> None:
    """The mean of ``values`` (independent, of standard deviation ``sd``) is within Z standard errors of ``mean``."""
    se = sd / np.sqrt(len(values))
    assert abs(values.mean() - mean) <= Z * se, (
        f"{what}: mean {values.mean():.4f}, expected {mean:.4f} ± {Z * se:.4f}"
    )


# ------------------------------------------------------------------------------------------------ the DDEI group

T = 6
VIDEO = torch.zeros(1, 2, T, 8, 8)
N_GROUP = 2400


@pytest.fixture(scope="module")
def group_draws() -> list[dict]:
    """``N_GROUP`` draws of the DDEI group's parameters for one sample, from one seeded generator."""
    group = ddei_transform("fixed", rng=torch.Generator().manual_seed(0))
    return [group.get_params(VIDEO) for _ in range(N_GROUP)]


def _branch(params: dict) -> str:
    (key,) = [k for k in params if k.split(".")[-1] in ("diffeo", "theta", "amounts")]
    return key.split(".")[-1]


def _values(draws: list[dict], name: str) -> np.ndarray:
    return np.concatenate(
        [
            np.asarray(v).reshape(len(np.asarray(v)), -1)
            for d in draws
            for k, v in d.items()
            if k.endswith(name)
        ]
    )


def test_the_ddei_group_chooses_diffeomorphism_rotation_and_time_shift_a_quarter_a_quarter_a_half(
    group_draws,
):
    """The reference's nested ``(diffeo | rotate) | time_shift``: 1/4, 1/4, 1/2."""
    branches = [_branch(d) for d in group_draws]
    for name, p in (("diffeo", 0.25), ("theta", 0.25), ("amounts", 0.5)):
        assert_frequency(branches.count(name), N_GROUP, p, name)


def _assert_deepinv_angles(theta: np.ndarray) -> None:
    """deepinv's angles: integers drawn uniformly from ``[0, 360) ∪ -[0, 360)`` (720 values, 0 twice), so every
    integer of (-360, 360); checked in 16 bins of 45 degrees and by the mean absolute angle."""
    assert np.array_equal(theta, np.round(theta)) and (np.abs(theta) < 360).all()
    support = np.concatenate([np.arange(360), -np.arange(360)])
    for lo in range(-360, 360, 45):
        p = ((support >= lo) & (support < lo + 45)).mean()
        assert_frequency(
            ((theta >= lo) & (theta < lo + 45)).sum(), len(theta), p, f"angles in [{lo}, {lo + 45})"
        )
    assert_mean(np.abs(theta), np.abs(support).mean(), np.abs(support).std(), "mean absolute angle")


def test_the_ddei_groups_rotation_angles_are_deepinvs(group_draws):
    theta = _values(group_draws, "theta").ravel()
    assert len(theta) > 400
    _assert_deepinv_angles(theta)


def test_ei_rotate_angles_are_deepinvs():
    rotate = rotate_transform(rng=torch.Generator().manual_seed(1))
    theta = np.concatenate([np.asarray(rotate.get_params(VIDEO)["0/theta"]) for _ in range(1200)])
    _assert_deepinv_angles(theta)


def test_the_ddei_groups_time_shifts_are_uniform_over_minus_t_to_t(group_draws):
    """deepinv's ``ShiftTime``: one integer uniformly from ``[-T, T)``, whole frames of the video's own T."""
    amounts = _values(group_draws, "amounts").ravel()
    assert len(amounts) > 900 and set(amounts.tolist()) <= set(range(-T, T))
    for a in range(-T, T):
        assert_frequency((amounts == a).sum(), len(amounts), 1 / (2 * T), f"shift {a}")


def test_the_ddei_groups_cpab_parameters_are_standard_normal(group_draws):
    """libcpab's default prior ``theta ~ N(0, I)``: each coordinate has mean 0 and variance 1 (the sample variance
    has standard error ``sqrt(2 / n)``), and coordinates are uncorrelated (a correlation's standard error is
    ``1 / sqrt(n)``)."""
    theta = _values(group_draws, "diffeo")
    n, d = theta.shape
    assert n > 400 and d > 1
    for j in range(d):
        assert_mean(theta[:, j], 0.0, 1.0, f"theta[{j}]")
        assert abs(theta[:, j].var(ddof=1) - 1) <= Z * np.sqrt(2 / n), f"variance of theta[{j}]"
    corr = np.corrcoef(theta.T)[np.triu_indices(d, 1)]
    # Bonferroni over the d (d - 1) / 2 pairs: still a bound of a few standard errors
    assert np.abs(corr).max() <= (Z + 1) / np.sqrt(n)


# ------------------------------------------------------------------------------------------------ the k-t masks

KY, R, FRAMES, SEEDS = 64, 4, 12, 40


@pytest.fixture(scope="module")
def kt_lines() -> np.ndarray:
    """Sampled lines ``(masks, frames, ky)`` of ``SEEDS`` masks."""
    return np.stack([gaussian_kt_mask((2, KY), R, FRAMES, seed=s).any(axis=0).T for s in range(SEEDS)])


def centre_block(ky: int, acceleration: int) -> np.ndarray:
    """The always-sampled centre block: ``int(0.32 / R * ky)`` lines around ``ky // 2``."""
    n = int(0.32 / acceleration * ky)
    return np.arange(ky // 2 - n // 2, ky // 2 - n // 2 + n)


def documented_pdf(ky: int, acceleration: int) -> np.ndarray:
    """deepinv's Gaussian line density (Schlemper et al. 2017): ``exp(-(x - ky/2)^2 / (2 (ky/10)^2)) + 1 / (2R)``,
    zero on the centre block, normalised."""
    x = np.arange(ky)
    pdf = np.exp(-0.5 * (x - ky / 2) ** 2 / (ky / 10) ** 2) + 1 / (2 * acceleration)
    pdf[centre_block(ky, acceleration)] = 0
    return pdf / pdf.sum()


def inclusion(pdf: np.ndarray, k: int, n: int, seed: int = 0) -> np.ndarray:
    """Probability that each line is among ``k`` drawn without replacement with probabilities ``pdf`` (successive
    draws, each from the renormalised rest), estimated over ``n`` draws by the Gumbel top-k construction."""
    rng = np.random.default_rng(seed)
    with np.errstate(divide="ignore"):
        keys = np.log(pdf)[None] + rng.gumbel(size=(n, len(pdf)))
    top = np.argsort(-keys, axis=1)[:, :k]
    counts = np.zeros(len(pdf))
    np.add.at(counts, top.ravel(), 1)
    return counts / n


def test_kt_masks_sample_the_centre_block_and_floor_ky_over_r_lines_in_every_frame(kt_lines):
    assert (kt_lines.sum(axis=2) == KY // R).all()
    assert kt_lines[:, :, centre_block(KY, R)].all()


def test_kt_mask_lines_follow_the_gaussian_density(kt_lines):
    """Outside the centre block, each line's sampling frequency over ``SEEDS * FRAMES`` frames is the inclusion
    probability of the documented density (the difference of two binomial frequencies, within Z standard errors;
    the reference is estimated from 20 000 independent draws in numpy)."""
    n = SEEDS * FRAMES
    k = KY // R - len(centre_block(KY, R))
    reference = inclusion(documented_pdf(KY, R), k, 20_000)
    freq = kt_lines.reshape(n, KY).mean(axis=0)
    outside = np.setdiff1d(np.arange(KY), centre_block(KY, R))
    se = np.sqrt(reference * (1 - reference) * (1 / n + 1 / 20_000))
    worst = np.max(np.abs(freq - reference)[outside] - Z * se[outside])
    assert worst <= 1e-12, f"line frequencies off the documented density by up to {worst:.3f} beyond {Z} s.e."
    # and the density is not flat: the lines next to the centre are drawn more often than the edges
    assert freq[outside].max() > 3 * freq[outside].min()


def test_kt_mask_frames_are_independent_draws(kt_lines):
    """Two consecutive frames share as many random lines as two independent draws do: the expected overlap is
    ``sum_i pi_i^2`` over the lines outside the centre (pi: inclusion probabilities), its standard deviation
    that of the overlap of two independent draws (estimated in numpy)."""
    outside = np.setdiff1d(np.arange(KY), centre_block(KY, R))
    k = KY // R - len(centre_block(KY, R))
    pdf = documented_pdf(KY, R)
    rng = np.random.default_rng(1)
    pairs = []
    for _ in range(4000):
        a, b = (
            np.argsort(-(np.log(np.where(pdf > 0, pdf, 1e-300)) + rng.gumbel(size=KY)))[:k] for _ in (0, 1)
        )
        pairs.append(len(np.intersect1d(a, b)))
    pairs = np.array(pairs, dtype=float)
    lines = kt_lines[:, :, outside]
    overlap = (lines[:, 1:] & lines[:, :-1]).sum(axis=2).ravel().astype(float)
    # consecutive pairs of one mask are not independent of each other: one pair per mask and frame parity
    assert_mean(overlap[::2], pairs.mean(), pairs.std(), "overlap of consecutive frames")
