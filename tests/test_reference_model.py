"""Loading the reference implementation's trained CRNN (:mod:`ddei.mri.models.reference`).

A reference-format state dict (random weights, random lambda) is taken from the port of the reference
architecture in ``tests/reference_crnn.py``; the model :func:`load_reference_state_dict` builds from it must give the
port's output.
"""

from __future__ import annotations

import ddei  # noqa: F401  (must be imported before deepinv)

# isort: split
import math

import numpy as np
import pytest
import reference_crnn as ref
import torch
from deepinv.physics import DynamicMRI

from ddei.mri.models import CRNN
from ddei.mri.models.reference import (
    REFERENCE_KEY_MAP,
    TRANSPOSED_KEYS,
    load_reference_state_dict,
    reference_to_crnn_state_dict,
)

T, H, W = 6, 20, 14  # H != W: the reference convolves (W, H) frames
CHANS = 8
LAMBDA = 0.3172  # not the initial value log(e - 1), so that lambda must really be loaded


def reference_model(chans: int = CHANS, seed: int = 0) -> ref.ArtifactRemovalCRNN:
    """The reference ``ArtifactRemovalCRNN(CRNN(num_cascades=2))`` with random weights (unit gain) and lambda."""
    torch.manual_seed(seed)
    model = ref.ArtifactRemovalCRNN(ref.CRNN(num_cascades=2, chans=chans))
    with torch.no_grad():
        for p in model.parameters():  # also randomise the biases (PyTorch initialises them small)
            p.copy_(torch.randn_like(p) * (0.1 if p.ndim == 1 else p[0].numel() ** -0.5))
        model.backbone_net.datalayer.lambda_.fill_(LAMBDA)
    return model


