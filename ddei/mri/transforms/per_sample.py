"""A transform drawn independently for every sample of a batch."""

from __future__ import annotations

import torch
from deepinv.transform import Transform
from deepinv.transform.base import TransformParam

from ddei.mri.transforms.base import _keep_sign, _prefixed, _sub_params
from ddei.mri.transforms.combinations import Combination


class PerSampleTransform(Combination):
    r"""Draw the wrapped transform independently for every sample of a batch.

    The reference trains with batch size 1, so each sample gets its own random transform. deepinv's transforms
    draw one set of parameters per call and apply it to the whole batch (a :class:`ChoiceTransform` makes one
    choice, a :class:`Rotate` one angle). This wrapper draws, sample by sample and in batch order, everything the
    wrapped transform draws (its choice, CPAB velocity field, angle or shift) from its generator, and applies each
    sample's own transform. With batch size 1 it draws and computes exactly what the wrapped transform does.

    Parameters are stored per sample under ``"<i>/"`` (and the batch size under ``"n"``), so ``transform`` and
    ``inverse`` with those parameters are deterministic.

    :param Transform transform: the transform drawn per sample (``n_trans == 1``).
    """

    def __init__(self, transform: Transform):
        if transform.n_trans != 1:
            raise ValueError(
                f"PerSampleTransform draws one transform per sample: n_trans must be 1, got {transform.n_trans}"
            )
        super().__init__(n_trans=1, rng=transform.rng, flatten_video_input=False)
        self.inner = transform
        self.constant_shape = transform.constant_shape

    def get_params(self, x: torch.Tensor) -> dict:
        """Draw the wrapped transform's parameters for each sample of ``x``, in batch order.

        :param torch.Tensor x: batch of images or videos.
        :return: ``{"n": batch size, "<i>/<name>": ...}``.
        """
        params = {"n": TransformParam(torch.tensor([len(x)]), neg=_keep_sign)}
        for i in range(len(x)):
            params |= _prefixed(self.inner.get_params(x[i : i + 1]), f"{i}/")
        return params

    def _samples(self, x: torch.Tensor, params: dict) -> int:
        if "n" not in params:
            raise ValueError("PerSampleTransform parameters must contain 'n' (use get_params)")
        n = int(torch.as_tensor(params["n"]).flatten()[0])
        if n != len(x):
            raise ValueError(f"parameters drawn for a batch of {n}, applied to a batch of {len(x)}")
        return n

    def transform(self, x: torch.Tensor, **params) -> torch.Tensor:
        """Apply each sample's transform to it.

        :param torch.Tensor x: batch of images or videos.
        :param params: parameters from :meth:`get_params`.
        """
        n = self._samples(x, params)
        return torch.cat(
            [self.inner.transform(x[i : i + 1], **_sub_params(params, f"{i}/")) for i in range(n)]
        )

    def inverse(self, x: torch.Tensor, batchwise: bool = True, **params) -> torch.Tensor:
        """Undo each sample's transform (random parameters if none are given).

        :param torch.Tensor x: transformed batch.
        :param bool batchwise: no effect (one transform per sample).
        :param params: parameters from :meth:`get_params`.
        """
        params = params if params else self.get_params(x)
        n = self._samples(x, params)
        return torch.cat([self.inner.inverse(x[i : i + 1], **_sub_params(params, f"{i}/")) for i in range(n)])
