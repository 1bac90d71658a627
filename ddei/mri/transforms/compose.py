"""Transforms in sequence (deepinv's ``*``, fixed for video)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from deepinv.transform import Transform

from ddei.mri.transforms.base import Combination, _prefixed, _sub_params


class ComposeTransform(Combination):
    r"""Apply sub-transforms in sequence (deepinv's ``*``, generalised and fixed for video input).

    Each sub-transform is applied through its public ``get_params``/``transform`` (its own handling of video
    input). Parameters are drawn for every sub-transform from the input (as deepinv does), stored under
    ``"<i>."``; :meth:`inverse` undoes the sub-transforms in reverse order.

    :param Sequence[Transform] transforms: sub-transforms, applied first to last.
    """

    def __init__(self, transforms: Sequence[Transform]):
        transforms = list(transforms)
        if not transforms:
            raise ValueError("ComposeTransform needs at least one transform")
        super().__init__(n_trans=math.prod(t.n_trans for t in transforms), flatten_video_input=False)
        self.transforms = torch.nn.ModuleList(transforms)
        self.constant_shape = all(t.constant_shape for t in transforms)

    def get_params(self, x: torch.Tensor) -> dict:
        """Draw parameters of every sub-transform.

        :param torch.Tensor x: input image or video.
        """
        params = {}
        for i, t in enumerate(self.transforms):
            params |= _prefixed(t.get_params(x), f"{i}.")
        return params

    def transform(self, x: torch.Tensor, **params) -> torch.Tensor:
        """Apply the sub-transforms in order.

        :param torch.Tensor x: input image or video.
        :param params: parameters from :meth:`get_params`.
        """
        for i, t in enumerate(self.transforms):
            x = t.transform(x, **_sub_params(params, f"{i}."))
        return x

    def inverse(self, x: torch.Tensor, batchwise: bool = True, **params) -> torch.Tensor:
        """Undo the sub-transforms in reverse order (random parameters if none are given).

        :param torch.Tensor x: transformed image or video.
        :param bool batchwise: ``False`` is supported only when ``n_trans == 1`` (where it changes nothing).
        :param params: parameters from :meth:`get_params`.
        """
        if not batchwise and self.n_trans > 1:
            raise NotImplementedError("ComposeTransform.inverse(batchwise=False) needs n_trans == 1")
        params = params if params else self.get_params(x)
        for i in reversed(range(len(self.transforms))):
            x = self.transforms[i].inverse(x, **_sub_params(params, f"{i}."))
        return x
