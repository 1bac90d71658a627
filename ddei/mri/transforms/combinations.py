"""The combinations of transforms: a random choice (deepinv's ``|``) and a sequence (deepinv's ``*``), fixed for
video, and the ``|`` and ``*`` operators of every transform of :mod:`ddei.mri.transforms`, which build them.

The operators and the two combinations live in one module, as in deepinv's ``transform/base.py``: each
combination has the operators, and the operators build each combination.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from deepinv.transform import Transform
from deepinv.transform.base import TransformParam

from ddei.mri.transforms.base import _keep_sign, _prefixed, _sub_params, make_rng


class _Combinable:
    """Mixin: ``a | b`` builds a :class:`ChoiceTransform` and ``a * b`` a :class:`ComposeTransform`.

    Both keep each operand's own handling of 5D input, unlike deepinv's operators (see
    :mod:`ddei.mri.transforms`). The choice of ``a | b`` draws from ``a.rng``.
    """

    def __or__(self, other: Transform) -> Transform:
        return ChoiceTransform([self, other], rng=self.rng)

    def __mul__(self, other: Transform) -> Transform:
        return ComposeTransform([self, other])


class Combination(_Combinable, Transform):
    """Base of the transforms made of others (:class:`ChoiceTransform`, :class:`ComposeTransform`,
    :class:`PerSampleTransform`): each applies its parts through their public ``get_params``/``transform``.

    deepinv's own ``|`` and ``*`` call the private ``_get_params``/``_transform`` on an already prepared input;
    delegating them to the public methods keeps those operators working (a :class:`TimeShift` inside then refuses
    a flattened video instead of silently shifting channels).
    """

    def _get_params(self, x: torch.Tensor) -> dict:
        return self.get_params(x)

    def _transform(self, x: torch.Tensor, **params) -> torch.Tensor:
        return self.transform(x, **params)


class ChoiceTransform(Combination):
    r"""Apply one sub-transform, chosen at random per call (deepinv's ``|``, generalised and fixed).

    Each sub-transform is applied through its public ``get_params``/``transform``, so it keeps its own
    handling of video input (unlike deepinv's ``|``, see :mod:`ddei.mri.transforms`). The choice is drawn from
    ``rng`` and stored in the parameters (key ``"choice"``; sub-transform parameters under ``"<k>."``), so
    ``transform(x, **params)`` and ``inverse(x, **params)`` are deterministic. Only the chosen sub-transform
    draws parameters.

    :param Sequence[Transform] transforms: sub-transforms (all with the same ``n_trans``).
    :param Sequence[float], None weights: choice probabilities (normalised); uniform if ``None``.
    :param torch.Generator, None rng: random number generator, see :func:`make_rng`.
    """

    def __init__(
        self,
        transforms: Sequence[Transform],
        weights: Sequence[float] | None = None,
        rng: torch.Generator | None = None,
    ):
        transforms = list(transforms)
        if not transforms:
            raise ValueError("ChoiceTransform needs at least one transform")
        n_trans = {t.n_trans for t in transforms}
        if len(n_trans) != 1:
            raise ValueError(f"sub-transforms must share n_trans, got {sorted(n_trans)}")
        super().__init__(n_trans=n_trans.pop(), rng=make_rng(rng), flatten_video_input=False)
        self.transforms = torch.nn.ModuleList(transforms)
        self.constant_shape = all(t.constant_shape for t in transforms)
        w = (
            torch.ones(len(transforms), dtype=torch.float64)
            if weights is None
            else torch.as_tensor(weights, dtype=torch.float64)
        )
        if w.shape != (len(transforms),) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(
                f"weights must be {len(transforms)} non-negative numbers, not all zero; got {weights}"
            )
        self.weights = w / w.sum()
        self.recent_choice: int | None = None

    def choose(self) -> int:
        """Draw the index of a sub-transform."""
        return int(torch.multinomial(self.weights.to(self.rng.device), 1, generator=self.rng).item())

    def get_params(self, x: torch.Tensor) -> dict:
        """Choose a sub-transform and draw its parameters.

        :param torch.Tensor x: input image or video.
        :return: ``{"choice": k, "<k>.<name>": ...}``.
        """
        k = self.choose()
        params = _prefixed(self.transforms[k].get_params(x), f"{k}.")
        return {"choice": TransformParam(torch.tensor([k]), neg=_keep_sign), **params}

    def _split(self, params: dict) -> tuple[int, dict]:
        if "choice" not in params:
            raise ValueError("ChoiceTransform parameters must contain 'choice' (use get_params)")
        k = int(torch.as_tensor(params["choice"]).flatten()[0])
        self.recent_choice = k
        return k, _sub_params(params, f"{k}.")

    def transform(self, x: torch.Tensor, **params) -> torch.Tensor:
        """Apply the chosen sub-transform with its parameters.

        :param torch.Tensor x: input image or video.
        :param params: parameters from :meth:`get_params`.
        """
        k, sub = self._split(params)
        return self.transforms[k].transform(x, **sub)

    def inverse(self, x: torch.Tensor, batchwise: bool = True, **params) -> torch.Tensor:
        """Invert the chosen sub-transform (random parameters if none are given).

        :param torch.Tensor x: transformed image or video.
        :param bool batchwise: see :meth:`deepinv.transform.Transform.inverse`.
        :param params: parameters from :meth:`get_params`.
        """
        k, sub = self._split(params if params else self.get_params(x))
        return self.transforms[k].inverse(x, batchwise=batchwise, **sub)


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
