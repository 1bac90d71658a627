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

One transform per module, as deepinv keeps them: :mod:`~ddei.mri.transforms.time_shift`,
:mod:`~ddei.mri.transforms.rotate`, :mod:`~ddei.mri.transforms.diffeomorphism` (with :mod:`~ddei.mri.transforms.cpab`),
:mod:`~ddei.mri.transforms.per_sample`; the two combinations (choice and composition) with the ``|`` and ``*``
operators that build them in :mod:`~ddei.mri.transforms.combinations`, as deepinv keeps them together; the groups of
the methods in :mod:`~ddei.mri.transforms.groups`.
"""

from ddei.mri.transforms.base import make_rng
from ddei.mri.transforms.combinations import ChoiceTransform, ComposeTransform
from ddei.mri.transforms.cpab import cpab_basis, cpab_integrate, default_cache_dir, uniform_meshgrid
from ddei.mri.transforms.diffeomorphism import Diffeomorphism
from ddei.mri.transforms.groups import (
    TRANSFORM_MODES,
    ddei_transform,
    reference_composition,
    rotate_transform,
)
from ddei.mri.transforms.per_sample import PerSampleTransform
from ddei.mri.transforms.rotate import Rotate
from ddei.mri.transforms.time_shift import TimeShift

__all__ = [
    "TimeShift",
    "Diffeomorphism",
    "Rotate",
    "ChoiceTransform",
    "ComposeTransform",
    "PerSampleTransform",
    "TRANSFORM_MODES",
    "ddei_transform",
    "reference_composition",
    "rotate_transform",
    "cpab_basis",
    "cpab_integrate",
    "default_cache_dir",
    "make_rng",
    "uniform_meshgrid",
]
