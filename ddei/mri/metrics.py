"""The image-quality metrics of the paper: the one definition that evaluation and validation both use.

Metrics are deepinv's, on the magnitude of the complex image (``complex_abs=True``) of the whole padded,
normalised frame series, with ``max_pixel=None`` (the peak of each ground truth), exactly as the reference
``train.py`` configures them.
"""

from __future__ import annotations

#: The metrics' names: the one spelling of each, in every file, table and figure.
PSNR, SSIM, NMSE = "psnr", "ssim", "nmse"
#: Metric names, in the order of every metrics table.
METRICS = (PSNR, SSIM, NMSE)
#: The metrics of the paper's Table 1 and of validation (the metrics files have all of :data:`METRICS`).
PAPER_METRICS = (PSNR, SSIM)
#: Without ground truth: the normalised error of the measured lines held out of a model's input.
HOLDOUT_NMSE = "holdout_nmse"
#: The side of the SSIM's Gaussian window (torchmetrics' default, which deepinv's SSIM keeps). The SSIM of a frame
#: series pads its three axes (frames, H, W) by half the window, by reflection, so each needs more samples than that.
SSIM_WINDOW = 11
#: The fewest frames (and pixels along H or W) a series can have for its SSIM: the schema's minimum of ``masks.frames``.
MIN_EXTENT = SSIM_WINDOW // 2 + 1


def zero_filled(name: str) -> str:
    """The column of the zero-filled baseline's value of a metric, e.g. ``zf_psnr``."""
    return f"zf_{name}"


def metric_functions(names: tuple[str, ...] = METRICS) -> dict:
    """deepinv's metrics on magnitudes, as configured by the paper.

    :param tuple names: which of :data:`METRICS` to build.
    :return: ``{name: metric}``; each is called as ``metric(x_hat, x)`` and returns one value per sample.
    """
    import deepinv as dinv

    unknown = sorted(set(names) - set(METRICS))
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {METRICS}")
    build = {
        PSNR: lambda: dinv.metric.PSNR(max_pixel=None, complex_abs=True),
        SSIM: lambda: dinv.metric.SSIM(max_pixel=None, complex_abs=True),
        NMSE: lambda: dinv.metric.NMSE(complex_abs=True),
    }
    return {name: build[name]() for name in names}


#: Where in k-space :func:`kspace_errors` measures a reconstruction's error (the keys of its result).
KSPACE_REGIONS = ("measured", "unmeasured", "other_frames", "never")


def kspace_errors(k_hat, k, y, mask, time_dim: int = 2) -> dict[str, float]:
    """A reconstruction's k-space error, region by region, each normalised by the energy of its region:

    - ``measured``: :math:`\\|M(\\hat k - y)\\|^2 / \\|y\\|^2`, how much of the measurement the output changes;
    - ``unmeasured``: :math:`\\|(1-M)(\\hat k - k)\\|^2 / \\|(1-M)k\\|^2`, its error where this frame measured
      nothing (1 is the error of leaving zeros there, as zero-filled does);
    - ``other_frames``: the same on the points this frame did not measure and another frame did (:math:`E - M`,
      with :math:`E` the union of the masks over time), which a time-varying mask lets a model borrow;
    - ``never``: the same on the points that no frame measured (:math:`1 - E`), which no score computed from the
      measurements can see.

    Sums run over the whole array: pass one slice (a batch of one) for that slice's errors.

    :param k_hat: the output's k-space (any array with the frames along ``time_dim``).
    :param k: the ground truth's k-space, the same shape.
    :param y: the measurement, :math:`Mk` plus noise, the same shape.
    :param mask: the sampling mask :math:`M` (0 or 1), the same shape.
    :param int time_dim: the axis of the frames.
    :return: ``{region: error}`` for each of :data:`KSPACE_REGIONS` (NaN where a region is empty).
    """
    import numpy as np

    k_hat, k, y, m = (np.asarray(a, dtype=np.float64) for a in (k_hat, k, y, mask))
    ever = np.broadcast_to(m.max(axis=time_dim, keepdims=True), m.shape)

    def relative(weight, target):
        energy = ((weight * target) ** 2).sum()
        return float(((weight * (k_hat - target)) ** 2).sum() / energy) if energy > 0 else float("nan")

    return {
        "measured": relative(m, y),
        "unmeasured": relative(1 - m, k),
        "other_frames": relative(ever - m, k),
        "never": relative(1 - ever, k),
    }
