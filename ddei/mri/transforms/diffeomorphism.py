"""CPAB diffeomorphisms, a drop-in for deepinv's ``CPABDiffeomorphism``."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from deepinv.transform import Transform
from deepinv.transform.base import TransformParam

from ddei.mri.transforms.base import make_rng
from ddei.mri.transforms.combinations import _Combinable
from ddei.mri.transforms.cpab import _tess_size, cpab_basis, cpab_integrate, uniform_meshgrid


class Diffeomorphism(_Combinable, Transform):
    r"""Continuous piecewise-affine-based (CPAB) diffeomorphism, drop-in for deepinv's ``CPABDiffeomorphism``.

    Same transformation family and defaults as :class:`deepinv.transform.CPABDiffeomorphism` (libcpab
    tessellation of ``[0, 1]^2`` into ``n_tesselation^2`` squares of 4 triangles, zero boundary, volume
    preservation, parameters ``theta ~ N(0, I)``, 50 integration steps, bilinear sampling with border
    clamping), without its defects: parameters come from ``rng``, the basis from :func:`cpab_basis` (no file
    written under ``site-packages``), and the grid is integrated once per parameter vector.

    Video input is flattened to ``(B, C*T, H, W)``: one warp for all frames and both channels of a video (and,
    with ``constant_batch``, of all videos of the batch). :meth:`inverse` warps with ``-theta``, the inverse
    flow (exact up to integration and interpolation error).

    :param int n_trans: number of warped versions per input.
    :param bool constant_batch: if ``True``, all images in a batch are warped with the same parameters.
    :param int, tuple n_tesselation: number of cells along each dimension.
    :param bool zero_boundary: zero velocity on the image boundary.
    :param bool volume_perservation: volume-preserving (zero-divergence) velocity fields (deepinv's spelling).
    :param str, torch.device device: device of the basis (it also follows ``.to()`` and the input's device).
    :param torch.Generator, None rng: random number generator, see :func:`make_rng`.
    :param int nstepsolver: integration steps (libcpab's default 50).
    :param str backend: ``"torch"`` (vectorised integrator + ``grid_sample``) or ``"libcpab"`` (libcpab's own
        pure-torch integrator and interpolation, for comparison).
    :param str, os.PathLike, None cache_dir: optional on-disk basis cache, see :func:`cpab_basis`.
    """

    def __init__(
        self,
        *args,
        constant_batch: bool = True,
        n_tesselation: int | Sequence[int] = 3,
        zero_boundary: bool = True,
        volume_perservation: bool = True,
        device: str | torch.device = "cpu",
        rng: torch.Generator | None = None,
        nstepsolver: int = 50,
        backend: str = "torch",
        cache_dir: str | os.PathLike | None = None,
        **kwargs,
    ):
        kwargs.pop("override", None)  # deepinv/libcpab option to rewrite the basis file: meaningless here
        super().__init__(*args, rng=make_rng(rng), **kwargs)
        if backend not in ("torch", "libcpab"):
            raise ValueError(f"backend must be 'torch' or 'libcpab', got {backend!r}")
        self.constant_batch = constant_batch
        self.nc = _tess_size(n_tesselation)
        self.zero_boundary = zero_boundary
        self.volume_perservation = volume_perservation
        self.nstepsolver = int(nstepsolver)
        self.backend = backend
        basis = cpab_basis(self.nc, zero_boundary, volume_perservation, cache_dir=cache_dir)
        self.register_buffer(
            "basis", torch.tensor(basis, dtype=torch.float32, device=device), persistent=False
        )

    @property
    def theta_dim(self) -> int:
        """Dimension ``d`` of the parameter vector."""
        return self.basis.shape[1]

    def _get_params(self, x: torch.Tensor) -> dict:
        """Draw ``theta ~ N(0, I)``: ``n_trans`` vectors, or ``n_trans * len(x)`` if not ``constant_batch``.

        :param torch.Tensor x: input image.
        """
        n = self.n_trans * (1 if self.constant_batch else len(x))
        return {"diffeo": torch.randn(n, self.theta_dim, generator=self.rng, device=self.rng.device)}

    def warp_grid(self, theta: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Transformed sampling points, ``(n, 2, H*W)`` in libcpab's layout (see :func:`uniform_meshgrid`).

        :param torch.Tensor theta: ``(n, d)`` parameters.
        :param tuple size: ``(H, W)``.
        """
        basis = self.basis
        theta = theta.as_subclass(torch.Tensor).to(basis.device, torch.float32)
        grid = uniform_meshgrid(size, device=basis.device)
        with torch.no_grad():
            if self.backend == "libcpab":
                from libcpab.transformer import CPAB_transformer_slow

                return CPAB_transformer_slow(grid, theta, self._libcpab_params())
            return cpab_integrate(grid, theta, basis, self.nc, self.nstepsolver)

    def _libcpab_params(self):
        from types import SimpleNamespace

        return SimpleNamespace(
            nc=list(self.nc),
            ndim=2,
            Ashape=[2, 3],
            nC=4 * self.nc[0] * self.nc[1],
            basis=self.basis.cpu().numpy(),
            nstepsolver=self.nstepsolver,
        )

    def _transform(
        self,
        x: torch.Tensor,
        diffeo: torch.Tensor | TransformParam = tuple(),
        **kwargs,
    ) -> torch.Tensor:
        """Warp ``x`` (``(B, C, H, W)``) with each parameter vector; outputs stacked along the batch dimension.

        :param torch.Tensor x: input image.
        :param torch.Tensor diffeo: ``(n_trans, d)`` parameters, or ``(n_trans * B, d)`` if not ``constant_batch``.
        """
        H, W = x.shape[-2:]
        points = self.warp_grid(diffeo, (H, W)).to(x.device)  # (n, 2, H*W)
        if self.constant_batch:
            points = points.repeat_interleave(len(x), dim=0)
        x = torch.cat([x] * (len(points) // len(x)))
        if self.backend == "libcpab":
            from libcpab.interpolation import interpolate

            return interpolate(2, x, points, (H, W))
        # (n, 2, H*W) with H fastest -> grid_sample's (n, H, W, [w, h]) in [-1, 1]
        grid = points.reshape(len(points), 2, W, H).permute(0, 3, 2, 1).flip(-1) * 2 - 1
        return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="border", align_corners=True)
