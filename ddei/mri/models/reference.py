r"""
Loading the reference implementation's trained CRNN into this project's :class:`~ddei.mri.models.crnn.CRNN`.

The paper's reference code (public repository ``Andrewwango/ddei``) trains
``ArtifactRemovalCRNN(CRNN(num_cascades=2))`` of ``utils/edipo/models/crnn.py`` with :class:`deepinv.Trainer`,
whose checkpoints hold the model's state dict under ``"state_dict"``. That module tree is ::

    ArtifactRemovalCRNN
    └── backbone_net: CRNN
        ├── datalayer: DCLayer            lambda_ (1,)   the one DC layer, also in the plain list `dcs`
        ├── bcrnn:  BCRNNlayer
        │   └── CRNN_model: CRNNcell      i2h (chans, 2, k, k), h2h, ih2ih (chans, chans, k, k)
        ├── bcrnn2: BCRNNlayer            (same)
        ├── conv1_x, conv1_h, conv2_x, conv2_h, conv3_x, conv3_h: Conv2d(chans, chans, k)
        └── conv4_x: Conv2d(chans, 2, k)

so its state dict has the 27 keys of :data:`REFERENCE_KEY_MAP` (372,867 values at ``chans=64``, the paper's count).

Two differences matter when moving the weights:

* **Frame orientation.** The reference permutes the deepinv tensors `(B, C, T, H, W)` to `(B, W, H, T, C)` and
  convolves frames of shape `(W, H)`: the transpose of this project's `(H, W)` frames. A convolution of a
  transposed image with kernel :math:`K` (zero padding, square kernel) is the transpose of the convolution of the
  image with :math:`K^{\top}`, so every convolution kernel is transposed (``weight.transpose(-1, -2)``); biases
  and :math:`\lambda` are unchanged. The 2D FFT of the data-consistency layer commutes with the transposition.
* **Data-consistency weight.** The reference's ``CRNN.__init__`` assigns its ``DCLayer`` to ``self.datalayer``
  (which registers it, so ``lambda_`` is in the state dict and in ``model.parameters()``: the reference optimiser
  trains it) and also keeps it, once per cascade, in the plain list ``self.dcs`` used by ``forward``: one
  :math:`\lambda` shared by all cascades. It maps to :attr:`CRNN.lam` with ``shared_dc=True``, loaded from the
  state dict and frozen (``learn_lam=False``).

The number of cascades is not stored in the state dict (the convolutions are shared by the cascades): the
published model has 2.

>>> import ddei, torch
>>> from ddei.mri.models.reference import REFERENCE_KEY_MAP, load_reference_state_dict
>>> from ddei.mri.models import CRNN
>>> ours = CRNN(chans=4)
>>> state = {ref: ours.state_dict()[key] for ref, key in REFERENCE_KEY_MAP.items()}  # shapes only
>>> load_reference_state_dict(state).lam.requires_grad
False
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from ddei.mri.models.crnn import CRNN

__all__ = [
    "REFERENCE_KEY_MAP",
    "REFERENCE_NUM_CASCADES",
    "TRANSPOSED_KEYS",
    "load_reference_state_dict",
    "reference_to_crnn_state_dict",
]

#: Number of cascades of the reference's trained model (``CRNN(num_cascades=2)`` in its ``train.py``).
REFERENCE_NUM_CASCADES = 2


def _key_map() -> dict[str, str]:
    keys = {"backbone_net.datalayer.lambda_": "lam"}
    for layer in ("bcrnn", "bcrnn2"):
        for conv in ("i2h", "h2h", "ih2ih"):
            for p in ("weight", "bias"):
                keys[f"backbone_net.{layer}.CRNN_model.{conv}.{p}"] = f"{layer}.{conv}.{p}"
    for k in range(3):
        for kind, ours in (("x", "convs_x"), ("h", "convs_h")):
            for p in ("weight", "bias"):
                keys[f"backbone_net.conv{k + 1}_{kind}.{p}"] = f"{ours}.{k}.{p}"
    for p in ("weight", "bias"):
        keys[f"backbone_net.conv4_x.{p}"] = f"conv_out.{p}"
    return keys


#: Reference state-dict key (of ``ArtifactRemovalCRNN``) -> key of :class:`~ddei.mri.models.crnn.CRNN`'s state dict.
#: ``bcrnn[2].CRNN_model.{i2h,h2h,ih2ih}`` -> ``bcrnn[2].{i2h,h2h,ih2ih}``; ``conv{k}_x`` / ``conv{k}_h`` ->
#: ``convs_x.{k-1}`` / ``convs_h.{k-1}`` (k = 1, 2, 3); ``conv4_x`` -> ``conv_out``; ``datalayer.lambda_`` -> ``lam``.
REFERENCE_KEY_MAP: dict[str, str] = _key_map()

#: Reference keys whose tensors are transposed (last two axes): all convolution kernels.
TRANSPOSED_KEYS: frozenset[str] = frozenset(k for k in REFERENCE_KEY_MAP if k.endswith(".weight"))

_PREFIXES = ("module.", "backbone_net.")


def _normalise_keys(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Bring keys to the ``backbone_net.``-prefixed form of :data:`REFERENCE_KEY_MAP`.

    Accepts the state dict of ``ArtifactRemovalCRNN`` (the reference checkpoints), of one wrapped in
    :class:`torch.nn.DataParallel` (``module.`` prefix) or of the bare reference ``CRNN`` (no prefix).
    """
    state = dict(state_dict)
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    if state and not any(k.startswith("backbone_net.") for k in state):
        state = {f"backbone_net.{k}": v for k, v in state.items()}
    return state