def problem(batch: int = 1, seed: int = 1) -> tuple[torch.Tensor, DynamicMRI]:
    """Random k-space and a random k-t mask of lines along W (ky), centre line always sampled."""
    g = torch.Generator().manual_seed(seed)
    lines = (torch.rand(batch, 1, T, 1, W, generator=g) < 0.4).float()
    lines[..., W // 2] = 1.0
    physics = DynamicMRI(mask=lines.expand(batch, 2, T, H, W).clone())
    y = physics.A(torch.randn(batch, 2, T, H, W, generator=g))
    return y, physics


def test_key_layout_is_the_reference_architecture():
    theirs = reference_model(chans=64)
    state = theirs.state_dict()
    assert set(state) == set(REFERENCE_KEY_MAP), "documented layout != the reference module tree"
    assert len(REFERENCE_KEY_MAP) == 27 and "backbone_net.datalayer.lambda_" in state
    assert sum(v.numel() for v in state.values()) == 372_867  # the paper's count, lambda included
    assert TRANSPOSED_KEYS == {k for k, v in state.items() if v.ndim == 4}
    # every key of our CRNN is the image of exactly one reference key
    assert sorted(REFERENCE_KEY_MAP.values()) == sorted(CRNN(chans=64).state_dict())


def test_mapped_model_matches_reference():
    theirs = reference_model()
    ours = load_reference_state_dict(theirs.state_dict())
    assert isinstance(ours, CRNN) and not ours.training
    assert ours.num_cascades == 2 and ours.chans == CHANS and ours.shared_dc
    assert not ours.lam.requires_grad and ours.lam.item() == pytest.approx(LAMBDA)
    for seed in (1, 2):
        y, physics = problem(seed=seed)
        with torch.no_grad():
            expected = theirs(y, physics)
            out = ours(y, physics)
        assert expected.shape == out.shape == (1, 2, T, H, W)
        scale = expected.abs().max()
        assert scale > 1
        assert torch.allclose(out, expected, atol=1e-5 * scale, rtol=0), (out - expected).abs().max()
    # our model also takes batches (which the reference only handles one video at a time)
    y, physics = problem(batch=2, seed=3)
    with torch.no_grad():
        batched = ours(y, physics)
        singles = torch.cat(
            [theirs(y[i : i + 1], DynamicMRI(mask=physics.mask[i : i + 1])) for i in range(2)]
        )
    assert torch.allclose(batched, singles, atol=1e-5 * singles.abs().max(), rtol=0)


def test_wrong_mapping_is_detected():
    """The comparison is sensitive to the transposition, to the lambda and to the key pairing."""
    theirs = reference_model()
    y, physics = problem()
    with torch.no_grad():
        expected = theirs(y, physics)
    state = reference_to_crnn_state_dict(theirs.state_dict())
    untransposed = {k: v.transpose(-1, -2) if v.ndim == 4 else v for k, v in state.items()}
    swapped = dict(
        state,
        **{"convs_h.0.weight": state["convs_h.1.weight"], "convs_h.1.weight": state["convs_h.0.weight"]},
    )
    default_lam = dict(state, lam=torch.full((1,), math.log(math.e - 1)))
    for broken in (untransposed, swapped, default_lam):
        model = CRNN(chans=CHANS, learn_lam=False)
        model.load_state_dict(broken)
        with torch.no_grad():
            out = model(y, physics)
        assert not torch.allclose(out, expected, atol=1e-2 * expected.abs().max(), rtol=0)


def test_checkpoint_files_and_prefixes(tmp_path):
    theirs = reference_model()
    state = theirs.state_dict()
    y, physics = problem()
    with torch.no_grad():
        expected = load_reference_state_dict(state)(y, physics)
    # deepinv.Trainer's checkpoint format, the bare state dict, DataParallel and bare-CRNN key prefixes
    path = tmp_path / "ckp.pth.tar"
    torch.save({"epoch": 3, "state_dict": state, "loss": [1.0, 0.5], "optimizer": None}, path)
    bare = tmp_path / "bare.pt"
    torch.save(state, bare)
    variants = [
        path,
        str(bare),
        {f"module.{k}": v for k, v in state.items()},
        theirs.backbone_net.state_dict(),
    ]
    for variant in variants:
        with torch.no_grad():
            assert torch.equal(load_reference_state_dict(variant)(y, physics), expected)
    assert load_reference_state_dict(state, num_cascades=3).num_cascades == 3
    # a history holding objects that weights_only refuses: a clear error, or loading when trusted
    pickled = tmp_path / "numpy.pth"
    torch.save({"state_dict": state, "eval_metrics": [np.float64(30.0)]}, pickled)
    with pytest.raises(ValueError, match="trust_pickle=True"):
        load_reference_state_dict(pickled)
    with torch.no_grad():
        assert torch.equal(load_reference_state_dict(pickled, trust_pickle=True)(y, physics), expected)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_reference_state_dict(tmp_path / "missing.pth")


def test_clear_errors():
    state = reference_model().state_dict()
    missing = {k: v for k, v in state.items() if k != "backbone_net.datalayer.lambda_"}
    with pytest.raises(ValueError, match=r"missing keys \['backbone_net.datalayer.lambda_'\]"):
        load_reference_state_dict(missing)
    with pytest.raises(ValueError, match=r"unexpected keys \['backbone_net.extra.weight'\]"):
        load_reference_state_dict(dict(state, **{"backbone_net.extra.weight": torch.zeros(1)}))
    wrong = dict(state, **{"backbone_net.conv2_h.weight": torch.zeros(CHANS, CHANS + 1, 3, 3)})
    with pytest.raises(ValueError, match=r"backbone_net.conv2_h.weight \(8, 9, 3, 3\)"):
        load_reference_state_dict(wrong)
    with pytest.raises(ValueError, match="square convolution kernel"):
        load_reference_state_dict(dict(state, **{"backbone_net.conv4_x.weight": torch.zeros(2, CHANS, 3, 1)}))
    # our own CRNN's state dict is not mistaken for the reference's
    with pytest.raises(ValueError, match="missing keys"):
        load_reference_state_dict(CRNN(chans=CHANS).state_dict())
