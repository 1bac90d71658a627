"""The image-quality metrics of the paper: the one definition that evaluation and validation both use.

Metrics are deepinv's, on the magnitude of the complex image (``complex_abs=True``) of the whole padded,
normalised frame series, with ``max_pixel=None`` (the peak of each ground truth), exactly as the reference
``train.py`` configures them.
"""

from __future__ import annotations

#: Metric names, in the order of every metrics table.
METRICS = ("psnr", "ssim", "nmse")


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
        "psnr": lambda: dinv.metric.PSNR(max_pixel=None, complex_abs=True),
        "ssim": lambda: dinv.metric.SSIM(max_pixel=None, complex_abs=True),
        "nmse": lambda: dinv.metric.NMSE(complex_abs=True),
    }
    return {name: build[name]() for name in names}
