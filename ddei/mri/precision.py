"""Mixed precision, memory format and compilation of the reconstruction networks.

``precision: bf16`` runs the network's convolutions under :func:`torch.autocast` with bfloat16. Everything else
stays in float32, by construction rather than by autocast's op lists: the networks enter autocast only around
their learned layers (:class:`ddei.mri.models.CRNN` around each cascade's convolutions, :class:`Autocast` around any
other backbone) and hand back float32, and the FFTs, the data-consistency layer, the DDEI transforms (the CPAB
integration disables autocast itself), the losses and the metrics run outside it. cuFFT has no bfloat16, and the
CPAB cell search is not safe in it (see :func:`ddei.mri.transforms.cpab_integrate`).

``channels_last`` stores the 2D convolutions' weights and activations as NHWC, which the GPU's tensor cores (and
oneDNN on the CPU) prefer. ``compile`` compiles the networks' learned part with :func:`torch.compile`
(``fullgraph=True``: a graph break is an error, never a silent fallback to eager mode on every step).
"""

from __future__ import annotations

import contextlib
import os
import time

import torch
from torch import nn

#: The backend of :func:`torch.compile`: inductor, unless the environment variable ``DDEI_COMPILE_BACKEND`` names
#: another. The CPU smoke of the GPU scripts (``SMOKE=1``) sets ``aot_eager``: it traces exactly what inductor would
#: compile (``fullgraph``: a graph break is an error) without inductor's code generation, minutes on 2 cores.
COMPILE_BACKEND = os.environ.get("DDEI_COMPILE_BACKEND", "inductor")


def compiled(fn, **kwargs):
    """``torch.compile(fn, fullgraph=True, dynamic=False)`` with :data:`COMPILE_BACKEND`."""
    return torch.compile(fn, fullgraph=True, dynamic=False, backend=COMPILE_BACKEND, **kwargs)


#: The precisions a network can run in, and their autocast dtype (``None``: float32, no autocast). The one
#: definition (the config schema's enums are checked against it by ``tests/test_config.py``).
DTYPES = {"fp32": None, "bf16": torch.bfloat16}
PRECISIONS = tuple(DTYPES)


class PrecisionError(ValueError):
    """A precision or compilation setting this hardware or network cannot run; the message names the key."""


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of a precision setting (``None``: float32, no autocast).

    :param str precision: one of :data:`PRECISIONS`.
    """
    if precision not in PRECISIONS:
        raise PrecisionError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return DTYPES[precision]


def check_precision(precision: str, device: torch.device | str, key: str = "training.precision") -> None:
    """Fail early, naming the config key, where the hardware cannot run ``precision``.

    bfloat16 autocast works on every CPU (emulated where the CPU lacks it) and on CUDA GPUs that support it
    (compute capability 8.0 and newer, or emulated on some older ones: :func:`torch.cuda.is_bf16_supported`).

    :param str precision: ``fp32`` or ``bf16``.
    :param device: the run's device.
    :param str key: the config key named in the error.
    """
    autocast_dtype(precision)
    device = torch.device(device)
    if (
        precision == "bf16"
        and device.type == "cuda"
        and not torch.cuda.is_bf16_supported(including_emulation=False)
    ):
        name = torch.cuda.get_device_name(device)
        raise PrecisionError(f"{key}: bf16 is not supported by this GPU ({name}); set {key}: fp32")


class Autocast(nn.Module):
    """Runs a module under autocast and returns float32: mixed precision for any backbone.

    :param torch.nn.Module module: the wrapped module.
    :param str precision: ``fp32`` (no autocast) or ``bf16``.
    """

    def __init__(self, module: nn.Module, precision: str):
        super().__init__()
        self.module = module
        self.dtype = autocast_dtype(precision)

    def forward(self, x, *args, **kwargs):
        with torch.autocast(x.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None):
            out = self.module(x, *args, **kwargs)
        return out.float()


def configure(
    model: nn.Module, precision: str, channels_last: bool, compile: bool, device: torch.device | str
) -> nn.Module:
    """Apply precision, memory format and compilation to a network built by :func:`ddei.mri.models.build_model`.

    Networks that know how (:meth:`ddei.mri.models.CRNN.configure`) handle it themselves; any other deepinv
    :class:`~deepinv.models.ArtifactRemoval` gets its backbone wrapped in :class:`Autocast` (and compiled).

    :param torch.nn.Module model: the network, before a method adapts it.
    :param str precision: ``fp32`` or ``bf16``.
    :param bool channels_last: NHWC memory format for the 2D convolutions.
    :param bool compile: compile the learned part with :func:`torch.compile`.
    :param device: the run's device.
    :return: the configured network (the same object).
    """
    check_precision(precision, device)
    if hasattr(model, "configure"):
        model.configure(precision=precision, channels_last=channels_last, compile=compile)
        return model
    backbone = Autocast(model.backbone_net, precision)
    if channels_last:
        backbone = backbone.to(memory_format=torch.channels_last)
    model.backbone_net = compiled(backbone) if compile else backbone
    return model


def warm_up(model: nn.Module, y: torch.Tensor, physics, key: str = "training.compile") -> float:
    """Run the network once, forward and backward, so that compilation happens (and fails) before training.

    No optimizer step and no random draw: the run's results are unchanged. Gradients are cleared.

    :param torch.nn.Module model: the configured network (not the method-adapted model).
    :param torch.Tensor y: one batch of measurements.
    :param physics: the physics of that batch.
    :param str key: the config key named in the error.
    :return: seconds spent (the cost of compiling, when ``compile`` is on).
    :raises PrecisionError: if the network cannot run (e.g. compilation fails).
    """
    t0 = time.perf_counter()
    try:
        model(y, physics).float().square().mean().backward()
    except Exception as e:  # noqa: BLE001 - any failure to compile is reported against the config key
        raise PrecisionError(
            f"{key}: the network failed to compile or run ({type(e).__name__}: {e}); set {key}: false"
        ) from e
    finally:
        model.zero_grad(set_to_none=True)
    return time.perf_counter() - t0


@contextlib.contextmanager
def full_precision(model: nn.Module):
    """Run ``model`` in float32 and eagerly inside the block, whatever precision and compilation it was configured
    with (validation).

    Turns off the autocast of every :class:`ddei.mri.models.CRNN` and :class:`Autocast` inside ``model`` and restores
    it on exit. Compiled code runs eagerly (:func:`torch.compiler.set_stance` ``"force_eager"``): a float32,
    gradient-free pass at batch 1 would otherwise compile the network anew for each of its guards (autocast, grad
    mode, batch size, the first cascade's empty hidden states), which cost the CPU smoke 10 s a train job.

    :param torch.nn.Module model: a configured network, or a method's model that wraps one.
    """
    saved = []
    for m in model.modules():
        for attr in (
            ("autocast_dtype",)
            if hasattr(m, "autocast_dtype")
            else ("dtype",)
            if isinstance(m, Autocast)
            else ()
        ):
            saved.append((m, attr, getattr(m, attr)))
            setattr(m, attr, None)
    try:
        with torch.compiler.set_stance("force_eager"):
            yield model
    finally:
        for m, attr, value in saved:
            setattr(m, attr, value)
