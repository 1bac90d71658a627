"""Convolutional recurrent neural network (CRNN) for dynamic MRI reconstruction.

The unrolled CRNN of :footcite:t:`qin2019convolutional` as used by the DDEI paper (2 cascades, 64 channels,
one data-consistency layer shared by all cascades, 372,867 parameters), written as a deepinv
:class:`deepinv.models.Reconstructor` for :class:`deepinv.physics.DynamicMRI`.
"""

from __future__ import annotations

import math

import torch
from deepinv.models import Reconstructor
from deepinv.physics import Physics
from deepinv.utils.mixins import MRIMixin
from torch import Tensor, nn

__all__ = ["CRNN", "BCRNNLayer"]


def _conv_or_bias(conv: nn.Conv2d, h: Tensor | None) -> Tensor:
    r"""Apply ``conv`` to a hidden state, where ``None`` stands for an all-zero state.

    With zero padding, a convolution of zeros is exactly its bias, so the initial (zero) hidden states cost nothing.

    :param torch.nn.Conv2d conv: convolution (with bias).
    :param torch.Tensor, None h: hidden state of shape `(N, C, H, W)`, or ``None`` for zeros.
    :return: (:class:`torch.Tensor`) ``conv(h)``, or the bias of shape `(1, C, 1, 1)` if ``h`` is ``None``.
    """
    return conv.bias.view(1, -1, 1, 1) if h is None else conv(h)


