"""Reconstruction backbones and a small registry to build them by name.

Every model is a :class:`deepinv.models.Reconstructor`: ``x_hat = model(y, physics)`` with k-space ``y`` and images
``x_hat`` of shape `(B, 2, T, H, W)` for :class:`deepinv.physics.DynamicMRI`.

>>> import ddei
>>> from ddei.mri.models import available_models, build_model
>>> available_models()
['crnn', 'unet']
>>> model = build_model("crnn", chans=8)
"""

from __future__ import annotations

from collections.abc import Callable

from deepinv.models import ArtifactRemoval, TimeAgnosticNet, UNet
from deepinv.physics import Physics
from torch import Tensor, nn

from ddei.mri.models.crnn import CRNN, BCRNNLayer

__all__ = ["CRNN", "BCRNNLayer", "FrameWiseNet", "build_model", "available_models", "frame_unet"]


class FrameWiseNet(TimeAgnosticNet):
    r"""
    :class:`deepinv.models.TimeAgnosticNet` that also handles batches of more than one video.

    In deepinv 0.5.0, ``TimeAgnosticNet`` unflattens `(B*T, C, H, W)` with the default batch size 1, which returns
    `(1, C, B*T, H, W)` for ``B > 1``; here the batch size of the input is used.

    :param torch.nn.Module backbone_net: static network, called as ``backbone_net(x, *args)`` on `(B*T, C, H, W)`.
    """

    def forward(self, y: Tensor, physics: Physics, **kwargs) -> Tensor:
        r"""
        Apply the backbone to each frame.

        :param torch.Tensor y: input of shape `(B, C, T, H, W)`.
        :param physics: second positional argument of the backbone (for a denoiser: the noise level).
        :return: (:class:`torch.Tensor`) output of shape `(B, C', T, H, W)`.
        """
        return self.unflatten(self.backbone_net(self.flatten(y), physics, **kwargs), batch_size=y.shape[0])


def frame_unet(scales: int = 3, chans: int = 32, batch_norm: bool = False, **kwargs) -> ArtifactRemoval:
    r"""
    Frame-wise residual UNet applied to the zero-filled image, :math:`\hat{x} = \phi(A^{\top}y)`.

    A deepinv :class:`deepinv.models.UNet` (2 channels: real and imaginary) applied to each frame independently
    via :class:`FrameWiseNet` (a fixed :class:`deepinv.models.TimeAgnosticNet`), inside :class:`deepinv.models.ArtifactRemoval`. No data
    consistency and no temporal modelling: an alternative backbone showing that the pipeline is model-agnostic.

    :param int scales: number of UNet scales; ``H`` and ``W`` are padded to a multiple of :math:`2^{scales-1}`.
    :param int chans: feature maps at the first scale (doubled at each scale).
    :param bool batch_norm: use batch normalisation in the UNet.
    :param kwargs: further arguments of :class:`deepinv.models.UNet`.
    :return: (:class:`deepinv.models.ArtifactRemoval`) the reconstructor.
    """
    unet = UNet(
        in_channels=2,
        out_channels=2,
        scales=scales,
        channels_per_scale=[chans * 2**k for k in range(scales)],
        batch_norm=batch_norm,
        **kwargs,
    )
    return ArtifactRemoval(FrameWiseNet(unet), mode="adjoint")


_REGISTRY: dict[str, Callable[..., nn.Module]] = {
    "crnn": CRNN,
    "unet": frame_unet,
}


def available_models() -> list[str]:
    """Names accepted by :func:`build_model`.

    :return: (list[str]) sorted model names.
    """
    return sorted(_REGISTRY)


def build_model(name: str, **kwargs) -> nn.Module:
    r"""
    Build a reconstruction model by name.

    :param str name: model name (case-insensitive), one of :func:`available_models`: ``"crnn"`` (:class:`CRNN`) or
        ``"unet"`` (:func:`frame_unet`).
    :param kwargs: keyword arguments of the model's constructor.
    :return: (:class:`torch.nn.Module`) the model, called as ``model(y, physics)``.
    :raises ValueError: if ``name`` is unknown.
    """
    key = name.lower()
    if key not in _REGISTRY:
        raise ValueError(f"Unknown model {name!r}; choose one of {available_models()}")
    return _REGISTRY[key](**kwargs)
