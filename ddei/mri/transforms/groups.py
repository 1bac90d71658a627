"""The transformation groups of the paper's methods: DDEI's (this project's and the reference code's) and
EI-rotate's."""

from __future__ import annotations

import torch
from deepinv.transform import CPABDiffeomorphism, ShiftTime, Transform
from torchvision.transforms import InterpolationMode

from ddei.mri.transforms.base import make_rng
from ddei.mri.transforms.combinations import ChoiceTransform
from ddei.mri.transforms.diffeomorphism import Diffeomorphism
from ddei.mri.transforms.per_sample import PerSampleTransform
from ddei.mri.transforms.rotate import Rotate
from ddei.mri.transforms.time_shift import TimeShift


def rotate_transform(rng: torch.Generator | None = None) -> PerSampleTransform:
    """The EI-rotate baseline's group: random rotations (bilinear), the same for every frame, one per sample.

    :param torch.Generator, None rng: random number generator, see :func:`make_rng`.
    """
    return PerSampleTransform(Rotate(n_trans=1, rng=make_rng(rng)))


#: The DDEI transforms (:func:`ddei_transform`): this project's, the reference code's (the paper's), and this
#: project's without the time shift (the spatial part alone).
TRANSFORM_MODES = ("fixed", "upstream", "spatial")


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
    - ``mode="spatial"``: ``fixed`` without the time shift, ``diffeo | rotate`` (probability 1/2 each): what
      DDEI's group is worth where a time shift moves no content onto unmeasured lines (masks that are the same in
      every frame, as the release's undersampled scans have).
    - ``mode="upstream"``: the reference code's composition verbatim (:func:`reference_composition`), drawn per
      sample by :class:`PerSampleTransform` as ``fixed`` is: at batch 1 it draws exactly what the composition does,
      and at any batch size it differs from ``fixed`` only by the reference's defects. Defective: when the time
      shift is chosen (about half the calls), it shifts the flattened ``(C*T)`` axis by up to ``C*T`` frames, so
      real frames land in the imaginary channel and vice versa; every generator is ``torch.Generator()`` with
      deepinv's fixed default seed, CPAB samples from the global RNG, and constructing it rewrites libcpab's basis
      file in ``site-packages``. ``rng`` is ignored. This is the reference code's transform (see
      docs/reference-transform.md for what is and is not established about the paper's runs).

    :param str mode: ``"fixed"``, ``"spatial"`` or ``"upstream"``.
    :param torch.Generator, None rng: random number generator, see :func:`make_rng`.
    :param str, torch.device device: device for the CPAB basis.
    :return: the transform, e.g. for :class:`deepinv.loss.EILoss`.
    """
    if mode in ("fixed", "spatial"):
        rng = make_rng(rng)
        diffeo = Diffeomorphism(n_trans=1, device=device, rng=rng)
        rotate = Rotate(n_trans=1, rng=rng)
        spatial = ChoiceTransform([diffeo, rotate], rng=rng)
        if mode == "spatial":
            return PerSampleTransform(spatial)
        tempad = TimeShift(n_trans=1, rng=rng)
        return PerSampleTransform(ChoiceTransform([spatial, tempad], rng=rng))
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