class BCRNNLayer(nn.Module):
    r"""
    Bidirectional convolutional RNN layer, evolving over time frames and over cascades (iterations).

    For frame :math:`t` and cascade :math:`i` the hidden state of each direction is

    .. math::

        h_t^{(i)} = \mathrm{ReLU}\left(W_{x} * x_t + W_{h} * h_{t\mp1}^{(i)} + W_{\mathrm{it}} * h_t^{(i-1)}\right),

    run forward and backward over the frames; the layer outputs the sum of both directions.

    The two non-recurrent convolutions (input and iteration) do not depend on the recurrence, so they are computed
    once for all frames (batch and time folded) and shared by both directions; only the hidden-to-hidden
    convolution runs frame by frame. This is mathematically the same as the reference implementation.

    :param int in_channels: input channels.
    :param int hidden_channels: hidden (output) channels.
    :param int kernel_size: convolution kernel size (odd).
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3):
        super().__init__()
        pad = kernel_size // 2
        self.hidden_channels = hidden_channels
        self.i2h = nn.Conv2d(in_channels, hidden_channels, kernel_size, padding=pad)
        self.h2h = nn.Conv2d(hidden_channels, hidden_channels, kernel_size, padding=pad)
        self.ih2ih = nn.Conv2d(hidden_channels, hidden_channels, kernel_size, padding=pad)

    def forward(self, x: Tensor, hidden_iteration: Tensor | None, num_frames: int) -> Tensor:
        r"""
        Run the layer over all frames in both directions.

        :param torch.Tensor x: input frames of shape `(B*T, C_in, H, W)`, batch-major (frame index varies fastest).
        :param torch.Tensor, None hidden_iteration: hidden state from the previous cascade, shape
            `(B*T, C_hidden, H, W)`, or ``None`` for zeros (first cascade).
        :param int num_frames: number of frames :math:`T`.
        :return: (:class:`torch.Tensor`) summed forward and backward hidden states of shape `(B*T, C_hidden, H, W)`.
        """
        pre = self.i2h(x) + _conv_or_bias(self.ih2ih, hidden_iteration)
        pre = pre.unflatten(0, (-1, num_frames))  # (B, T, C_hidden, H, W)

        def sweep(frames: range) -> dict[int, Tensor]:
            hidden, out = None, {}
            for t in frames:
                hidden = torch.relu(pre[:, t] + _conv_or_bias(self.h2h, hidden))
                out[t] = hidden
            return out

        fwd = sweep(range(num_frames))
        bwd = sweep(range(num_frames - 1, -1, -1))
        out = torch.stack([fwd[t] + bwd[t] for t in range(num_frames)], dim=1)
        return out.flatten(0, 1)


class CRNN(Reconstructor, MRIMixin):
    r"""
    Convolutional recurrent neural network (CRNN) for dynamic MRI :footcite:t:`qin2019convolutional`.

    The configuration of the DDEI paper (Wang & Davies, ISBI 2025): ``num_cascades=2, chans=64``, one data-consistency
    layer shared by all cascades, 372,867 parameters. Each cascade :math:`i` maps the current estimate
    :math:`x^{(i-1)}` (starting at the zero-filled :math:`x^{(0)} = A^{\top}y`) through

    * two bidirectional convolutional RNN layers (:class:`BCRNNLayer`), both fed with the 2-channel image
      :math:`x^{(i-1)}`; the first receives its own output of the previous cascade as iteration hidden state,
      the second receives the first's output of this cascade;
    * three convolutional blocks :math:`z_k = \mathrm{ReLU}(W_k * z_{k-1} + U_k * z_k^{(i-1)})` recurrent over
      cascades, then a convolution back to 2 channels added to :math:`x^{(i-1)}` (residual);
    * a data-consistency (DC) layer in k-space,

    .. math::

        x^{(i)} = F^{H}\left((1-M) F z + M\left(\lambda F z + (1-\lambda) y\right)\right),

    with :math:`F` the centred orthonormal 2D FFT of each frame (as in :class:`deepinv.physics.DynamicMRI`),
    :math:`M` the sampling mask of the physics passed to :meth:`forward` and :math:`\lambda` a learnable scalar
    (:math:`\lambda=0` is hard data consistency).

    All convolutions are shared by the cascades; the recurrent hidden states across cascades start at zero.
    Frames are processed with 2D convolutions (batch and time folded); only the hidden-to-hidden convolutions of
    the BCRNN layers run frame by frame.

    .. note::

        As in the reference implementation, :math:`\lambda` is a registered parameter, trained by default (the
        reference also keeps its shared DC layer in a plain Python list, but registers it as ``datalayer`` too, so
        its ``lambda_`` is in the state dict and trained; :mod:`ddei.mri.models.reference` loads its weights). The
        reference convolves transposed frames (W, H) instead of (H, W), which only transposes the learned kernels.

    .. note::

        The mask is read from ``physics.mask`` on every call, so the model works with physics modified on the fly,
        e.g. by :meth:`deepinv.loss.SplittingLoss.adapt_model` or :meth:`deepinv.loss.mri.Phase2PhaseLoss.adapt_model`
        (which also change the number of frames).

    :param int num_cascades: number of cascades (unrolled iterations).
    :param int chans: number of hidden channels.
    :param int kernel_size: convolution kernel size (odd).
    :param bool shared_dc: if ``True``, one DC weight :math:`\lambda` shared by all cascades, else one per cascade.
    :param float lam_init: initial value of :math:`\lambda`; default :math:`\log(e-1)\approx 0.5413` as in the reference.
    :param bool learn_lam: if ``False``, :math:`\lambda` is frozen (``requires_grad=False``).
    :param torch.device, str device: device of the parameters.

    |sep|

    :Example:

    >>> import ddei, torch
    >>> from deepinv.physics import DynamicMRI
    >>> from ddei.mri.models import CRNN
    >>> x = torch.randn(1, 2, 4, 8, 8)  # B, C, T, H, W
    >>> physics = DynamicMRI(mask=(torch.rand(1, 1, 4, 1, 8) > 0.5).float().expand(1, 2, 4, 8, 8))
    >>> model = CRNN(chans=4)
    >>> model(physics(x), physics).shape
    torch.Size([1, 2, 4, 8, 8])
    """

    def __init__(
        self,
        num_cascades: int = 2,
        chans: int = 64,
        kernel_size: int = 3,
        shared_dc: bool = True,
        lam_init: float = math.log(math.e - 1),
        learn_lam: bool = True,
        device: torch.device | str = "cpu",
    ):
        super().__init__()
        if num_cascades < 1:
            raise ValueError(f"num_cascades must be >= 1, got {num_cascades}")
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.num_cascades = num_cascades
        self.chans = chans
        self.shared_dc = shared_dc
        pad = kernel_size // 2

        def conv(c_in: int, c_out: int) -> nn.Conv2d:
            return nn.Conv2d(c_in, c_out, kernel_size, padding=pad)

        self.bcrnn = BCRNNLayer(2, chans, kernel_size)
        self.bcrnn2 = BCRNNLayer(2, chans, kernel_size)
        self.convs_x = nn.ModuleList([conv(chans, chans) for _ in range(3)])
        self.convs_h = nn.ModuleList([conv(chans, chans) for _ in range(3)])
        self.conv_out = conv(chans, 2)
        self.lam = nn.Parameter(
            torch.full((1 if shared_dc else num_cascades,), float(lam_init)), requires_grad=learn_lam
        )
        self.autocast_dtype: torch.dtype | None = None
        self.channels_last = False
        self._cascade_fn = self._cascade
        self.to(device)

    def configure(self, precision: str = "fp32", channels_last: bool = False, compile: bool = False) -> CRNN:
        r"""
        Set the precision, memory format and compilation of the learned layers (see :mod:`ddei.mri.precision`).

        The convolutions of each cascade run under :func:`torch.autocast` with ``precision``; the zero-filled
        initialisation and the data-consistency layer (FFTs) always run in float32.

        :param str precision: ``"fp32"`` or ``"bf16"``.
        :param bool channels_last: NHWC weights and activations for the convolutions.
        :param bool compile: compile each cascade's convolutions with :func:`torch.compile` (``fullgraph=True``).
        :return: the model itself.
        """
        from ddei.mri.precision import autocast_dtype, compiled

        self.autocast_dtype = autocast_dtype(precision)
        self.channels_last = bool(channels_last)
        self.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        self._cascade_fn = compiled(self._cascade) if compile else self._cascade
        return self

    def data_consistency(self, x: Tensor, y: Tensor, mask: Tensor, lam: Tensor) -> Tensor:
        r"""
        k-space data-consistency layer :math:`F^{H}\left((1-M)Fx + M(\lambda Fx + (1-\lambda)y)\right)`.

        :param torch.Tensor x: image of shape `(B, 2, T, H, W)`.
        :param torch.Tensor y: measured k-space of shape `(B, 2, T, H, W)`.
        :param torch.Tensor mask: sampling mask broadcastable to ``y``.
        :param torch.Tensor lam: DC weight :math:`\lambda` (scalar tensor).
        :return: (:class:`torch.Tensor`) data-consistent image of shape `(B, 2, T, H, W)`.
        """
        k = self.im_to_kspace(x)
        k = k + mask * (1 - lam) * (y - k)  # == (1-M) k + M (lam k + (1-lam) y)
        return self.kspace_to_im(k)

    def _cascade(self, x: Tensor, hidden: list[Tensor | None]) -> tuple[Tensor, list[Tensor]]:
        r"""
        The learned part of one cascade: the estimate before data consistency, and the new hidden states.

        :param torch.Tensor x: current estimate of shape `(B, 2, T, H, W)`, float32.
        :param list hidden: hidden states recurrent over cascades (BCRNN output, then the 3 conv blocks), each of
            shape `(B*T, C, H, W)` or ``None`` (zeros, first cascade).
        :return: ``(z, hidden)``: `z` of shape `(B, 2, T, H, W)` in float32.
        """
        b, c, t, h, w = x.shape
        dtype = self.autocast_dtype
        memory = torch.channels_last if self.channels_last else torch.contiguous_format
        with torch.autocast(x.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            frames = x.transpose(1, 2).reshape(b * t, c, h, w).contiguous(memory_format=memory)
            hidden = list(hidden)
            hidden[0] = self.bcrnn(frames, hidden[0], t)
            z = self.bcrnn2(frames, hidden[0], t)
            for k, (conv_x, conv_h) in enumerate(zip(self.convs_x, self.convs_h, strict=True), start=1):
                z = torch.relu(conv_x(z) + _conv_or_bias(conv_h, hidden[k]))
                hidden[k] = z
            z = frames + self.conv_out(z)
        z = z.float().reshape(b, t, c, h, w).transpose(1, 2)
        return z, hidden

    def forward(self, y: Tensor, physics: Physics, **kwargs) -> Tensor:
        r"""
        Reconstruct a dynamic image from undersampled k-space.

        :param torch.Tensor y: measured k-space of shape `(B, 2, T, H, W)`.
        :param deepinv.physics.DynamicMRI physics: forward operator; its ``mask`` (broadcastable to ``y``) is used
            for data consistency, its ``A_adjoint`` for the zero-filled initialisation.
        :return: (:class:`torch.Tensor`) reconstruction of shape `(B, 2, T, H, W)`, float32.
        """
        mask = getattr(physics, "mask", None)
        if not isinstance(mask, Tensor):
            raise TypeError(f"CRNN needs an MRI physics with a tensor `mask`, got {type(physics).__name__}")
        if y.ndim != 5 or y.shape[1] != 2:
            raise ValueError(f"y must be of shape (B, 2, T, H, W), got {tuple(y.shape)}")
        with torch.autocast(y.device.type, enabled=False):  # FFTs and DC in float32, whatever the caller set
            y = y.float()
            mask = mask.to(device=y.device, dtype=y.dtype)
            x = physics.A_adjoint(y)
            # hidden states recurrent over cascades (BCRNN output, then the 3 conv blocks); None = zeros at start
            hidden: list[Tensor | None] = [None] * (1 + len(self.convs_x))
            for i in range(self.num_cascades):
                z, hidden = self._cascade_fn(x, hidden)
                x = self.data_consistency(z, y, mask, self.lam[0 if self.shared_dc else i])
        return x
