"""Rotations, bilinear, with an explicit generator."""

from __future__ import annotations

import torch
from deepinv.transform import Rotate as _DinvRotate
from torchvision.transforms import InterpolationMode

from ddei.mri.transforms.base import make_rng
from ddei.mri.transforms.combinations import _Combinable


class Rotate(_Combinable, _DinvRotate):
    r"""deepinv's :class:`deepinv.transform.Rotate` with bilinear interpolation (as the reference) and explicit rng.

    Video input is flattened to ``(B, C*T, H, W)``; ``torchvision``'s rotation applies one sampling grid to all
    channels, so every frame and both the real and imaginary channel are rotated by the same angle. Angles are
    deepinv's: integers in ``(-limits, limits)`` without replacement over ``n_trans``.

    :param int n_trans: number of rotated versions per input.
    :param float limits: angles are drawn in ``(-limits, limits)`` degrees.
    :param str, InterpolationMode interpolation_mode: defaults to bilinear.
    :param torch.Generator, None rng: random number generator, see :func:`make_rng`.
    """

    def __init__(
        self,
        *args,
        interpolation_mode: str | InterpolationMode = InterpolationMode.BILINEAR,
        rng: torch.Generator | None = None,
        **kwargs,
    ):
        super().__init__(*args, interpolation_mode=interpolation_mode, rng=make_rng(rng), **kwargs)
