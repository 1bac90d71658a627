"""The centred orthonormal 2D Fourier transform of MRI, in numpy (the convention of deepinv's MRI physics).

Used wherever k-space is computed outside torch: the extraction of real and synthetic data, the datasets, the
phantom.
"""

from __future__ import annotations

import numpy as np


def image_to_kspace(img: np.ndarray) -> np.ndarray:
    r"""
    Centred orthonormal 2D Fourier transform over the last two axes.

    The same convention as :meth:`deepinv.physics.mri.MRIMixin.im_to_kspace`:
    ``fftshift(fft2(ifftshift(x), norm="ortho"))``.

    :param numpy.ndarray img: complex images of shape ``(..., H, W)``.
    :return: (:class:`numpy.ndarray`) k-space of the same shape (``complex64`` for ``complex64`` input).
    """
    axes = (-2, -1)
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(img, axes=axes), norm="ortho"), axes=axes)


def kspace_to_image(ksp: np.ndarray) -> np.ndarray:
    r"""
    Inverse of :func:`image_to_kspace` (the convention of :meth:`deepinv.physics.mri.MRIMixin.kspace_to_im`).

    :param numpy.ndarray ksp: k-space of shape ``(..., H, W)``.
    :return: (:class:`numpy.ndarray`) complex images of the same shape.
    """
    axes = (-2, -1)
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(ksp, axes=axes), norm="ortho"), axes=axes)
