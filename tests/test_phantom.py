"""Image content of the cardiac phantom (:mod:`ddei.data.phantom`): an air margin around the body in every view,
and fine, moving structure inside the ventricles."""

from __future__ import annotations

import ddei  # noqa: F401  (must be imported before deepinv)

# isort: split
import numpy as np
import pytest
from scipy import ndimage

from ddei.data.phantom import TISSUES, VIEWS, cardiac_cine

#: Image sizes (long axis, short axis): the default configuration's and the paper's (2x oversampled readout).
CONFIG_SHAPES = ((60, 44), (64, 52))
PAPER_SHAPES = ((448, 204), (512, 246))
#: Largest magnitude allowed on the outermost rows and columns, relative to the image peak: the default noise
#: level of the synthetic dataset (``generate_cmrxrecon(noise=0.01)``), so whatever is left there is buried in
#: noise. The body's anti-aliased edge leaves about 0.2 % at the default size and nothing at the paper's.
EDGE_LEVEL = 0.01
#: Radius (pixels) of the closing that fills the blood pools' notches and holes: at the paper's resolution
#: (about 1.2 mm per pixel) it finds non-blood structures up to about 7 mm thick inside the ventricles.
CLOSING_RADIUS = 3


def _shape(view: str, shapes: tuple[tuple[int, int], tuple[int, int]]) -> tuple[int, int]:
    return shapes[1] if view == "sax" else shapes[0]


def _border(array: np.ndarray) -> np.ndarray:
    """The outermost rows and columns of each frame of ``(frames, H, W)``, as ``(frames, 2 H + 2 W)``."""
    return np.concatenate([array[:, 0], array[:, -1], array[:, :, 0], array[:, :, -1]], axis=1)


@pytest.mark.parametrize("shapes", [CONFIG_SHAPES, PAPER_SHAPES], ids=["config", "paper"])
@pytest.mark.parametrize("view", VIEWS)
def test_field_of_view_edges_are_air(view, shapes):
    """The body lies inside the field of view: its edges hold air, not a band of truncated anatomy."""
    for seed in range(4):
        x, labels = cardiac_cine(_shape(view, shapes), frames=4, view=view, rng=seed, labels=True)
        magnitude = np.abs(x)
        edge = _border(magnitude).max() / magnitude.max()
        assert edge < EDGE_LEVEL, f"seed {seed}: edge magnitude {edge:.3f} of the peak"
        assert (_border(labels) == TISSUES.index("air")).all(), f"seed {seed}: anatomy at the edge"


def _intracavitary(labels: np.ndarray) -> np.ndarray:
    """Per frame, the pixels inside the ventricles' blood pools (closed, holes filled) that are not blood:
    trabeculae, papillary muscles, the moderator band."""
    radius = CLOSING_RADIUS
    disc = np.hypot(*np.mgrid[-radius : radius + 1, -radius : radius + 1]) <= radius
    found = np.zeros(labels.shape, bool)
    for frame, found_frame in zip(labels, found):
        for tissue in ("lv_blood", "rv_blood"):
            blood = frame == TISSUES.index(tissue)
            found_frame |= ndimage.binary_fill_holes(ndimage.binary_closing(blood, disc)) & ~blood
    return found


@pytest.mark.parametrize("view", VIEWS)
def test_fine_structure_moves_with_the_heart(view):
    """Many small, dark structures inside the ventricles, carried along by the beating heart."""
    for seed in (0, 1):
        x, labels = cardiac_cine(_shape(view, PAPER_SHAPES), frames=12, view=view, rng=seed, labels=True)
        fine = _intracavitary(labels)
        counts, sizes = [], []
        for frame in fine:
            components, count = ndimage.label(frame, structure=np.ones((3, 3)))
            counts.append(count)
            sizes.extend(np.bincount(components.ravel())[1:])
        assert min(counts) >= 3 and np.median(counts) >= 6, f"seed {seed}: structures per frame {counts}"
        assert np.median(sizes) <= 12, f"seed {seed}: structures of median area {np.median(sizes)} pixels"
        magnitude = np.abs(x)
        blood = np.median(magnitude[labels == TISSUES.index("lv_blood")])
        assert magnitude[fine].mean() < 0.6 * blood  # visible: dark against the blood
        lv = (labels == TISSUES.index("lv_blood")).sum(axis=(1, 2))
        diastole, systole = fine[lv.argmax()], fine[lv.argmin()]
        overlap = (diastole & systole).sum() / (diastole | systole).sum()
        assert overlap < 0.5, f"seed {seed}: the structures barely move ({overlap:.2f} overlap)"
