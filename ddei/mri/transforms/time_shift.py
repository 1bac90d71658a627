"""Time shifts of whole frames."""

from __future__ import annotations

import torch
from deepinv.transform import ShiftTime

from ddei.mri.transforms.base import make_rng
from ddei.mri.transforms.combinations import _Combinable


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
