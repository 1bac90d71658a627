"""What every transform of :mod:`ddei.mri.transforms` shares: explicit generators and the parameters of
combinations."""

from __future__ import annotations

import torch


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


def _sub_params(params: dict, prefix: str) -> dict:
    """Parameters of one sub-transform, stored under ``prefix`` (e.g. ``"1."``) in a combined dict."""
    return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}


def _prefixed(params: dict, prefix: str) -> dict:
    return {f"{prefix}{k}": v for k, v in params.items()}


def _keep_sign(p: torch.Tensor) -> torch.Tensor:
    return p
