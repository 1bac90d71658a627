"""How many phase-encode lines the k-t masks sample: the always-sampled centre block and the lines per frame.

The arithmetic of :class:`deepinv.physics.generator.GaussianMaskGenerator` as :func:`ddei.mri.masks.gaussian_kt_mask`
calls it, without importing anything: the workflow's configuration checks use it at parse time
(:func:`ddei.methods.config.check_config`), so that an acceleration deepinv would refuse is refused before any job
runs.
"""

from __future__ import annotations


class AccelerationError(ValueError):
    """An acceleration whose lines per frame cannot hold the centre block; the message names the key."""


def default_center_fraction(acceleration: int) -> float:
    """Fraction of always-sampled central lines: 8 %, 4 %, 2 % at 4x, 8x, 16x.

    :param int acceleration: acceleration factor.
    """
    return 0.32 / acceleration


def center_lines(ky: int, acceleration: int, center_fraction: float | None = None) -> tuple[float, int]:
    """The centre fraction :func:`ddei.mri.masks.gaussian_kt_mask` passes to deepinv, and the lines of the centre
    block that deepinv makes of it (``int(center_fraction * ky)``).

    :param int ky: phase-encode lines of the data.
    :param float center_fraction: default :func:`default_center_fraction`; at least one line, the k-space centre.
    :return: ``(center_fraction, lines)``.
    """
    cf = default_center_fraction(acceleration) if center_fraction is None else center_fraction
    cf = max(cf, (1 + 1e-6) / ky)  # at least the DC line, also for tiny images
    return cf, int(cf * ky)


def fits(ky: int, acceleration: int) -> bool:
    """Whether the ``floor(ky / R)`` lines of a frame hold the centre block (deepinv raises "center_fraction is too
    high" otherwise)."""
    return ky // acceleration >= center_lines(ky, acceleration)[1]


def check_acceleration(ky: int, acceleration: int, what: str = "the data") -> None:
    """Refuse an acceleration whose lines per frame cannot hold the centre block.

    :param int ky: phase-encode lines of the data.
    :param int acceleration: acceleration factor R.
    :param str what: the data, for the message (a file, or the config key of its shape).
    :raises AccelerationError: naming ``masks.accelerations``, the value and the largest acceleration that works.
    """
    if not fits(ky, acceleration):
        largest = max((r for r in range(1, acceleration) if fits(ky, r)), default=1)
        raise AccelerationError(
            f"masks.accelerations: {acceleration} leaves floor({ky} / {acceleration}) = {ky // acceleration} lines "
            f"per frame of {what} (ky = {ky}), fewer than its always-sampled centre block of "
            f"{center_lines(ky, acceleration)[1]} line(s); the largest acceleration for ky = {ky} is {largest}"
        )
