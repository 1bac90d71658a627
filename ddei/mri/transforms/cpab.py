"""The CPAB tessellation basis (computed once, cached outside site-packages) and a vectorised re-implementation of
libcpab's integrator."""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ddei.io.files import atomic_write


def default_cache_dir() -> Path:
    """User cache directory for CPAB bases: ``$XDG_CACHE_HOME/ddei/cpab`` (default ``~/.cache/ddei/cpab``)."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "ddei" / "cpab"


def _tess_size(n_tesselation: int | Sequence[int]) -> tuple[int, int]:
    nc = (n_tesselation, n_tesselation) if isinstance(n_tesselation, int) else tuple(n_tesselation)
    if len(nc) != 2 or not all(int(n) > 0 for n in nc):
        raise ValueError(f"n_tesselation must be a positive int or a pair of them, got {n_tesselation}")
    return int(nc[0]), int(nc[1])


@functools.lru_cache(maxsize=None)
def _compute_basis(nc: tuple[int, int], zero_boundary: bool, volume_preservation: bool) -> np.ndarray:
    """libcpab's basis computation, run in a throw-away directory (libcpab insists on pickling it somewhere)."""
    from libcpab.tesselation import Tesselation2D

    with tempfile.TemporaryDirectory(prefix="ddei-cpab-") as tmp:
        tess = Tesselation2D(list(nc), [0, 0], [1, 1], zero_boundary, volume_preservation, tmp + os.sep, True)
    basis = np.ascontiguousarray(tess.B)
    basis.setflags(write=False)
    return basis


def cpab_basis(
    n_tesselation: int | Sequence[int] = 3,
    zero_boundary: bool = True,
    volume_preservation: bool = True,
    cache_dir: str | os.PathLike | None = None,
) -> np.ndarray:
    r"""Basis ``B`` (``(6 * nC, d)``, ``nC = 4 * nx * ny`` triangular cells) of the 2D CPAB velocity fields.

    Computed by libcpab's :class:`libcpab.tesselation.Tesselation2D` once per configuration and process (an
    in-memory cache), optionally stored as ``.npy`` in ``cache_dir`` (see :func:`default_cache_dir`) and read
    from there by later processes. Nothing is ever written under ``site-packages``.

    :param int, tuple n_tesselation: number of cells along each dimension.
    :param bool zero_boundary: velocity zero on the boundary of ``[0, 1]^2``.
    :param bool volume_preservation: zero-trace (divergence-free) velocity fields.
    :param str, os.PathLike, None cache_dir: optional on-disk cache directory.
    :return: read-only ``float64`` array.
    """
    nc = _tess_size(n_tesselation)
    key = (nc, bool(zero_boundary), bool(volume_preservation))
    if cache_dir is None:
        return _compute_basis(*key)
    path = (
        Path(cache_dir)
        / f"cpab_basis_dim2_tess{nc[0]}_{nc[1]}_zb{int(zero_boundary)}_vp{int(volume_preservation)}.npy"
    )
    if path.is_file():
        basis = np.load(path, allow_pickle=False)
        basis.setflags(write=False)
        return basis
    basis = _compute_basis(*key)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: numpy would append .npy to the temporary name
            np.save(f, basis, allow_pickle=False)

    atomic_write(path, write)  # concurrent processes never read a partial file
    return basis


def _findcellidx2d(px: torch.Tensor, py: torch.Tensor, nx: int, ny: int) -> torch.Tensor:
    """Cell index of each point, as :func:`libcpab.findcellidx.findcellidx2D` (same operations, same result).

    Cells are 4 triangles per square (0 top, 1 right, 2 bottom, 3 left, numbered square by square); points
    outside ``[0, 1]^2`` go to the nearest boundary triangle. libcpab's ten masked increments are mutually
    exclusive: the in-domain ones are summed arithmetically for all points, and the out-of-domain ones (a thin
    set: points on or beyond the boundary) are recomputed on those points only.
    """
    inc_x, inc_y = 1.0 / nx, 1.0 / ny
    p0 = torch.clamp(px, 0.0, nx * inc_x - 1e-8)
    p1 = torch.clamp(py, 0.0, ny * inc_y - 1e-8)
    xmod, ymod = torch.fmod(p0, inc_x), torch.fmod(p1, inc_y)
    x, y = xmod / inc_x, ymod / inc_y
    col, row = (p0 - xmod) / inc_x, (p1 - ymod) / inc_y
    col = torch.where(col > nx - 1, nx - 1.0, torch.round(col))  # libcpab's mymin(nx - 1, col)
    row = torch.where(row > ny - 1, ny - 1.0, torch.round(row))
    lt = (x < y).to(px.dtype)
    upper = (1 - x < y).to(px.dtype)
    # inside: +2 if lt & upper (bottom), +3 if lt only (left), +1 if upper only (right), +0 (top)
    idx = (4 * (col + row * nx) + 3 * lt + upper - 2 * lt * upper).to(torch.int64)

    out = (px <= 0) | (px >= nx * inc_x) | (py >= ny * inc_y)
    if out.any():
        sel = out.nonzero().squeeze(1)
        qx, qy = px[sel], py[sel]
        left = qx <= 0
        right = ~left & (qx >= nx * inc_x)
        below = qy >= ny * inc_y  # "down" in libcpab: y at or beyond its maximum
        above = qy <= 0
        c1 = left & above & (qy / inc_y < qx / inc_x)
        c2 = left & ~c1 & below & (qy / inc_y - ny > -qx / inc_x)
        c3 = left & ~c1 & ~c2
        c4 = right & above & (-qy / inc_y > qx / inc_x - nx)
        c5 = right & ~c4 & below & (qy / inc_y - ny > qx / inc_x - nx)
        c6 = right & ~c4 & ~c5
        c7 = ~left & ~right & below
        base = 4 * (col[sel] + row[sel] * nx)
        idx[sel] = (base + 2 * (c2 | c5 | c7) + 3 * c3 + c6).to(torch.int64)
    return idx.clamp_(0, 4 * nx * ny - 1)  # never out of range, even for non-finite points


