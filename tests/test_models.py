"""Tests of the reconstruction backbones (:mod:`ddei.mri.models`)."""

from __future__ import annotations

import ddei  # noqa: F401  (must be imported before deepinv)

# isort: split
import math
import warnings

import pytest
import torch
from deepinv.loss import SplittingLoss
from deepinv.loss.mri import Phase2PhaseLoss
from deepinv.physics import DynamicMRI
from reference_crnn import reference_forward  # port of the reference CRNN (tests/reference_crnn.py)

from ddei.mri.models import CRNN, available_models, build_model

B, T, H, W = 2, 12, 16, 16
CHANS = 8


def make_problem(batch: int = B, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, DynamicMRI]:
    """Random video, k-t Cartesian mask (lines along H = kx, varying over time) and measurements."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 2, T, H, W, generator=g)
    lines = (torch.rand(batch, 1, T, 1, W, generator=g) < 0.4).float()
    lines[..., W // 2] = 1.0  # always sample the centre line
    physics = DynamicMRI(mask=lines.expand(batch, 2, T, H, W).clone())
    return x, physics(x), physics


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_param_count_paper_config():
    model = CRNN(num_cascades=2, chans=64, kernel_size=3, shared_dc=True)
    assert n_params(model) == 372_867
    assert model.lam.numel() == 1
    assert model.lam.item() == pytest.approx(math.log(math.e - 1))
    assert n_params(CRNN(num_cascades=5, chans=64)) == 372_867  # convolutions shared by cascades
    assert n_params(CRNN(num_cascades=5, chans=64, shared_dc=False)) == 372_866 + 5
    frozen = CRNN(chans=64, learn_lam=False)
    assert n_params(frozen) == 372_867
    assert sum(p.numel() for p in frozen.parameters() if p.requires_grad) == 372_866


def test_output_shape_and_matches_reference():
    torch.manual_seed(0)
    x, y, physics = make_problem()
    for shared in (True, False):
        model = CRNN(num_cascades=3, chans=CHANS, shared_dc=shared)
        with torch.no_grad():
            model.lam.copy_(torch.linspace(0.2, 0.7, model.lam.numel()))
            out = model(y, physics)
            ref = reference_forward(model, y, physics.mask)
        assert out.shape == x.shape
        assert torch.allclose(out, ref, atol=1e-5)


def test_hard_data_consistency():
    _, y, physics = make_problem()
    model = CRNN(chans=CHANS, lam_init=0.0)
    with torch.no_grad():
        out = model(y, physics)
    sampled = physics.mask.bool()
    assert torch.allclose(physics.A(out)[sampled], y[sampled], atol=1e-5)
    # with the default (soft) lam the sampled k-space is a mix of y and the network output
    with torch.no_grad():
        soft = CRNN(chans=CHANS)(y, physics)
    assert not torch.allclose(physics.A(soft)[sampled], y[sampled], atol=1e-3)


def test_uses_mask_of_given_physics():
    """The DC must use the (split) mask of the physics passed in, as SplittingLoss does."""
    _, y, physics = make_problem()
    split = (torch.rand(B, 2, T, H, W, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    y1, physics1 = SplittingLoss.split(split, y, physics)
    assert torch.equal(physics1.mask, split * physics.mask)
    model = CRNN(chans=CHANS, lam_init=0.0)
    with torch.no_grad():
        out = model(y1, physics1)
    kept, held_out = physics1.mask.bool(), (physics.mask - physics1.mask).bool()
    assert torch.allclose(physics.A(out)[kept], y[kept], atol=1e-5)
    assert not torch.allclose(physics.A(out)[held_out], y[held_out], atol=1e-3)


def test_gradients_reach_lam_and_convs():
    x, y, physics = make_problem(batch=1)
    model = CRNN(chans=CHANS)
    torch.nn.functional.mse_loss(model(y, physics), x).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    model = CRNN(num_cascades=2, chans=CHANS, shared_dc=False)
    torch.nn.functional.mse_loss(model(y, physics), x).backward()
    assert model.lam.grad.shape == (2,) and (model.lam.grad != 0).all()


def test_batch_and_determinism():
    _, y, physics = make_problem(batch=2)
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = CRNN(chans=CHANS)
        with torch.no_grad():
            outs.append(model(y, physics))
    assert torch.equal(outs[0], outs[1])
    # batch elements are processed independently
    with torch.no_grad():
        single = model(y[1:], DynamicMRI(mask=physics.mask[1:]))
    assert torch.allclose(outs[1][1:], single, atol=1e-5)


@pytest.mark.parametrize("name", ["crnn", "unet"])
@pytest.mark.parametrize("loss_name", ["splitting", "phase2phase"])
def test_adapt_model_wrappers(name, loss_name):
    torch.manual_seed(0)
    x, y, physics = make_problem()
    if loss_name == "splitting":
        loss = SplittingLoss(split_ratio=0.6, eval_n_samples=2)
    else:
        loss = Phase2PhaseLoss(img_size=(2, T, H, W), dynamic_model=True)
    model = loss.adapt_model(build_model(name, chans=CHANS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Mask generator not defined" from SplittingModel
        model.train()
        x_net = model(y, physics, update_parameters=True)
        value = loss(x_net=x_net, y=y, physics=physics, model=model)
        value.mean().backward()
        assert torch.isfinite(value).all()
        assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
        model.eval()
        with torch.no_grad():
            x_eval = model(y, physics)
    assert x_eval.shape == x.shape
    assert torch.isfinite(x_eval).all()
    assert physics.mask.shape == (B, 2, T, H, W)  # the wrappers must not change the caller's physics


def test_build_model_registry():
    assert available_models() == ["crnn", "unet"]
    assert isinstance(build_model("CRNN", chans=CHANS), CRNN)
    assert n_params(build_model("crnn")) == 372_867
    _, y, physics = make_problem()
    with torch.no_grad():
        assert build_model("unet", chans=4)(y, physics).shape == y.shape
    with pytest.raises(ValueError, match="crnn.*unet"):
        build_model("resnet")
    with pytest.raises(TypeError):
        build_model("crnn", not_an_argument=1)


def test_input_validation():
    with pytest.raises(ValueError):
        CRNN(num_cascades=0)
    with pytest.raises(ValueError):
        CRNN(kernel_size=4)
    _, y, physics = make_problem()
    with pytest.raises(ValueError):
        CRNN(chans=CHANS)(y[:, :1], physics)
