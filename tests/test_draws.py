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


# ------------------------------------------------------------------------------------------------ the splitting masks

SPLIT_IMG = (2, 4, 32, 32)


def split_generator(split_mask: str, split_centre: str, ratio: float, seed: int = 0):
    """The mask generator of T-SSDU's loss as the workflow builds it (any network: data consistency is not drawn)."""
    from ddei.methods.registry import METHODS
    from ddei.mri.losses import LossContext
    from ddei.runs.preparation import build_method

    settings = {
        "split_ratio": ratio,
        "split_mask": split_mask,
        "split_centre": split_centre,
        "split_dc": "hard",
    }
    context = LossContext(SPLIT_IMG, torch.Generator().manual_seed(seed), 0.0, settings, "cpu")
    _, (loss,) = build_method(METHODS["t-ssdu"], torch.nn.Identity(), context)
    return loss.mask_generator


@pytest.fixture(scope="module")
def measured() -> torch.Tensor:
    """Measured lines ``(1, 2, T, H, W)``: 40 % of the phase-encode lines per frame and the centre one."""
    g = torch.Generator().manual_seed(3)
    _, t, h, w = SPLIT_IMG
    lines = (torch.rand(1, 1, t, 1, w, generator=g) < 0.4).float()
    lines[..., w // 2] = 1
    return lines.expand(1, *SPLIT_IMG).contiguous()


def draw(generator, measured: torch.Tensor, n: int) -> np.ndarray:
    """``n`` input masks ``(n, T, H, W)`` (one channel: the masks are the same in both)."""
    return np.stack([generator.step(1, input_mask=measured)["mask"][0, 0].numpy() for _ in range(n)])


@pytest.mark.parametrize(
    "split_centre, block",
    [("reference", (slice(12, 20), slice(12, 20))), ("scaled", (slice(16, 17), slice(16, 17)))],
)
def test_the_gaussian_split_always_keeps_its_centre_block(measured, split_centre, block):
    """``reference``: deepinv's 8x8 around the k-space centre (rows and columns 12 to 19 at 32x32); ``scaled``: the
    same fraction of the image as 8x8 of 512x256, 8 * 32 / 512 = 0.5 and 8 * 32 / 256 = 1 rounded half up: the
    k-space centre (16, 16). Every draw keeps every measured point of the block; the rest of the centre line is
    dropped in some draws."""
    masks = draw(split_generator("gaussian", split_centre, 0.6), measured, 100)
    m = measured[0, 0].numpy()
    inside = np.zeros(SPLIT_IMG[1:], dtype=bool)
    inside[:, block[0], block[1]] = True
    inside &= m > 0
    assert inside.any() and (masks[:, inside] == 1).all(), "a measured point of the centre block was dropped"
    if split_centre == "scaled":
        beside = (m > 0) & ~inside
        beside[:, :, : block[1].start], beside[:, :, block[1].stop :] = False, False
        assert (masks[:, beside] == 0).any()


def documented_split_pdf(h: int, w: int) -> np.ndarray:
    """SSDU's (deepinv's) Gaussian density of the points held out of the input: standard deviations H/4 and W/4
    around ``(H // 2, W // 2)``."""
    x, y = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return np.exp(-((x - h // 2) ** 2 / (2 * (h / 4) ** 2) + (y - w // 2) ** 2 / (2 * (w / 4) ** 2)))


def test_the_gaussian_split_holds_points_out_with_the_gaussian_density(measured):
    """With a split ratio of 0.999 one measured point per frame is held out of the input, drawn with probability
    proportional to the documented Gaussian density on the measured points outside the centre block. Over 200
    draws of 4 frames, the held-out points fall into five bands of that density as often as it predicts (each
    band's count is a sum of independent Bernoulli draws: normal bound from their variances)."""
    n = 200
    masks = draw(split_generator("gaussian", "reference", 0.999), measured, n)
    m = measured[0, 0].numpy() > 0
    held = m[None] & (masks == 0)
    assert (held.sum(axis=(2, 3)) == 1).all()  # ceil(0.001 * measured points) = 1 per frame
    pdf = documented_split_pdf(*SPLIT_IMG[2:])
    allowed = m.copy()
    allowed[:, 12:20, 12:20] = False
    p = np.where(allowed, pdf[None], 0.0)
    p /= p.sum(axis=(1, 2), keepdims=True)  # per frame
    edges = np.quantile(pdf[allowed.any(axis=0)], [0.2, 0.4, 0.6, 0.8])
    band = np.digitize(pdf, edges)
    for b in range(5):
        q = p[:, band == b].sum(axis=1)  # per frame
        count = held[:, :, band == b].sum()
        mean, sd = n * q.sum(), np.sqrt(n * (q * (1 - q)).sum())
        assert abs(count - mean) <= Z * sd + 1e-9, (
            f"band {b}: {count} held out, expected {mean:.1f} ± {Z * sd:.1f}"
        )


def test_the_uniform_split_keeps_the_split_ratio_of_every_frame(measured):
    """deepinv's uniform split keeps ``int(ratio * n)`` of a sample's ``n`` measured points, uniformly: each frame
    keeps that fraction of its points (sampling without replacement: the binomial bound is conservative)."""
    n_draws, ratio = 100, 0.6
    masks = draw(split_generator("uniform", "reference", ratio), measured, n_draws)
    m = measured[0, 0].numpy() > 0
    n = m.sum()
    assert (masks.sum(axis=(1, 2, 3)) == int(ratio * n)).all() and not masks[:, ~m].any()
    q = int(ratio * n) / n
    for t in range(SPLIT_IMG[1]):
        assert_frequency(masks[:, t][:, m[t]].sum(), n_draws * m[t].sum(), q, f"frame {t}")
