"""What each method's loss computes: its value on fixed inputs and a fixed generator state equals an independent
computation (numpy with the centred orthonormal Fourier transform, or deepinv's own loss built directly with the
documented settings), for every trained method of the registry built as the workflow builds it
(:func:`ddei.runs.preparation.build_method`).

The reconstruction network is the zero-filled one, ``A^H y``: its losses have closed forms in numpy."""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import numpy as np
import pytest
import torch
from torch import nn

from ddei.methods.registry import METHODS
from ddei.mri.losses import LossContext
from ddei.runs.preparation import build_method, make_physics

IMG = (2, 6, 16, 16)  # (C, T, H, W)
B = 2
SETTINGS = {
    "transform_mode": "fixed",
    "split_ratio": 0.6,
    "eval_n_samples": 3,
    "split_mask": "gaussian",
    "split_centre": "reference",
    "split_dc": "hard",
}
SIGMA = 0.05


class ZeroFilled(nn.Module):
    """``A^H y``: the network whose losses numpy computes in closed form."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(()))  # something to optimise

    def forward(self, y, physics, **kwargs):
        return self.weight * physics.A_adjoint(y)


# ------------------------------------------------------------------------------------------------ numpy reference


def complex_of(t: torch.Tensor) -> np.ndarray:
    """``(B, 2, T, H, W)`` real/imaginary -> complex ``(B, T, H, W)`` (float64)."""
    a = t.detach().double().numpy()
    return a[:, 0] + 1j * a[:, 1]


def real_of(z: np.ndarray) -> np.ndarray:
    return np.stack([z.real, z.imag], axis=1)


def fft(z: np.ndarray) -> np.ndarray:
    axes = (-2, -1)
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(z, axes=axes), norm="ortho"), axes=axes)


def ifft(z: np.ndarray) -> np.ndarray:
    axes = (-2, -1)
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(z, axes=axes), norm="ortho"), axes=axes)


def forward(x: torch.Tensor, mask: np.ndarray) -> np.ndarray:
    """``M F x`` as real/imaginary channels."""
    return real_of(mask * fft(complex_of(x)))


def zero_filled(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``F^H M F x`` for a real/imaginary ``x`` (numpy)."""
    z = x[:, 0] + 1j * x[:, 1]
    return real_of(ifft(mask * fft(z)))


# ------------------------------------------------------------------------------------------------ fixed inputs


def clone(g: torch.Generator) -> torch.Generator:
    twin = torch.Generator()
    twin.set_state(g.get_state())
    return twin


