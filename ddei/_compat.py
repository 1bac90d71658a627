"""Import-time fixes for the environments this pipeline runs in.

PyPI ships ``torchvision`` wheels for x86-64 Linux built against CUDA builds of torch. Next to a CPU build of
torch (``torch==2.13.0+cpu``, the CPU build that the pinned environment and CI use) its C extension cannot load, and
``import torchvision`` then fails in ``torchvision/_meta_registrations.py`` with
``RuntimeError: operator torchvision::nms does not exist``: two fake kernels are registered without checking
that the extension loaded. ``deepinv`` imports torchvision at import time, so it fails too.

:func:`ensure_torchvision_importable` declares the schemas of those two operators (and nothing else) when the
extension is missing, so that the pure-Python parts of torchvision (``transforms.functional.rotate``, used by
:class:`deepinv.transform.Rotate`) import. Calling ``torchvision.ops.nms`` still fails, loudly, because the
operators have no kernel. Where the extension loads (CUDA torch, conda builds) this does nothing. It runs when
torchvision is first imported (an import hook), so ``import ddei`` itself imports neither torch nor torchvision.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path

_SCHEMAS = {
    "nms": "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}


def ensure_torchvision_importable() -> bool:
    """Make ``import torchvision`` (and so ``import deepinv``) work beside a CPU-only torch.

    :return: ``True`` if the operator schemas had to be declared, ``False`` if nothing was needed.
    """
    if "torchvision" in sys.modules:
        return False
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return False
    import torch

    if hasattr(torch.ops.torchvision, "nms"):
        return False
    candidates = sorted(Path(spec.submodule_search_locations[0]).glob("_C*.so"))
    for lib in candidates:
        try:
            torch.ops.load_library(str(lib))
            return False
        except (OSError, RuntimeError):
            continue
    for name, schema in _SCHEMAS.items():
        try:
            torch.library.define(f"torchvision::{name}", schema)
        except RuntimeError:  # already defined by someone else
            pass
    return True


class _BeforeTorchvision(importlib.abc.MetaPathFinder):
    """Runs :func:`ensure_torchvision_importable` when torchvision is first imported, then steps aside.

    So ``import ddei`` imports nothing heavy (the report rules run without torch), and the fix still comes before
    any ``import torchvision``, whoever triggers it (deepinv, a test).
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "torchvision":
            sys.meta_path.remove(self)
            ensure_torchvision_importable()
        return None


if "torchvision" not in sys.modules and not any(isinstance(f, _BeforeTorchvision) for f in sys.meta_path):
    sys.meta_path.insert(0, _BeforeTorchvision())