def cpab_integrate(
    points: torch.Tensor,
    theta: torch.Tensor,
    basis: torch.Tensor,
    nc: tuple[int, int],
    nstepsolver: int = 50,
) -> torch.Tensor:
    r"""Integrate points through the CPAB velocity fields ``basis @ theta`` (2D), as libcpab's integrator.

    Same scheme as ``libcpab.transformer.CPAB_transformer_slow`` (libcpab's C/CUDA kernels, not shipped on PyPI,
    are handed the same per-step exponentials): ``nstepsolver`` steps, each moving every point by the matrix
    exponential of ``A_c / nstepsolver`` of its current cell ``c``. Vectorised with 6 gathered affine coefficients per point instead of a 3x3 batched matmul, an
    arithmetic cell search, and ``torch.linalg.matrix_exp``; results agree with libcpab to float rounding.

    :param torch.Tensor points: ``(2, N)`` points in ``[0, 1]^2``.
    :param torch.Tensor theta: ``(n, d)`` parameters.
    :param torch.Tensor basis: ``(6 * nC, d)`` basis of :func:`cpab_basis`.
    :param tuple nc: cells along each dimension.
    :param int nstepsolver: number of integration steps.
    :return: ``(n, 2, N)`` transformed points, float32.
    :raises FloatingPointError: if the velocity field is not finite.

    Always float32, with autocast off: under bfloat16 autocast ``theta @ basis.T`` would come out in bfloat16,
    and the integrated points, rounded to bfloat16, drift out of the unit square; with a cell index computed from
    such points, the gather indexed out of bounds (a CUDA device-side assert on an H200).
    """
    with torch.autocast(points.device.type, enabled=False):  # float32 whatever the caller's autocast
        points, theta, basis = points.float(), theta.float(), basis.float()
        n, N = theta.shape[0], points.shape[-1]
        nC = 4 * nc[0] * nc[1]
        A = (theta @ basis.T).reshape(n * nC, 2, 3)
        square = torch.cat([A, torch.zeros(n * nC, 1, 3, dtype=A.dtype, device=A.device)], dim=1)
        coef = (
            torch.linalg.matrix_exp(square * (1.0 / nstepsolver))[:, :2, :].reshape(n * nC, 6).T.contiguous()
        )
        if not torch.isfinite(coef).all():
            raise FloatingPointError("CPAB: non-finite velocity field (theta or basis holds NaN or inf)")
        offset = (torch.arange(n, device=points.device) * nC).repeat_interleave(N)
        px = points[0].repeat(n)
        py = points[1].repeat(n)
        for _ in range(nstepsolver):
            idx = _findcellidx2d(px, py, *nc) + offset
            c0, c1, c2, c3, c4, c5 = (row.take(idx) for row in coef)
            px, py = torch.addcmul(c2, c0, px).addcmul_(c1, py), torch.addcmul(c5, c3, px).addcmul_(c4, py)
        out = torch.stack([px, py])
        if not torch.isfinite(out).all():
            raise FloatingPointError("CPAB: the integration produced non-finite points")
        return out.reshape(2, n, N).permute(1, 0, 2)


def uniform_meshgrid(size: tuple[int, int], device: torch.device | str = "cpu") -> torch.Tensor:
    """libcpab's ``Cpab.uniform_meshgrid``: ``(2, H*W)`` points, row 0 along ``H``, row 1 along ``W``, ``H`` fastest."""
    lin_h = torch.linspace(0, 1, size[0], device=device)
    lin_w = torch.linspace(0, 1, size[1], device=device)
    gw, gh = torch.meshgrid(lin_w, lin_h, indexing="ij")
    return torch.stack([gh.reshape(-1), gw.reshape(-1)])
