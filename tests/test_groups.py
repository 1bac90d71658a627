"""DDEI's group without its time shift (``transform_mode: spatial``): diffeomorphisms and rotations only, checked
on a video whose frames are constants, which any spatial transform leaves frame by frame and a time shift reorders."""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import torch

from ddei.mri.transforms import ChoiceTransform, Diffeomorphism, PerSampleTransform, Rotate, ddei_transform


def _centres(mode: str, draws: int = 40) -> list[torch.Tensor]:
    levels = torch.arange(1.0, 7.0)  # frame t is the constant t + 1 (real channel), 0 (imaginary)
    x = torch.zeros(1, 2, 6, 16, 16)
    x[:, 0] = levels[:, None, None]
    transform = ddei_transform(mode, rng=torch.Generator().manual_seed(0))
    return [transform(x)[0, 0, :, 8, 8] for _ in range(draws)]


def test_spatial_mode_is_diffeomorphisms_and_rotations_alone():
    group = ddei_transform("spatial", rng=torch.Generator().manual_seed(0))
    assert isinstance(group, PerSampleTransform) and isinstance(group.inner, ChoiceTransform)
    assert [type(t) for t in group.inner.transforms] == [Diffeomorphism, Rotate]
    assert group.inner.weights.tolist() == [0.5, 0.5]


def test_spatial_mode_never_moves_a_frame_and_fixed_mode_does():
    levels = torch.arange(1.0, 7.0)
    assert all(torch.allclose(c, levels, atol=1e-4) for c in _centres("spatial"))
    assert any(not torch.allclose(c, levels, atol=1e-4) for c in _centres("fixed"))  # the time shift, 1 in 2
