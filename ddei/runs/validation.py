"""Validation during training: PSNR and SSIM of the model on held-out validation patients.

The metrics are the evaluation's (:mod:`ddei.mri.metrics`), measured on a fixed set of validation slices (the ``val``
patients of ``split.csv``, never a test patient), in eval mode, without gradients and in float32 whatever the
training precision. Measuring draws no random number, so validation never changes the trained weights.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from ddei.mri.metrics import metric_functions
from ddei.mri.precision import full_precision

#: Columns of ``val.csv``: training step, epoch (fractional where the step is inside an epoch), the mean metrics,
#: the training seconds spent so far (validation excluded), and the zero-filled baseline's mean metrics on the same
#: slices (the same on every row: the level a method must beat).
VAL_COLUMNS = ("step", "epoch", "psnr", "ssim", "seconds", "zf_psnr", "zf_ssim")


class _ZeroFilled(nn.Module):
    """The zero-filled reconstruction ``A^H y``, called like a model."""

    def forward(self, y: torch.Tensor, physics) -> torch.Tensor:
        return physics.A_adjoint(y)


class Validation:
    """Mean PSNR and SSIM of a model on fixed validation slices.

    :param dataset: :class:`ddei.data.dataset.CineSliceDataset` of the ``val`` split (read once, kept in memory).
    :param physics: a :class:`ddei.mri.physics.DynamicMRI` of the run's size (its mask is set per slice).
    :param device: torch device.
    """

    def __init__(self, dataset, physics, device: torch.device | str):
        self.device = torch.device(device)
        self.physics = physics
        self.samples = [dataset[i] for i in range(len(dataset))]
        self.metrics = metric_functions(("psnr", "ssim"))
        self.seconds = 0.0  #: total time spent validating
        #: the zero-filled baseline (``physics.A_adjoint(y)``) on the same slices, ``{"zf_psnr": …, "zf_ssim": …}``
        self.zero_filled = {f"zf_{k}": v for k, v in self(_ZeroFilled()).items()}

    def __len__(self) -> int:
        return len(self.samples)

    @torch.no_grad()
    def __call__(self, model: nn.Module) -> dict[str, float]:
        """Measure ``model`` (restored to its train/eval mode afterwards).

        :param torch.nn.Module model: the method's model, called as ``model(y, physics)``.
        :return: ``{"psnr": mean, "ssim": mean}`` over the validation slices.
        """
        t0 = time.perf_counter()
        was_training = model.training
        model.eval()
        sums = dict.fromkeys(self.metrics, 0.0)
        with full_precision(model):
            for sample in self.samples:
                x = sample["x"][None].to(self.device)
                y = sample["y"][None].to(self.device)
                self.physics.update(mask=sample["params"]["mask"][None].to(self.device))
                x_hat = model(y, self.physics)
                for name, fn in self.metrics.items():
                    sums[name] += float(fn(x_hat, x).mean())
        model.train(was_training)
        self.seconds += time.perf_counter() - t0
        return {name: total / len(self.samples) for name, total in sums.items()}