def _load(path: Path, trust_pickle: bool) -> Mapping[str, Tensor]:
    """Read a checkpoint file and return its state dict (``checkpoint["state_dict"]`` or the file itself)."""
    if not path.is_file():
        raise FileNotFoundError(f"Reference checkpoint {path} not found")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except pickle.UnpicklingError as e:
        raise ValueError(
            f"{path}: cannot be read with torch.load(weights_only=True) ({e}). If the file is trusted, pass "
            "trust_pickle=True to allow arbitrary pickled objects (e.g. numpy values in the training history)."
        ) from e
    if isinstance(checkpoint, Mapping) and "state_dict" in checkpoint:
        checkpoint = checkpoint["state_dict"]
    if not isinstance(checkpoint, Mapping) or not all(isinstance(v, Tensor) for v in checkpoint.values()):
        raise ValueError(f"{path}: expected a state dict or a checkpoint with a 'state_dict' entry")
    return checkpoint


def reference_to_crnn_state_dict(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    r"""
    Map a reference-format state dict onto the keys and layout of :class:`~ddei.mri.models.crnn.CRNN`.

    Renames keys by :data:`REFERENCE_KEY_MAP` and transposes the last two axes of every convolution kernel
    (:data:`TRANSPOSED_KEYS`), since the reference convolves `(W, H)` frames.

    :param collections.abc.Mapping[str, torch.Tensor] state_dict: state dict of the reference's
        ``ArtifactRemovalCRNN`` (keys ``backbone_net.*``), optionally with a ``module.`` prefix, or of its bare
        ``CRNN``.
    :return: (dict[str, torch.Tensor]) state dict for ``CRNN(shared_dc=True)``.
    :raises ValueError: if keys are missing or unexpected (both listed), or a tensor is not the shape the reference
        architecture gives it.
    """
    state = _normalise_keys(state_dict)
    missing = sorted(set(REFERENCE_KEY_MAP) - set(state))
    unexpected = sorted(set(state) - set(REFERENCE_KEY_MAP))
    if missing or unexpected:
        raise ValueError(
            "Not a state dict of the reference ArtifactRemovalCRNN(CRNN(...)):"
            + (f" missing keys {missing}" if missing else "")
            + (";" if missing and unexpected else "")
            + (f" unexpected keys {unexpected}" if unexpected else "")
        )
    out = {}
    for ref_key, key in REFERENCE_KEY_MAP.items():
        value = state[ref_key].detach()
        if ref_key in TRANSPOSED_KEYS:
            if value.ndim != 4 or value.shape[-1] != value.shape[-2]:
                raise ValueError(
                    f"{ref_key}: expected a square convolution kernel, got shape {tuple(value.shape)}"
                )
            value = value.transpose(-1, -2)
        out[key] = value.contiguous()
    return out


def load_reference_state_dict(
    state_dict_or_path: Mapping[str, Tensor] | str | os.PathLike,
    num_cascades: int = REFERENCE_NUM_CASCADES,
    device: torch.device | str = "cpu",
    trust_pickle: bool = False,
) -> CRNN:
    r"""
    Build a :class:`~ddei.mri.models.crnn.CRNN` holding the reference implementation's trained weights.

    The channels and kernel size are read from the weights; :math:`\lambda` is the reference's (trained) value,
    shared by all cascades and frozen (``learn_lam=False``). The model computes the same reconstruction as the
    reference's ``ArtifactRemovalCRNN`` on batches of one video (the batch size the reference trained with).

    :param state_dict_or_path: a reference state dict, or a checkpoint file: either the state dict itself or, as
        written by :class:`deepinv.Trainer`, a dict with the state dict under ``"state_dict"``.
    :param int num_cascades: number of cascades (not stored in the weights; the published model has 2).
    :param torch.device, str device: device of the returned model.
    :param bool trust_pickle: read the file with ``torch.load(weights_only=False)``, which can run arbitrary code:
        only for trusted files whose training history holds objects ``weights_only`` refuses.
    :return: (:class:`ddei.mri.models.crnn.CRNN`) the model, in eval mode.
    :raises ValueError: if the state dict does not have the reference's keys and shapes (see
        :func:`reference_to_crnn_state_dict`).
    """
    if isinstance(state_dict_or_path, (str, os.PathLike)):
        state_dict_or_path = _load(Path(state_dict_or_path), trust_pickle)
    state = reference_to_crnn_state_dict(state_dict_or_path)
    chans, _, kernel_size, _ = state["bcrnn.i2h.weight"].shape
    model = CRNN(
        num_cascades=num_cascades,
        chans=int(chans),
        kernel_size=int(kernel_size),
        shared_dc=True,
        learn_lam=False,
    )
    expected = model.state_dict()
    wrong = {
        k: (tuple(v.shape), tuple(expected[k].shape))
        for k, v in state.items()
        if v.shape != expected[k].shape
    }
    if wrong:
        inverse = {v: k for k, v in REFERENCE_KEY_MAP.items()}
        raise ValueError(
            "Reference state dict has shapes that do not fit the reference CRNN with "
            f"chans={chans}, kernel_size={kernel_size}: "
            + ", ".join(f"{inverse[k]} {got} (expected {want})" for k, (got, want) in wrong.items())
        )
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()
