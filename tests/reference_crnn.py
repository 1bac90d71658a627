"""Test helper: a port of the paper's reference CRNN, to check :class:`ddei.mri.models.CRNN` against.

The reference (public repository ``Andrewwango/ddei``, ``utils/edipo/models/crnn.py`` and ``datalayer.py``, from
the EDIPO CMRxRecon code; FFTs from EDIPO's ``utils/fft.py``) is ported here, not imported: same module tree and
attribute names (so the same state-dict keys), same tensor layouts and the same order of operations, i.e.

* ``ArtifactRemovalCRNN`` permutes deepinv's `(B, C, T, H, W)` to `(B, W, H, T, C)`: convolutions see `(W, H)`
  frames, the transpose of :class:`ddei.mri.models.CRNN`'s;
* every BCRNN cell convolves its (zero) hidden states inside both time loops;
* one ``DCLayer`` is registered as ``datalayer`` (so ``lambda_`` is in the state dict) and used by every cascade
  through the plain list ``dcs``; the DC works on real-view tensors with a centred orthonormal 2D FFT over (W, H).

Like the reference, the port is only right for batches of one video: for ``b > 1`` ``BCRNNlayer`` returns its
output flattened to `(t*b, ...)` and the second layer then indexes the wrong hidden states (the reference trained
with batch size 1). :func:`reference_forward` therefore runs it one video at a time.
"""

from __future__ import annotations

import ddei  # noqa: F401  (must be imported before deepinv)

# isort: split
import math

import torch
from deepinv.physics import DynamicMRI
from torch import Tensor, nn

from ddei.mri.models import CRNN as OurCRNN

__all__ = [
    "ArtifactRemovalCRNN",
    "BCRNNlayer",
    "CRNN",
    "CRNNcell",
    "DCLayer",
    "from_ours",
    "reference_forward",
]


def fftnc(data: Tensor) -> Tensor:
    """EDIPO's ``fftnc``: centred orthonormal 2D FFT over axes (-4, -3) of a real-view `(..., w, h, t, 2)` tensor."""
    data = torch.fft.ifftshift(data, dim=(-4, -3)).contiguous()
    data = torch.view_as_real(torch.fft.fftn(torch.view_as_complex(data), dim=(-3, -2), norm="ortho"))
    return torch.fft.fftshift(data, dim=(-4, -3))


def ifftnc(data: Tensor) -> Tensor:
    """EDIPO's ``ifftnc``, the inverse of :func:`fftnc`."""
    data = torch.fft.ifftshift(data, dim=(-4, -3)).contiguous()
    data = torch.view_as_real(torch.fft.ifftn(torch.view_as_complex(data), dim=(-3, -2), norm="ortho"))
    return torch.fft.fftshift(data, dim=(-4, -3))


class DCLayer(nn.Module):
    """Data-consistency layer with the (learnable) weight ``lambda_``."""

    def __init__(self, lambda_init: float = math.log(math.e - 1), learnable: bool = True):
        super().__init__()
        self.lambda_ = nn.Parameter(torch.ones(1) * lambda_init, requires_grad=learnable)

    def forward(self, x: Tensor, y: Tensor, mask: Tensor) -> Tensor:  # all (b, w, h, t, 2)
        k = fftnc(x)
        k = (1 - mask) * k + mask * (self.lambda_ * k + (1 - self.lambda_) * y)
        return ifftnc(k)


class CRNNcell(nn.Module):
    """Convolutional RNN cell, recurrent over time (``h2h``) and over iterations (``ih2ih``)."""

    def __init__(self, input_size: int, hidden_size: int, kernel_size: int):
        super().__init__()
        pad = kernel_size // 2
        self.i2h = nn.Conv2d(input_size, hidden_size, kernel_size, padding=pad)
        self.h2h = nn.Conv2d(hidden_size, hidden_size, kernel_size, padding=pad)
        self.ih2ih = nn.Conv2d(hidden_size, hidden_size, kernel_size, padding=pad)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, input: Tensor, hidden_iteration: Tensor, hidden: Tensor) -> Tensor:
        return self.relu(self.i2h(input) + self.h2h(hidden) + self.ih2ih(hidden_iteration))


