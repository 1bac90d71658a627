"""What every transform of :mod:`ddei.mri.transforms` shares: explicit generators, the ``|`` and ``*`` operators,
and the parameters of combinations."""

from __future__ import annotations

import torch
from deepinv.transform import Transform


def make_rng(rng: torch.Generator | None = None) -> torch.Generator:
    """Return ``rng``, or a new CPU generator seeded from the global RNG if ``rng`` is ``None``.

    Unlike deepinv's default (``torch.Generator()``, the same fixed seed for every transform), two transforms
    built without a generator draw different streams, and ``torch.manual_seed`` makes them reproducible.

    :param torch.Generator, None rng: generator to use as is.
    :return: a generator.
    """
    if rng is not None:
        return rng
    seed = int(torch.randint(0, 2**62, (1,)).item())
    return torch.Generator().manual_seed(seed)


class _Combinable:
    """Mixin: ``a | b`` builds a :class:`ChoiceTransform` and ``a * b`` a :class:`ComposeTransform`.

    Both keep each operand's own handling of 5D input, unlike deepinv's operators (see the module docstring).
    The choice of ``a | b`` draws from ``a.rng``.
    """

    def __or__(self, other: Transform) -> Transform:
        from ddei.mri.transforms.choice import ChoiceTransform

        return ChoiceTransform([self, other], rng=self.rng)

    def __mul__(self, other: Transform) -> Transform:
        from ddei.mri.transforms.compose import ComposeTransform

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


def _sub_params(params: dict, prefix: str) -> dict:
    """Parameters of one sub-transform, stored under ``prefix`` (e.g. ``"1."``) in a combined dict."""
    return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}


def _prefixed(params: dict, prefix: str) -> dict:
    return {f"{prefix}{k}": v for k, v in params.items()}


def _keep_sign(p: torch.Tensor) -> torch.Tensor:
    return p