def line_mask(seed: int) -> torch.Tensor:
    """A k-t mask ``(B, 2, T, H, W)``: random full lines along W (phase encoding), different per frame and sample,
    the centre line always."""
    g = torch.Generator().manual_seed(seed)
    lines = (torch.rand(B, 1, IMG[1], 1, IMG[3], generator=g) < 0.4).float()
    lines[..., IMG[3] // 2] = 1
    return lines.expand(B, 2, *IMG[1:]).contiguous()


@pytest.fixture
def inputs():
    """Ground truth, measurement (noise-free), an unrelated reconstruction and the operator with its mask set."""
    g = torch.Generator().manual_seed(11)
    mask = line_mask(12)
    x = torch.randn(B, *IMG, generator=g)
    physics = make_physics(IMG, 0.0, torch.Generator().manual_seed(13), "cpu")
    physics.update(mask=mask)
    y = physics.A(x)
    x_net = torch.randn(B, *IMG, generator=g)
    return {"x": x, "y": y, "x_net": x_net, "physics": physics, "mask": mask[:, 0].numpy()}


def build(method: str, rng: torch.Generator, noise: float = 0.0, settings: dict | None = None):
    return build_method(
        METHODS[method], ZeroFilled(), LossContext(IMG, rng, noise, settings or SETTINGS, "cpu")
    )


def value(loss, inputs, model, x_net=None, epoch=0) -> float:
    """A loss called as the training step calls it (:func:`ddei.runs.training.train_step`)."""
    i = inputs
    x_net = i["x_net"] if x_net is None else x_net
    out = loss(x=i["x"], x_net=x_net, y=i["y"], physics=i["physics"], model=model, epoch=epoch)
    return float(out.detach().mean())


def test_the_operator_is_the_centred_orthonormal_fft_on_the_mask(inputs):
    """The closed forms below rest on it: ``A x = M F x`` and ``A^H y = F^H M y``."""
    i = inputs
    np.testing.assert_allclose(i["y"].double().numpy(), forward(i["x"], i["mask"]), atol=1e-5)
    back = i["physics"].A_adjoint(i["y"]).double().numpy()
    np.testing.assert_allclose(back, zero_filled(i["x"].double().numpy(), i["mask"]), atol=1e-5)


# ------------------------------------------------------------------------------------------------ each method


def test_sup_is_the_mean_squared_error_to_the_ground_truth(inputs):
    model, (loss,) = build("sup", torch.Generator().manual_seed(0))
    expected = ((inputs["x_net"].double() - inputs["x"].double()) ** 2).mean().item()
    assert value(loss, inputs, model) == pytest.approx(expected, rel=1e-5)


def _mc(inputs) -> float:
    return float(((forward(inputs["x_net"], inputs["mask"]) - inputs["y"].double().numpy()) ** 2).mean())


def _ei(inputs, transformed: torch.Tensor) -> float:
    """EI with the zero-filled network: ``mean((F^H M F T x - T x)^2)``."""
    t = transformed.detach().double().numpy()
    return float(((zero_filled(t, inputs["mask"]) - t) ** 2).mean())


def _per_sample(transform, x: torch.Tensor) -> torch.Tensor:
    """Each sample of ``x`` transformed by its own draw of ``transform``, in batch order."""
    return torch.cat([transform(x[k : k + 1]) for k in range(len(x))])


def test_ei_rotate_is_mc_plus_ei_over_deepinvs_bilinear_rotations(inputs):
    """MC is ``mean((M F x_net - y)^2)``; EI transforms x_net by a rotation of deepinv's (bilinear, angles in
    (-360, 360)), drawn per sample from the run's generator, and compares ``A^H A T x_net`` with ``T x_net``."""
    from deepinv.transform import Rotate
    from torchvision.transforms import InterpolationMode

    rng = torch.Generator().manual_seed(21)
    twin = clone(rng)
    model, (mc, ei) = build("ei-r", rng)
    assert value(mc, inputs, model) == pytest.approx(_mc(inputs), rel=1e-5)
    rotate = Rotate(n_trans=1, rng=twin, interpolation_mode=InterpolationMode.BILINEAR)
    expected = _ei(inputs, _per_sample(rotate, inputs["x_net"].flatten(1, 2)).unflatten(1, (2, IMG[1])))
    assert value(ei, inputs, model) == pytest.approx(expected, rel=1e-5)
    assert torch.equal(
        rng.get_state(), twin.get_state()
    )  # it drew what deepinv's rotation draws, nothing more


def test_ddei_is_mc_plus_ei_over_its_transform(inputs, mode="fixed"):
    """DDEI's EI term transforms x_net by the DDEI group of its ``transform_mode`` (per sample, from the run's
    generator for ``fixed``), the network is applied to ``A T x_net``, the metric is the MSE with weight 1."""
    from ddei.mri.transforms import ddei_transform

    rng = torch.Generator().manual_seed(22)
    twin = clone(rng)
    torch.manual_seed(
        5
    )  # the upstream transform draws from deepinv's fixed-seed generators and the global RNG
    model, (mc, ei) = build("ddei", rng, settings=SETTINGS | {"transform_mode": mode})
    assert value(mc, inputs, model) == pytest.approx(_mc(inputs), rel=1e-5)
    torch.manual_seed(6)
    got = value(ei, inputs, model)
    torch.manual_seed(5)
    group = ddei_transform(mode, rng=twin)
    torch.manual_seed(6)
    expected = _ei(inputs, group(inputs["x_net"]))
    assert got == pytest.approx(expected, rel=1e-5)
    assert torch.equal(rng.get_state(), twin.get_state())


def test_ei_measures_the_transformed_image_with_noise_where_there_is_noise(inputs):
    """With measurement noise, EI measures ``T x_net`` as the data were measured, noise included (the reference's
    EI): with the zero-filled network, ``x3 = F^H M (M F T x_net + n)``, n the operator's next Gaussian draw."""
    from deepinv.transform import Rotate
    from torchvision.transforms import InterpolationMode

    i = inputs
    noise = torch.Generator().manual_seed(31)
    physics = make_physics(IMG, SIGMA, noise, "cpu")
    physics.update(mask=i["physics"].mask)
    rng = torch.Generator().manual_seed(32)
    rotate = Rotate(n_trans=1, rng=clone(rng), interpolation_mode=InterpolationMode.BILINEAR)
    twin = clone(noise)
    model, (_, ei) = build("ei-r", rng, noise=SIGMA)
    got = value(ei, i | {"physics": physics}, model)
    transformed = _per_sample(rotate, i["x_net"].flatten(1, 2)).unflatten(1, (2, IMG[1]))
    # deepinv's draw: a normal_ fill of a tensor laid out as the operator's output
    n = SIGMA * torch.empty_like(physics.A(transformed)).normal_(generator=twin).double().numpy()
    x2 = transformed.double().numpy()
    z2 = x2[:, 0] + 1j * x2[:, 1]
    x3 = real_of(ifft(i["mask"] * (i["mask"] * fft(z2) + n[:, 0] + 1j * n[:, 1])))
    assert got == pytest.approx(float(((x3 - x2) ** 2).mean()), rel=1e-5)


def _sure(inputs, b: torch.Tensor, sigma: float, tau: float) -> float:
    """SURE of the zero-filled network, by hand: ``A f(y) = M y = y`` (noise-free y is already masked), so the
    residual is 0 and the Monte-Carlo divergence ``b . (A f(y + tau b) - A f(y)) / tau`` is ``b . M b``:
    ``loss = 2 sigma^2 mean(M b^2) - sigma^2`` (per sample, then averaged)."""
    m = np.repeat(inputs["mask"][:, None], 2, axis=1)
    bb = b.double().numpy()
    return float((2 * sigma**2 * (m * bb**2).reshape(B, -1).mean(1) - sigma**2).mean())


@pytest.mark.parametrize("method", ["ei-r-sure", "ddei-sure"])
def test_sure_variants_alternate_sure_and_ei(inputs, method):
    """The ``-sure`` methods alternate, call by call, SURE (sigma = the noise level, tau = 0.1, the probe drawn from
    the run's generator) and the same EI term as their MC variant."""
    rng = torch.Generator().manual_seed(23)
    twin = clone(rng)
    model, (scheduler,) = build(method, rng, noise=SIGMA)
    x_net = inputs["physics"].A_adjoint(inputs["y"])  # f(y), as in training
    probe = torch.empty_like(inputs["y"]).normal_(generator=twin)
    got = value(scheduler, inputs, model, x_net=x_net)
    assert got == pytest.approx(_sure(inputs, probe, SIGMA, 0.1), rel=1e-4)
    # with x_net other than f(y) the divergence depends on tau: deepinv's SURE built with tau = 0.1 and sigma
    import deepinv as dinv

    x_other = torch.randn(B, *IMG, generator=torch.Generator().manual_seed(4))
    model2, (scheduler2,) = build(method, torch.Generator().manual_seed(23), noise=SIGMA)
    reference = dinv.loss.SureGaussianLoss(sigma=SIGMA, tau=0.1, rng=torch.Generator().manual_seed(23))
    expected = value(reference, inputs, model2, x_net=x_other)
    assert value(scheduler2, inputs, model2, x_net=x_other) == pytest.approx(expected, rel=1e-5)
    # the next call is the EI term: the same value as the MC variant's EI with the same generator state
    ei_state = clone(rng)
    got_ei = value(scheduler, inputs, model)
    plain = method.removesuffix("-sure")
    _, (_, ei) = build(plain, ei_state)
    assert got_ei == pytest.approx(value(ei, inputs, model), rel=1e-5)
    # and then SURE again
    assert value(scheduler, inputs, model, x_net=x_net) != pytest.approx(got_ei)


def test_phase2phase_feeds_even_frames_and_scores_odd_ones_by_mse(inputs):
    """Phase2Phase: the network sees the even frames (y and mask), its output is scored on the odd frames' measured
    k-space by the MSE, normalised by the fraction of the whole measurement that the odd frames hold."""
    i = inputs
    model, (loss,) = build("phase2phase", torch.Generator().manual_seed(24))
    model.train()
    x_net = model(i["y"], i["physics"], update_parameters=True)
    y = i["y"].double().numpy()
    even, odd = i["mask"][:, 0::2], i["mask"][:, 1::2]
    expected_net = real_of(ifft(even * (y[:, 0, 0::2] + 1j * y[:, 1, 0::2])))
    np.testing.assert_allclose(x_net.detach().double().numpy(), expected_net, atol=1e-5)
    residual = forward(x_net, odd) - y[:, :, 1::2]
    held = np.zeros_like(i["mask"])
    held[:, 1::2] = odd
    expected = (residual**2).mean() / held.mean()
    assert value(loss, i, model, x_net=x_net) == pytest.approx(float(expected), rel=1e-5)


# ------------------------------------------------------------------------------------------------ splitting


def scaled_block(h: int, w: int) -> tuple[int, int]:
    """8x8 scaled to an image as 8x8 is to 512x256, rounded half up, at least 1: by hand at 16x16, 8 * 16 / 512 =
    0.25 -> 1 (the minimum) and 8 * 16 / 256 = 0.5 -> 1; handed to deepinv as the 2x2 around the centre, as deepinv
    keeps the rows c - b // 2 to c + b // 2 - 1 (none for b = 1)."""
    return {(16, 16): (2, 2)}[(h, w)]


def split_generator(split_mask: str, split_centre: str, rng: torch.Generator, ratio: float = 0.6):
    """deepinv's generator of the documented kind, built directly."""
    from deepinv.physics.generator import BernoulliSplittingMaskGenerator, GaussianSplittingMaskGenerator

    if split_mask == "uniform":
        return BernoulliSplittingMaskGenerator(IMG, split_ratio=ratio, rng=rng)
    block = (8, 8) if split_centre == "reference" else scaled_block(*IMG[2:])
    return GaussianSplittingMaskGenerator(IMG, split_ratio=ratio, center_block=block, rng=rng)


SPLITS = [("gaussian", "reference"), ("gaussian", "scaled"), ("uniform", "reference")]


@pytest.mark.parametrize("split_mask, split_centre", SPLITS)
def test_t_ssdu_feeds_the_split_and_scores_the_held_out_measured_points(inputs, split_mask, split_centre):
    """T-SSDU: the input mask is deepinv's generator of ``split_mask`` (Gaussian: the centre block of
    ``split_centre``) with the split ratio, drawn from the run's generator; the network sees ``m y``; the loss is
    the MSE of ``A x_net`` against ``y`` on the measured points held out of the input, ``M - m M``, divided by
    their share of the k-space."""
    i = inputs
    settings = SETTINGS | {"split_mask": split_mask, "split_centre": split_centre}
    rng = torch.Generator().manual_seed(25)
    twin = clone(rng)
    model, (loss,) = build("t-ssdu", rng, settings=settings)
    model.train()
    x_net = model(i["y"], i["physics"], update_parameters=True)
    (kept,) = model.get_masks()
    expected = split_generator(split_mask, split_centre, twin).step(B, input_mask=i["physics"].mask)["mask"]
    assert torch.equal(kept, expected)
    m, measured = kept[:, 0].double().numpy(), i["mask"]
    if split_mask == "gaussian":  # per frame, ceil((1 - ratio) n) of the n measured points are held out
        n = measured.sum(axis=(2, 3))
        assert np.array_equal((m * measured).sum(axis=(2, 3)), n - np.ceil(np.round((1 - 0.6) * n, 9)))
    else:  # int(ratio n) of all n measured points of a sample are kept
        n = measured.sum(axis=(1, 2, 3))
        assert np.array_equal((m * measured).sum(axis=(1, 2, 3)), np.floor(0.6 * n))
    y = complex_of(i["y"])
    np.testing.assert_allclose(x_net.detach().double().numpy(), real_of(ifft(m * measured * y)), atol=1e-5)
    held = measured - m * measured
    residual = real_of(held * fft(complex_of(x_net)) - held * y)
    assert value(loss, i, model, x_net=x_net) == pytest.approx(
        float((residual**2).mean() / held.mean()), rel=1e-5
    )


@pytest.mark.parametrize("split_mask, split_centre", SPLITS[1:])
def test_t_ssdu_star_averages_eval_n_samples_splits_at_test_time(inputs, split_mask, split_centre):
    """T-SSDU*: at test time the network's output is the mean over ``eval_n_samples`` (3) input splits, drawn one
    after the other; T-SSDU's own model sees the whole measurement."""
    i = inputs
    settings = SETTINGS | {"split_mask": split_mask, "split_centre": split_centre}
    rng = torch.Generator().manual_seed(26)
    twin = clone(rng)
    star, _ = build("t-ssdu*", rng, settings=settings)
    star.eval()
    got = star(i["y"], i["physics"]).detach().double().numpy()
    generator = split_generator(split_mask, split_centre, twin)
    y, measured = complex_of(i["y"]), i["mask"]
    splits = [
        generator.step(B, input_mask=i["physics"].mask)["mask"][:, 0].double().numpy() for _ in range(3)
    ]
    expected = np.mean([real_of(ifft(m * measured * y)) for m in splits], axis=0)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    plain, _ = build("t-ssdu", torch.Generator().manual_seed(26), settings=settings)
    plain.eval()
    whole = plain(i["y"], i["physics"]).detach().double().numpy()
    np.testing.assert_allclose(whole, real_of(ifft(measured * y)), atol=1e-5)


@pytest.mark.parametrize("method", ["t-ssdu", "phase2phase"])
def test_hard_data_consistency_stays_lambda_zero_through_training(inputs, method):
    """``split_dc: hard``: the CRNN's DC weight is 0 and an Adam step leaves it at 0 while the other weights move;
    ``learned``: the step moves it."""
    from ddei.mri.models import build_model
    from ddei.runs.training import train_step

    i = inputs
    batch = {"x": i["x"], "y": i["y"], "params": {"mask": i["physics"].mask}}
    for dc in ("hard", "learned"):
        torch.manual_seed(0)
        net = build_model("crnn", num_cascades=1, chans=4)
        context = LossContext(IMG, torch.Generator().manual_seed(0), 0.0, SETTINGS | {"split_dc": dc}, "cpu")
        model, losses = build_method(METHODS[method], net, context)
        before = {k: v.detach().clone() for k, v in net.named_parameters()}
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        train_step(model, losses, batch, i["physics"], optimizer, 0)
        moved = {k for k, v in net.named_parameters() if not torch.equal(v.detach(), before[k])}
        assert moved - {"lam"}, "the network did not train"
        if dc == "hard":
            assert torch.equal(before["lam"], torch.zeros_like(before["lam"])) and "lam" not in moved
        else:
            assert "lam" in moved
