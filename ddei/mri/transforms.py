"""The DDEI transformation group: CPAB diffeomorphisms, rotations and time shifts of dynamic MRI videos.

Videos are real tensors of shape ``(B, C, T, H, W)`` (``C=2``: real and imaginary parts). DDEI's equivariant
imaging loss draws, per call, one transform of the group ``(diffeo | rotate) | time_shift`` of the reference
code (github.com/Andrewwango/ddei), which builds it from :mod:`deepinv.transform` 0.5.0 classes. That
construction has three defects, which this module fixes:

1. **Composition flattens time shifts.** deepinv's ``|`` and ``*`` call the sub-transforms' private
   ``_transform`` on the input as prepared by the *outer* transform, which copies ``flatten_video_input`` from
   its first operand. With a spatial transform first (the reference's order) the video is flattened to
   ``(B, C*T, H, W)`` and :class:`deepinv.transform.ShiftTime` then shifts the flattened ``C*T`` axis (with shift
   amounts drawn from ``[-C*T, C*T)``): output frames of the real channel are imaginary frames and vice versa.
   With the time shift first nothing is flattened and the spatial transforms crash on 5D input
   (``grid_sampler(): expected grid to have size 3 in last dimension``). :class:`ChoiceTransform` and
   :class:`ComposeTransform` instead call each sub-transform's public ``get_params``/``transform``, so every
   sub-transform keeps its own handling of 5D input (spatial ones flatten ``(C,T)``, which is exact since they
   act identically on every channel; :class:`TimeShift` never flattens, and refuses 4D input).
2. **Shared random streams.** deepinv transforms built without ``rng`` each get ``torch.Generator()`` with the
   same fixed default seed (so does the generator inside ``|``), and :class:`deepinv.transform.CPABDiffeomorphism`
   samples from the global RNG. Here every transform takes an explicit ``rng``; without one it gets a generator
   seeded from the global RNG (so ``torch.manual_seed`` governs it and two instances differ). CPAB parameters
   are drawn as ``torch.randn(n, d, generator=rng)``: the distribution of libcpab's default
   ``MultivariateNormal(0, I)``, and for the same seed the very same numbers.
3. **libcpab from PyPI** ships no C/CUDA sources (so always uses its pure-torch integrator), and
   ``Cpab(override=True)`` (deepinv's default) recomputes the tessellation basis and rewrites a pickle in
   ``site-packages/basis_files/`` at every construction. :class:`Diffeomorphism` computes the basis once per
   configuration (in memory, optionally in a user cache directory, never in ``site-packages``) and integrates
   with a vectorised re-implementation of libcpab's integrator (same cell search, same 50 steps of the
   per-cell matrix exponential), once per parameter vector for all channels, frames and images of a batch,
   followed by bilinear sampling with border clamping (``grid_sample``, what libcpab's ``interpolate`` does).

Import :mod:`ddei` before deepinv (this module does, being part of the package).
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from deepinv.transform import CPABDiffeomorphism, ShiftTime, Transform
from deepinv.transform import Rotate as _DinvRotate
from deepinv.transform.base import TransformParam
from torchvision.transforms import InterpolationMode

from ddei.io.files import atomic_write

__all__ = [
    "TimeShift",
    "Diffeomorphism",
    "Rotate",
    "ChoiceTransform",
    "ComposeTransform",
    "PerSampleTransform",
    "TRANSFORM_MODES",
    "ddei_transform",
    "rotate_transform",
    "cpab_basis",
    "default_cache_dir",
    "make_rng",
]


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

    def __or__(self, other: Transform) -> ChoiceTransform:
        return ChoiceTransform([self, other], rng=self.rng)

    def __mul__(self, other: Transform) -> ComposeTransform:
        return ComposeTransform([self, other])


def _sub_params(params: dict, prefix: str) -> dict:
    """Parameters of one sub-transform, stored under ``prefix`` (e.g. ``"1."``) in a combined dict."""
    return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}


def _prefixed(params: dict, prefix: str) -> dict:
    return {f"{prefix}{k}": v for k, v in params.items()}


def _keep_sign(p: torch.Tensor) -> torch.Tensor:
    return p


# --------------------------------------------------------------------------------------------------------------
# Time shift
# --------------------------------------------------------------------------------------------------------------


class TimeShift(_Combinable, ShiftTime):
    r"""Shift whole frames of a video ``(B, C, T, H, W)`` along ``T``, identically in every channel.

    deepinv's :class:`deepinv.transform.ShiftTime` with an explicit generator, which never flattens its input
    and refuses 4D input (where ``ShiftTime`` would shift channels). Shift amounts are deepinv's: ``n_trans``
    distinct integers drawn uniformly from ``[-T, T)``. With ``padding="wrap"`` the output frames are a cyclic
    permutation of the input frames and :meth:`inverse` is exact; with ``"reflect"`` (deepinv's default, used by
    the reference) frames shifted out are replaced by mirrored frames, so the inverse is exact only on the
    frames that stay in.

    :param int n_trans: number of shifted versions generated per video (stacked along the batch dimension).
    :param str padding: ``"reflect"`` or ``"wrap"`` (cyclic).
    :param torch.Generator, None rng: random number generator, see :func:`make_rng`.
    """

    def __init__(self, *args, padding: str = "reflect", rng: torch.Generator | None = None, **kwargs):
        kwargs.pop("flatten_video_input", None)
        super().__init__(*args, padding=padding, rng=make_rng(rng), flatten_video_input=False, **kwargs)

    @staticmethod
    def _require_video(x: torch.Tensor) -> None:
        if x.dim() != 5:
            raise ValueError(
                f"TimeShift needs a video of shape (B, C, T, H, W), got shape {tuple(x.shape)}: a 4D input is a "
                "flattened video (e.g. inside deepinv's | or *), whose channel axis is not time."
            )

    def _get_params(self, x: torch.Tensor) -> dict:
        self._require_video(x)
        return super()._get_params(x)

    def _transform(self, x: torch.Tensor, **params) -> torch.Tensor:
        self._require_video(x)
        return super()._transform(x, **params)


# --------------------------------------------------------------------------------------------------------------
# Rotation
# --------------------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------------------
# CPAB diffeomorphism
# --------------------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------------------
# Combinations
# --------------------------------------------------------------------------------------------------------------


class ChoiceTransform(_Combinable, Transform):
    r"""Apply one sub-transform, chosen at random per call (deepinv's ``|``, generalised and fixed).

    Each sub-transform is applied through its public ``get_params``/``transform``, so it keeps its own
    handling of video input (unlike deepinv's ``|``, see the module docstring). The choice is drawn from
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

    # deepinv's own | and * call these on an already prepared input; delegating keeps them working (TimeShift
    # then refuses a flattened video instead of silently shifting channels).
    def _get_params(self, x: torch.Tensor) -> dict:
        return self.get_params(x)

    def _transform(self, x: torch.Tensor, **params) -> torch.Tensor:
        return self.transform(x, **params)


class ComposeTransform(_Combinable, Transform):
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

    def _get_params(self, x: torch.Tensor) -> dict:
        return self.get_params(x)

    def _transform(self, x: torch.Tensor, **params) -> torch.Tensor:
        return self.transform(x, **params)


class PerSampleTransform(_Combinable, Transform):
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

    def _get_params(self, x: torch.Tensor) -> dict:
        return self.get_params(x)

    def _transform(self, x: torch.Tensor, **params) -> torch.Tensor:
        return self.transform(x, **params)


# --------------------------------------------------------------------------------------------------------------
# The groups of the paper
# --------------------------------------------------------------------------------------------------------------


def rotate_transform(rng: torch.Generator | None = None) -> PerSampleTransform:
    """The EI-rotate baseline's group: random rotations (bilinear), the same for every frame, one per sample.

    :param torch.Generator, None rng: random number generator, see :func:`make_rng`.
    """
    return PerSampleTransform(Rotate(n_trans=1, rng=make_rng(rng)))


#: The DDEI transforms (:func:`ddei_transform`): this project's, and the reference code's (the paper's).
TRANSFORM_MODES = ("fixed", "upstream")


def ddei_transform(
    mode: str,
    rng: torch.Generator | None = None,
    device: str | torch.device = "cpu",
) -> Transform:
    r"""The DDEI group: ``(diffeo | rotate) | time_shift``.

    Each sample gets one transform: a CPAB diffeomorphism (probability 1/4), a rotation (1/4) or a time
    shift with reflect padding (1/2), the probabilities of the reference's nested ``|``.

    - ``mode="fixed"``: built from :class:`Diffeomorphism`, :class:`Rotate`, :class:`TimeShift` and
      :class:`ChoiceTransform`, all drawing from ``rng`` (same seed, same outputs), drawn per sample
      (:class:`PerSampleTransform`), as the reference's batch size of 1 does.
    - ``mode="upstream"``: the reference code's composition verbatim (:func:`reference_composition`), drawn per
      sample by :class:`PerSampleTransform` as ``fixed`` is: at batch 1 it draws exactly what the composition does,
      and at any batch size it differs from ``fixed`` only by the reference's defects. Defective: when the time
      shift is chosen (about half the calls), it shifts the flattened ``(C*T)`` axis by up to ``C*T`` frames, so
      real frames land in the imaginary channel and vice versa; every generator is ``torch.Generator()`` with
      deepinv's fixed default seed, CPAB samples from the global RNG, and constructing it rewrites libcpab's basis
      file in ``site-packages``. ``rng`` is ignored. This is the reference code's transform (see the README, "The
      reference code's transform", for what is and is not established about the paper's runs).

    :param str mode: ``"fixed"`` or ``"upstream"``.
    :param torch.Generator, None rng: random number generator, see :func:`make_rng`.
    :param str, torch.device device: device for the CPAB basis.
    :return: the transform, e.g. for :class:`deepinv.loss.EILoss`.
    """
    if mode == "fixed":
        rng = make_rng(rng)
        diffeo = Diffeomorphism(n_trans=1, device=device, rng=rng)
        rotate = Rotate(n_trans=1, rng=rng)
        tempad = TimeShift(n_trans=1, rng=rng)
        return PerSampleTransform(
            ChoiceTransform([ChoiceTransform([diffeo, rotate], rng=rng), tempad], rng=rng)
        )
    if mode == "upstream":
        return PerSampleTransform(reference_composition(device))
    raise ValueError(f"mode must be one of {TRANSFORM_MODES}, got {mode!r}")


def reference_composition(device: str | torch.device = "cpu") -> Transform:
    """The reference code's DDEI transform, verbatim: ``(diffeo | rotate) | tempad`` with deepinv's
    :class:`~deepinv.transform.CPABDiffeomorphism`, :class:`~deepinv.transform.Rotate` (bilinear) and
    :class:`~deepinv.transform.ShiftTime`, drawn once per call (for a whole batch), time-shift defect included.

    :param str, torch.device device: device for the CPAB basis.
    """
    from deepinv.transform import Rotate as DinvRotate

    rotate = DinvRotate(n_trans=1, interpolation_mode=InterpolationMode.BILINEAR)
    tempad = ShiftTime(n_trans=1)
    diffeo = CPABDiffeomorphism(n_trans=1, device=device)
    return (diffeo | rotate) | tempad