class BCRNNlayer(nn.Module):
    """Bidirectional CRNN layer over `(t, b, ch, h, w)` inputs."""

    def __init__(self, input_size: int, hidden_size: int, kernel_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.CRNN_model = CRNNcell(input_size, hidden_size, kernel_size)

    def forward(self, input: Tensor, hidden_iteration: Tensor) -> Tensor:
        t, b, _, h, w = input.shape
        zeros = torch.zeros(b, self.hidden_size, h, w, device=input.device)
        forward, hidden = [], zeros
        for i in range(t):
            hidden = self.CRNN_model(input[i], hidden_iteration[i], hidden)
            forward.append(hidden)
        backward, hidden = [], zeros
        for i in reversed(range(t)):
            hidden = self.CRNN_model(input[i], hidden_iteration[i], hidden)
            backward.append(hidden)
        output = torch.cat(forward) + torch.cat(backward[::-1])  # (t*b, hidden, h, w)
        return output.view(t, 1, self.hidden_size, h, w) if b == 1 else output


class CRNN(nn.Module):
    """The reference CRNN: input, k-space and mask of shape `(b, w, h, t, 2)`."""

    def __init__(self, num_cascades: int = 10, chans: int = 64, datalayer: DCLayer | None = None):
        super().__init__()
        self.num_cascades = num_cascades
        self.chans = chans
        # an attribute, so registered: lambda_ is in the state dict (and trained by the reference's optimiser)
        self.datalayer = DCLayer() if datalayer is None else datalayer
        self.bcrnn = BCRNNlayer(2, chans, 3)
        self.bcrnn2 = BCRNNlayer(2, chans, 3)
        for k in (1, 2, 3):
            setattr(self, f"conv{k}_x", nn.Conv2d(chans, chans, 3, padding=1))
            setattr(self, f"conv{k}_h", nn.Conv2d(chans, chans, 3, padding=1))
        self.conv4_x = nn.Conv2d(chans, 2, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        # a plain list, not registered: the same DC layer for every cascade
        self.dcs = [self.datalayer for _ in range(num_cascades)]

    def forward(self, x: Tensor, y: Tensor, mask: Tensor) -> Tensor:
        x = x.permute(0, 4, 1, 2, 3).float()  # b ch w h t
        y = y.permute(0, 4, 1, 2, 3)
        b, ch, w, h, t = x.shape
        previous = [torch.zeros(t * b, self.chans, w, h, device=x.device) for _ in range(5)]  # x0 .. x4
        for i in range(self.num_cascades):
            frames = x.permute(4, 0, 1, 2, 3).contiguous()  # t b ch w h
            x0 = self.bcrnn(frames, previous[0].view(t, b, self.chans, w, h))
            x1 = self.bcrnn2(frames, x0).view(-1, self.chans, w, h)
            x2 = self.relu(self.conv1_h(previous[2]) + self.conv1_x(x1))
            x3 = self.relu(self.conv2_h(previous[3]) + self.conv2_x(x2))
            x4 = self.relu(self.conv3_h(previous[4]) + self.conv3_x(x3))
            out = frames.view(-1, ch, w, h) + self.conv4_x(x4)
            out = out.view(-1, b, ch, w, h).permute(1, 3, 4, 0, 2)  # b w h t ch
            x = self.dcs[i](out, y.permute(0, 2, 3, 4, 1), mask).permute(0, 4, 1, 2, 3)  # b ch w h t
            previous = [x0, x1, x2, x3, x4]
        return x.permute(0, 2, 3, 4, 1)  # b w h t ch


class ArtifactRemovalCRNN(nn.Module):
    """The reference wrapper: zero-filled input, and deepinv `(B, C, T, H, W)` <-> `(B, W, H, T, C)`."""

    def __init__(self, backbone_net: CRNN):
        super().__init__()
        self.backbone_net = backbone_net

    def forward(self, y: Tensor, physics: DynamicMRI, **kwargs) -> Tensor:
        x_init = physics.A_adjoint(y).permute(0, 4, 3, 2, 1)
        mask = physics.mask.float().permute(0, 4, 3, 2, 1)
        return self.backbone_net(x_init, y.permute(0, 4, 3, 2, 1), mask).permute(0, 4, 3, 2, 1)


def from_ours(model: OurCRNN) -> ArtifactRemovalCRNN:
    """The reference model holding the weights of ``model`` (kernels transposed: the reference sees `(W, H)`).

    Written independently of :mod:`ddei.mri.models.reference`. A per-cascade :math:`\\lambda` (``shared_dc=False``),
    which the reference cannot express, goes into ``dcs`` as one ``DCLayer`` per cascade.
    """
    if model.bcrnn.i2h.kernel_size != (3, 3):
        raise ValueError("the reference CRNN has 3x3 kernels")
    ref = ArtifactRemovalCRNN(CRNN(num_cascades=model.num_cascades, chans=model.chans))
    net = ref.backbone_net
    pairs = [(net.bcrnn.CRNN_model, model.bcrnn), (net.bcrnn2.CRNN_model, model.bcrnn2)]
    convs = [(getattr(net, f"conv{k + 1}_x"), model.convs_x[k]) for k in range(3)]
    convs += [(getattr(net, f"conv{k + 1}_h"), model.convs_h[k]) for k in range(3)]
    convs += [(net.conv4_x, model.conv_out)]
    convs += [(getattr(r, n), getattr(o, n)) for r, o in pairs for n in ("i2h", "h2h", "ih2ih")]
    with torch.no_grad():
        for theirs, ours in convs:
            theirs.weight.copy_(ours.weight.transpose(-1, -2))
            theirs.bias.copy_(ours.bias)
        lams = model.lam.detach()
        if model.shared_dc:
            net.datalayer.lambda_.copy_(lams)
        else:
            net.dcs = [DCLayer(float(lam)) for lam in lams]
    return ref


def reference_forward(model: OurCRNN, y: Tensor, mask: Tensor) -> Tensor:
    """Output of the reference port holding ``model``'s weights, one video at a time.

    :param model: our CRNN.
    :param y: k-space `(B, 2, T, H, W)`.
    :param mask: mask `(B, 2, T, H, W)`.
    """
    ref = from_ours(model)
    with torch.no_grad():
        return torch.cat([ref(y[i : i + 1], DynamicMRI(mask=mask[i : i + 1])) for i in range(y.shape[0])])
