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
