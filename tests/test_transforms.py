"""Tests of the DDEI transformation group (:mod:`ddei.mri.transforms`)."""

from __future__ import annotations

import ddei  # noqa: F401  (must be imported before deepinv)

# isort: split
import sysconfig
from pathlib import Path

import pytest
import torch
from deepinv.loss import EILoss
from deepinv.physics import DynamicMRI
from deepinv.transform import Rotate as DinvRotate
from deepinv.transform import ShiftTime
from torchvision.transforms import InterpolationMode

import ddei.mri.transforms as tr
from ddei.mri.transforms import (
    ChoiceTransform,
    ComposeTransform,
    Diffeomorphism,
    PerSampleTransform,
    Rotate,
    TimeShift,
    cpab,
    cpab_basis,
    ddei_transform,
    rotate_transform,
)

T, H, W = 12, 16, 16


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def frame_coded(batch: int = 1, t: int = T, h: int = H, w: int = W) -> torch.Tensor:
    """Video whose pixels encode the frame: real channel ``t + 1``, imaginary channel ``-(t + 1)``."""
    idx = torch.arange(1, t + 1, dtype=torch.float32).view(1, 1, t, 1, 1)
    return torch.cat([idx, -idx], dim=1).expand(batch, 2, t, h, w).contiguous()


def assert_channels_not_mixed(y: torch.Tensor) -> None:
    """Real frames stay in the real channel (>= 0), imaginary ones in the imaginary channel, matched frame by frame."""
    assert y.shape[1:3] == (2, T)
    assert (y[:, 0] >= -1e-5).all(), "a real-channel frame holds imaginary (negative) values"
    assert (y[:, 1] <= 1e-5).all(), "an imaginary-channel frame holds real (positive) values"
    # both channels got the same frame, transformed the same way
    torch.testing.assert_close(y[:, 1], -y[:, 0])


def frame_labels(y: torch.Tensor) -> torch.Tensor:
    """Input frame index of each output frame of a whole-frame transform (each frame must be constant)."""
    real = y[:, 0]
    assert (real == real[..., :1, :1]).all(), "output frames are not whole input frames"
    return real[..., 0, 0].round().long() - 1  # (B, T)


@pytest.fixture
def upstream(monkeypatch, tmp_path):
    """The reference's transform, with libcpab's basis file redirected from site-packages to ``tmp_path``."""
    import libcpab.cpab

    (tmp_path / "pkg").mkdir()
    monkeypatch.setattr(libcpab.cpab, "__file__", str(tmp_path / "pkg" / "cpab.py"))
    return ddei_transform("upstream").inner


# ------------------------------------------------------------------------------------------------------------
# TimeShift
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", range(-T, T))
def test_wrap_time_shift_is_cyclic_permutation_of_frames(amount):
    x = frame_coded(batch=2)
    y = TimeShift(padding="wrap", rng=gen(0)).transform(x, amounts=torch.tensor([amount]))
    assert_channels_not_mixed(y)
    expected = (torch.arange(T) - amount) % T
    assert (frame_labels(y) == expected).all()


def test_time_shift_random_whole_frames_both_paddings():
    x = frame_coded()
    for padding in ("wrap", "reflect"):
        shift = TimeShift(padding=padding, rng=gen(1))
        for _ in range(20):
            y = shift(x)
            assert_channels_not_mixed(y)
            labels = frame_labels(y)[0]
            assert ((labels >= 0) & (labels < T)).all()
            if padding == "wrap":
                assert sorted(labels.tolist()) == list(range(T))
            else:  # reflect: consecutive frames stay neighbours
                assert ((labels[1:] - labels[:-1]).abs() == 1).all()


def test_time_shift_amounts_are_deepinvs():
    shift = TimeShift(n_trans=3, rng=gen(2))
    x = frame_coded()
    seen = set()
    for _ in range(200):
        amounts = shift.get_params(x)["amounts"]
        assert len(amounts) == 3 and len(set(amounts.tolist())) == 3
        seen |= set(amounts.tolist())
    assert seen == set(range(-T, T))
    # the same draws as deepinv's ShiftTime with the same generator state
    ref = ShiftTime(n_trans=3, rng=gen(5))
    assert torch.equal(
        TimeShift(n_trans=3, rng=gen(5)).get_params(x)["amounts"], ref.get_params(x)["amounts"]
    )
    assert shift(x).shape == (3, 2, T, H, W)


