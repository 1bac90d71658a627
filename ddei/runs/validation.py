"""Validation during training: PSNR and SSIM of the model on held-out validation patients.

The metrics are the evaluation's (:mod:`ddei.mri.metrics`), measured on a fixed set of validation slices (the ``val``
patients of ``split.csv``, never a test patient), in eval mode, without gradients and in float32 whatever the
training precision. Measuring draws no random number, so validation never changes the trained weights.

Without ground truth (acquired scans without a fully sampled twin: the release's ``ValidationSet``; or any run with
``training.select: holdout``, which chooses its weights without ground truth), validation uses what exists, the
measurement: one measured line in :data:`HOLDOUT_EVERY` of each validation slice (outside the
central line) is held out, the model reconstructs from the others, and ``holdout_nmse`` is the normalised squared
error of its k-space on the held-out lines, against what was measured there (lower is better). PSNR and SSIM are
then empty.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from ddei.mri.metrics import HOLDOUT_NMSE, PAPER_METRICS, PSNR, SSIM, metric_functions, zero_filled
from ddei.mri.precision import full_precision

#: Columns of ``val.csv``: training step, epoch (fractional where the step is inside an epoch), the mean metrics,
#: the training seconds spent so far (validation excluded), the zero-filled baseline's mean metrics on the same
#: slices (the same on every row: the level a method must beat), the network's data-consistency weight
#: (:func:`dc_weight`) and whether the run kept that step's weights (1 on one row: ``training.select``).
VAL_COLUMNS = (
    "step",
    "epoch",
    *PAPER_METRICS,
    "seconds",
    *map(zero_filled, PAPER_METRICS),
    HOLDOUT_NMSE,
    zero_filled(HOLDOUT_NMSE),
    "dc_weight",
    "kept",
)
#: Without ground truth, one measured line in this many is held out of the model's input and scored.
HOLDOUT_EVERY = 5


class _ZeroFilled(nn.Module):
    """The zero-filled reconstruction ``A^H y``, called like a model."""

    def forward(self, y: torch.Tensor, physics) -> torch.Tensor:
        return physics.A_adjoint(y)


class Validation:
    """Mean PSNR and SSIM of a model on fixed validation slices, or without ground truth the error on their held-out
    measured lines (:func:`holdout`).

    :param dataset: :class:`ddei.data.dataset.CineSliceDataset` of the ``val`` split (read once, kept in memory).
    :param physics: a :class:`ddei.mri.physics.DynamicMRI` of the run's size (its mask is set per slice).
    :param device: torch device.
    """

    def __init__(self, dataset, physics, device: torch.device | str):
        self.device = torch.device(device)
        self.physics = physics
        self.samples = [dataset[i] for i in range(len(dataset))]
        #: every validation slice has a ground truth (else: the held-out-line score)
        self.truth = all(bool(sample.get("truth", True)) for sample in self.samples)
        if not self.truth:
            self.samples = [holdout(sample, _name(dataset, i)) for i, sample in enumerate(self.samples)]
        self.metrics = metric_functions(PAPER_METRICS)
        self.seconds = 0.0  #: total time spent validating
        #: the zero-filled baseline (``physics.A_adjoint(y)``) on the same slices, ``{"zf_psnr": …, …}``
        self.zero_filled = {zero_filled(k): v for k, v in self(_ZeroFilled()).items()}

    def __len__(self) -> int:
        return len(self.samples)

    @torch.no_grad()
    def __call__(self, model: nn.Module) -> dict[str, float]:
        """Measure ``model`` (restored to its train/eval mode afterwards).

        :param torch.nn.Module model: the method's model, called as ``model(y, physics)``.
        :return: ``{"psnr": mean, "ssim": mean, "holdout_nmse": mean}`` over the validation slices (NaN where they
            do not apply: no ground truth, or no held-out lines).
        """
        t0 = time.perf_counter()
        was_training = model.training
        model.eval()
        names = (HOLDOUT_NMSE,) if not self.truth else tuple(self.metrics)
        sums = dict.fromkeys(names, 0.0)
        with full_precision(model):
            for sample in self.samples:
                y = sample["y"][None].to(self.device)
                self.physics.update(mask=sample["params"]["mask"][None].to(self.device))
                x_hat = model(y, self.physics)
                if self.truth:
                    x = sample["x"][None].to(self.device)
                    for name, fn in self.metrics.items():
                        sums[name] += float(fn(x_hat, x).mean())
                else:  # the network's k-space on the held-out lines, against what was measured there
                    measured = sample["measured"][None].to(self.device)
                    self.physics.update(mask=sample["holdout"][None].to(self.device))
                    error = self.physics.A(x_hat) - measured
                    sums[HOLDOUT_NMSE] += float(error.pow(2).sum() / measured.pow(2).sum())
        model.train(was_training)
        self.seconds += time.perf_counter() - t0
        out = dict.fromkeys((PSNR, SSIM, HOLDOUT_NMSE), float("nan"))
        return out | {name: total / len(self.samples) for name, total in sums.items()}


def dc_weight(model: nn.Module) -> float:
    r"""The mean data-consistency weight :math:`\lambda` of a network (the CRNN's parameter ``lam``; 0 is hard data
    consistency), NaN for a network without one.

    :param torch.nn.Module model: the network, or a method's model that wraps it.
    """
    weights = [p for name, p in model.named_parameters() if name.rsplit(".", 1)[-1] == "lam"]
    weights += [p for name, p in model.named_buffers() if name.rsplit(".", 1)[-1] == "lam"]
    return (
        float(torch.cat([w.detach().flatten().float() for w in weights]).mean()) if weights else float("nan")
    )


def _name(dataset, i: int) -> str:
    """How an error names validation slice ``i``."""
    if hasattr(dataset, "record"):
        rec = dataset.record(i)
        return f"{rec['patient']} {rec['view']} slice {rec['slice']}"
    return f"validation sample {i}"


def holdout(sample: dict, name: str = "a validation slice") -> dict:
    """A validation sample with one measured phase-encode line in :data:`HOLDOUT_EVERY` held out (never the central
    one): its input ``y`` and mask keep the others, ``holdout`` marks the held-out lines, ``measured`` keeps what was
    measured there.

    :param dict sample: the sample.
    :param str name: the slice, as an error names it.
    :raises ValueError: the slice has too few measured lines to hold one out.
    """
    mask = sample["params"]["mask"]  # (2, T, H, W)
    lines = mask[0].amax(dim=(0, 1)) > 0  # (W,) the measured phase-encode lines
    centre = mask.shape[-1] // 2
    candidates = [i for i in torch.nonzero(lines).flatten().tolist() if i != centre]
    held = torch.zeros_like(lines)
    held[candidates[HOLDOUT_EVERY // 2 :: HOLDOUT_EVERY]] = True
    if not held.any():
        raise ValueError(
            f"{name} has {len(candidates)} measured phase-encode line(s) besides the central one, too few to hold "
            f"one in {HOLDOUT_EVERY} out for the held-out-line validation: use a lower acceleration or larger images"
        )
    out_mask = mask * held.to(mask.dtype)
    in_mask = mask - out_mask
    return sample | {
        "y": sample["y"] * in_mask,
        "params": {"mask": in_mask},
        "holdout": out_mask,
        "measured": sample["y"] * out_mask,
    }
