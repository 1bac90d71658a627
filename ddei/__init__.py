"""DDEI: fully unsupervised dynamic MRI reconstruction via diffeo-temporal equivariance.

The science of the pipeline as an importable package: synthetic CMRxRecon data, extraction, k-t masks,
the CRNN backbone, the DDEI transforms, the methods of the paper, training and evaluation.
Import ``ddei`` before ``deepinv`` (see :mod:`ddei._compat`).
"""

from ddei import _compat  # noqa: F401  (must run before anything imports torchvision/deepinv)

__version__ = "0.1.0"