def test_time_shift_inverse_and_4d_refusal():
    x = torch.randn(2, 2, T, H, W, generator=gen(3))
    shift = TimeShift(padding="wrap", rng=gen(3))
    params = shift.get_params(x)
    assert torch.equal(shift.inverse(shift.transform(x, **params), **params), x)
    with pytest.raises(ValueError, match="B, C, T, H, W"):
        shift(x[:, :, 0])


# ------------------------------------------------------------------------------------------------------------
# Spatial transforms
# ------------------------------------------------------------------------------------------------------------


def constant_in_time(seed: int = 4) -> torch.Tensor:
    img = torch.randn(2, 2, 1, H, W, generator=gen(seed))
    return img.expand(2, 2, T, H, W).contiguous()


@pytest.mark.parametrize(
    "make", [lambda g: Rotate(rng=g), lambda g: Diffeomorphism(rng=g)], ids=["rotate", "diffeo"]
)
def test_spatial_transform_same_warp_every_frame_and_channel(make):
    x = constant_in_time()
    t = make(gen(5))
    params = t.get_params(x)
    y = t.transform(x, **params)
    assert y.shape == x.shape
    assert not torch.allclose(y, x)
    torch.testing.assert_close(y, y[:, :, :1].expand_as(y))  # identical frames stay identical
    # ... and equal to the transform of one frame (so the real and imaginary channel got the same warp)
    torch.testing.assert_close(y[:, :, 0], t.transform(x[:, :, 0], **params))
    assert_channels_not_mixed(t.transform(frame_coded(), **t.get_params(x)))


def test_rotate_is_deepinvs_bilinear_rotation():
    x = torch.randn(1, 2, T, H, W, generator=gen(6))
    ours, ref = (
        rotate_transform(gen(7)),
        DinvRotate(interpolation_mode=InterpolationMode.BILINEAR, rng=gen(7)),
    )
    assert isinstance(ours.inner, DinvRotate) and ours.inner.interpolation_mode == InterpolationMode.BILINEAR
    torch.testing.assert_close(ours(x), ref(x))


# ------------------------------------------------------------------------------------------------------------
# CPAB
# ------------------------------------------------------------------------------------------------------------


def test_cpab_theta_is_libcpab_default_distribution():
    d = Diffeomorphism(n_trans=3, rng=gen(8))
    theta = d.get_params(frame_coded())["diffeo"]
    torch.manual_seed(8)  # libcpab's sample_transformation: MultivariateNormal(0, I) on the global RNG
    ref = torch.distributions.MultivariateNormal(torch.zeros(d.theta_dim), torch.eye(d.theta_dim)).sample(
        (3,)
    )
    torch.testing.assert_close(theta, ref)


def test_cpab_matches_libcpab_integrator_and_interpolation():
    from libcpab.findcellidx import findcellidx2D

    p = torch.rand(2, 5000, generator=gen(9)) * 1.4 - 0.2
    p[0, :100], p[1, 100:200], p[0, 200:300], p[1, 300:400] = 0.0, 1.0, 1.0, 0.0
    for nc in [(3, 3), (2, 4)]:
        assert torch.equal(cpab._findcellidx2d(p[0], p[1], *nc), findcellidx2D(p.clone(), *nc))

    fast, slow = Diffeomorphism(rng=gen(10)), Diffeomorphism(rng=gen(10), backend="libcpab")
    x = torch.randn(2, 2, T, 24, 20, generator=gen(10))
    params = fast.get_params(x)
    torch.testing.assert_close(
        fast.warp_grid(params["diffeo"], (24, 20)),
        slow.warp_grid(params["diffeo"], (24, 20)),
        atol=1e-4,
        rtol=0,
    )
    torch.testing.assert_close(fast.transform(x, **params), slow.transform(x, **params), atol=1e-2, rtol=0)


def test_cpab_inverse_undoes_warp():
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 32), indexing="ij")
    img = torch.sin(3 * xx) * torch.cos(2 * yy)
    x = torch.stack([img, -img])[None, :, None].expand(1, 2, 2, 32, 32)
    d = Diffeomorphism(rng=gen(11))
    params = d.get_params(x)
    y = d.transform(x, **params)
    assert (y - x).abs().max() > 0.05
    assert (d.inverse(y, **params) - x).abs().max() < 0.05


def _basis_dir_state() -> dict:
    folder = Path(sysconfig.get_paths()["purelib"]) / "basis_files"
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} if folder.is_dir() else {"<absent>": 0}


def test_cpab_writes_nothing_to_site_packages(tmp_path, monkeypatch):
    before = _basis_dir_state()
    cpab._compute_basis.cache_clear()  # force the basis computation
    d = Diffeomorphism(rng=gen(12))
    d(frame_coded())
    assert _basis_dir_state() == before
    # the optional user cache: written once, then read back
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache = tr.default_cache_dir()
    assert cache == tmp_path / "ddei" / "cpab"
    basis = cpab_basis(3, True, True, cache_dir=cache)
    files = list(cache.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npy"
    assert (basis == cpab_basis(3, True, True, cache_dir=cache)).all()
    assert basis.shape == (6 * 4 * 9, d.theta_dim)
    assert _basis_dir_state() == before


# ------------------------------------------------------------------------------------------------------------
# Combinations and the DDEI group
# ------------------------------------------------------------------------------------------------------------


def test_fixed_ddei_transform_never_mixes_real_and_imaginary_frames():
    x = frame_coded(batch=2)
    t = ddei_transform("fixed", rng=gen(13))
    chosen = set()
    for _ in range(12):
        params = t.get_params(x)
        y = t.transform(x, **params)
        assert_channels_not_mixed(y)
        for i in range(len(x)):
            choice = int(params[f"{i}/choice"])
            chosen.add(choice)
            if choice == 1:  # time shift: whole frames
                labels = frame_labels(y[i : i + 1])
                assert ((labels[:, 1:] - labels[:, :-1]).abs() == 1).all()
            else:  # spatial: frame t keeps its values in [0, t + 1]
                assert (y[i, 0].amax(dim=(-2, -1)) <= torch.arange(1, T + 1) + 1e-4).all()
    assert chosen == {0, 1}


@pytest.mark.parametrize("group", ["ddei", "rotate"])
def test_identical_samples_of_a_batch_are_transformed_differently(group):
    """One draw per sample, as the reference's batch size of 1: not one transform for the whole batch."""
    x = torch.randn(1, 2, T, H, W, generator=gen(40)).expand(8, -1, -1, -1, -1).contiguous()
    t = ddei_transform("fixed", rng=gen(41)) if group == "ddei" else rotate_transform(gen(41))
    y = t(x)
    distinct = {tuple(y[i].flatten()[::97].tolist()) for i in range(len(y))}
    assert len(distinct) >= 6, f"only {len(distinct)} distinct transforms among 8 samples"


def test_each_sample_gets_a_valid_group_element_of_its_own():
    """Every sample's output is the wrapped transform applied to that sample alone with its own parameters, and
    undoing the parameters gives the sample back (a group whose inverses are exact: quarter turns, cyclic
    shifts)."""
    x = torch.randn(6, 2, T, H, W, generator=gen(42))
    inner = ChoiceTransform(
        [Rotate(multiples=90, rng=gen(43)), TimeShift(padding="wrap", rng=gen(43))], rng=gen(43)
    )
    t = PerSampleTransform(inner)
    params = t.get_params(x)
    y = t.transform(x, **params)
    choices = [int(params[f"{i}/choice"]) for i in range(len(x))]
    assert len(set(choices)) == 2
    for i in range(len(x)):
        own = {k.split("/", 1)[1]: v for k, v in params.items() if k.startswith(f"{i}/")}
        torch.testing.assert_close(y[i : i + 1], inner.transform(x[i : i + 1], **own))
    torch.testing.assert_close(t.inverse(y, **params), x)
    with pytest.raises(ValueError, match="batch of 6"):
        t.transform(x[:2], **params)


def test_per_sample_transform_at_batch_one_is_the_wrapped_transform():
    """At batch size 1 the per-sample path draws and computes exactly what one call of the group does."""
    x = torch.randn(1, 2, T, H, W, generator=gen(44))
    wrapped = ddei_transform("fixed", rng=gen(45))
    inner = ddei_transform("fixed", rng=gen(45)).inner
    for _ in range(6):
        assert torch.equal(wrapped(x), inner(x))


def test_choice_probabilities_match_reference_nesting():
    t = ddei_transform("fixed", rng=gen(14))
    x = frame_coded()
    counts = {"diffeo": 0, "theta": 0, "amounts": 0}
    n = 800
    for _ in range(n):
        keys = t.get_params(x).keys()
        for name in counts:
            counts[name] += any(k.endswith(name) for k in keys)
    assert abs(counts["diffeo"] / n - 0.25) < 0.05
    assert abs(counts["theta"] / n - 0.25) < 0.05
    assert abs(counts["amounts"] / n - 0.5) < 0.05


@pytest.mark.parametrize(
    "build",
    [
        lambda g: ComposeTransform([Rotate(rng=g), TimeShift(rng=g)]),
        lambda g: ComposeTransform([TimeShift(rng=g), Diffeomorphism(rng=g)]),
        lambda g: Rotate(rng=g) * TimeShift(rng=g),
        lambda g: TimeShift(rng=g) * Rotate(rng=g),
        lambda g: (Diffeomorphism(rng=g) | Rotate(rng=g)) | TimeShift(rng=g),
        lambda g: TimeShift(rng=g) | (Diffeomorphism(rng=g) | Rotate(rng=g)),
        lambda g: (Diffeomorphism(rng=g) * TimeShift(rng=g)) | Rotate(rng=g),
    ],
    ids=[
        "compose-rot-ts",
        "compose-ts-diffeo",
        "rot*ts",
        "ts*rot",
        "(diffeo|rot)|ts",
        "ts|(diffeo|rot)",
        "(diffeo*ts)|rot",
    ],
)
def test_compositions_keep_frames_whole(build):
    x = frame_coded()
    t = build(gen(15))
    assert isinstance(t, (ChoiceTransform, ComposeTransform))
    for _ in range(6):
        assert_channels_not_mixed(t(x))


def test_composition_params_are_deterministic_and_invertible():
    x = torch.randn(1, 2, T, H, W, generator=gen(16))
    t = ComposeTransform([Rotate(multiples=90, rng=gen(16)), TimeShift(padding="wrap", rng=gen(17))])
    params = t.get_params(x)
    y = t.transform(x, **params)
    torch.testing.assert_close(t.transform(x, **params), y)
    torch.testing.assert_close(t.inverse(y, **params), x)
    c = ChoiceTransform(
        [TimeShift(padding="wrap", rng=gen(18)), Rotate(multiples=90, rng=gen(18))], rng=gen(19)
    )
    for _ in range(4):
        params = c.get_params(x)
        torch.testing.assert_close(c.inverse(c.transform(x, **params), **params), x)


def test_determinism_given_generator():
    x = torch.randn(1, 2, T, H, W, generator=gen(20))
    outs = []
    for seed in (21, 21, 22):
        t = ddei_transform("fixed", rng=gen(seed))
        outs.append(torch.cat([t(x) for _ in range(8)]))
    assert torch.equal(outs[0], outs[1])
    assert not torch.allclose(outs[0], outs[2])
    d1, d2, d3 = (Diffeomorphism(rng=gen(s)) for s in (23, 23, 24))
    assert torch.equal(d1(x), d2(x))
    assert not torch.allclose(d1(x), d3(x))
    # without a generator, instances differ from each other but follow torch.manual_seed
    torch.manual_seed(0)
    a, b = Rotate(), Rotate()
    torch.manual_seed(0)
    a2 = Rotate()
    ta, tb, ta2 = (r.get_params(x)["theta"] for r in (a, b, a2))
    assert torch.equal(ta, ta2) and not torch.equal(ta, tb)


def test_ei_loss_runs_with_ddei_transform():
    torch.manual_seed(0)
    shape = (1, 2, T, 32, 32)
    mask = (torch.rand(1, 1, T, 1, 32, generator=gen(25)) < 0.3).float().expand(shape).clone()
    physics = DynamicMRI(mask=mask)
    x = torch.randn(shape, generator=gen(26))

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv3d(2, 2, 3, padding=1)

        def forward(self, y, physics):
            x0 = physics.A_adjoint(y)
            return x0 + self.conv(x0)

    model = Tiny()
    loss = EILoss(ddei_transform("fixed", rng=gen(27)))
    for _ in range(3):
        model.zero_grad()
        x_net = model(physics(x), physics)
        value = loss(x_net, physics, model)
        assert value.dim() == 0 and torch.isfinite(value)
        value.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


# ------------------------------------------------------------------------------------------------------------
# Upstream defects (these assert that the defects exist: if deepinv fixes them, these tests fail and tell us)
# ------------------------------------------------------------------------------------------------------------


def test_upstream_defect_time_shift_mixes_real_and_imaginary(upstream):
    """Reference ``(diffeo | rotate) | ShiftTime``: the time shift acts on the flattened C*T axis."""
    x = frame_coded()
    # the outer EitherTransform inherits flatten_video_input=True from CPABDiffeomorphism
    assert upstream.flatten_video_input
    # shift amounts are drawn for C*T = 24 "frames", not T = 12
    amounts = torch.cat([upstream.get_params(x)["amounts"] for _ in range(100)])
    assert amounts.min() < -T or amounts.max() >= T
    upstream.choose = lambda: 0  # force the time-shift branch
    y = upstream(x, amounts=torch.tensor([3]))
    assert (y[:, 1] > 0).any(), "real frames landed in the imaginary channel"

    def mixes(y: torch.Tensor) -> bool:
        return bool((y[:, 0] < 0).any() or (y[:, 1] > 0).any())

    # every non-zero shift of the range it draws from mixes the channels
    assert [a for a in range(-2 * T, 2 * T) if not mixes(upstream(x, amounts=torch.tensor([a])))] == [0]
    # its spatial branch is fine
    upstream.choose = lambda: 1
    assert_channels_not_mixed(upstream(x))


def test_upstream_defect_other_orders_mix_or_crash():
    x = frame_coded()
    rot = DinvRotate(interpolation_mode=InterpolationMode.BILINEAR)
    rot2 = DinvRotate(interpolation_mode=InterpolationMode.BILINEAR)
    ts = ShiftTime()
    # spatial first: flattened, the shift mixes channels
    y = (rot * ts)(x, theta=torch.tensor([0.0]), amounts=torch.tensor([-1]))
    assert (y[:, 0] < 0).any()
    # time shift first: not flattened, the spatial transforms crash on 5D input
    with pytest.raises(RuntimeError, match="grid"):
        (ts * rot)(x)
    either = ts | (rot | rot2)
    either.choose = lambda: 0  # the spatial branch
    with pytest.raises(RuntimeError, match="grid"):
        either(x)
    # deepinv's generators all start from the same default seed
    same = [
        DinvRotate(interpolation_mode=InterpolationMode.BILINEAR).get_params(x)["theta"] for _ in range(2)
    ]
    assert torch.equal(*same)


def test_deepinv_operators_on_our_time_shift_fail_loudly():
    x = frame_coded()
    with pytest.raises(ValueError, match="B, C, T, H, W"):
        (DinvRotate(interpolation_mode=InterpolationMode.BILINEAR) | TimeShift(rng=gen(0)))(x)


def test_upstream_draws_per_sample_and_as_before_at_batch_1(upstream):
    """ddei-upstream wraps the reference's composition in PerSampleTransform: at batch 1 it draws and computes
    exactly what the bare composition does (the same global and deepinv default streams); at batch 8 each sample
    draws its own choice and parameters, as the fixed transform does, so the two differ only by the defect."""
    from ddei.mri.transforms import PerSampleTransform, reference_composition

    x = torch.randn(1, 2, T, 16, 16, generator=gen(1))
    outputs = []
    for transform in (reference_composition(), PerSampleTransform(reference_composition())):
        torch.manual_seed(7)
        outputs.append([transform(x) for _ in range(6)])
    assert all(torch.equal(a, b) for a, b in zip(*outputs))
    assert isinstance(ddei_transform("upstream"), PerSampleTransform)
    batch = x.expand(8, -1, -1, -1, -1).contiguous()
    torch.manual_seed(7)
    y = PerSampleTransform(reference_composition())(batch)
    assert len({tuple(v.flatten()[:64].tolist()) for v in y}) > 1, "every sample drew the same transform"
