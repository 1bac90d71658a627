r"""
Dynamic cardiac phantom: bSSFP-like cine MRI of the thorax in short-axis and long-axis views.

:func:`cardiac_cine` paints a 2D+t complex image from anti-aliased ellipses (a sigmoid of the approximate signed
distance to each boundary): body with subcutaneous fat and chest-wall muscle, dark lungs, liver with vessels, spine,
descending aorta, mediastinal and patchy epicardial fat, and the heart (bright blood pools, darker myocardium,
valves). Fine structure a few pixels across, which an undersampled reconstruction can lose, is painted as thin
anti-aliased strands (:func:`_strand`): trabeculae lining the ventricles, papillary muscles with their chordae
tendineae, the moderator band of the RV, and coronary arteries in the epicardial fat; it is carried along by the
beating heart, and the trabeculae compact against the wall in systole. The heart contracts with a realistic
volume curve (ejection, rapid filling, diastasis, atrial kick) at a heart rate that varies from beat to beat, so the
cine is not periodic; the myocardium thickens as the cavity shrinks (its area is conserved); heart and liver drift
slowly with respiration; a smooth shading, fine texture and a smooth phase make it look and behave like a real
(complex) MR image.

Images are ``(frames, H, W)`` with ``H`` the readout (``kx``) axis and ``W`` the phase-encoding (``ky``) axis.
As in CMRxRecon, readout is 2x oversampled: pixels are square and the body fills the middle of the readout axis.
In every view the body is a closed cross-section inside the field of view, whose edges are air.
Lengths inside the module are in units of about half the phase-encoding field of view (about 17 cm).

>>> import numpy as np
>>> from ddei.data.phantom import cardiac_cine
>>> from ddei.mri.fft import image_to_kspace, kspace_to_image
>>> x = cardiac_cine((64, 48), frames=12, view="sax", rng=np.random.default_rng(0))
>>> x.shape, x.dtype
((12, 64, 48), dtype('complex64'))
>>> bool(np.allclose(kspace_to_image(image_to_kspace(x)), x, atol=1e-5))
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "VIEWS",
    "TISSUES",
    "Patient",
    "sample_patient",
    "cardiac_phases",
    "cardiac_cine",
]

#: Views :func:`cardiac_cine` renders: short axis and the 2-, 3- and 4-chamber long-axis views.
VIEWS = ("sax", "lax2ch", "lax3ch", "lax4ch")
#: Tissue classes of the label maps returned by ``cardiac_cine(..., labels=True)`` (label = index).
TISSUES = (
    "air",
    "fat",
    "muscle",
    "soft_tissue",
    "lung",
    "bone",
    "csf",
    "liver",
    "vessel",
    "myocardium",
    "lv_blood",
    "rv_blood",
    "atrial_blood",
)
#: Typical bSSFP signal of each tissue relative to blood, varied per patient by :func:`sample_patient`.
_INTENSITY = {
    "fat": 0.8,
    "muscle": 0.22,
    "soft_tissue": 0.35,
    "lung": 0.04,
    "bone": 0.08,
    "marrow": 0.5,
    "csf": 0.9,
    "liver": 0.3,
    "blood": 1.0,
    "myocardium": 0.24,
}
#: Layout of the background anatomy of each view, in (readout, phase-encoding) units of the field of view:
#: lungs (centre, semi-axes, angle), mediastinum (centre, semi-axes), vertebral body centre (or None), descending
#: aorta (centre, semi-axes, angle), liver (centre, semi-axes, angle), back muscles
#: (centre, semi-axes, or None), heart origin (the LV centre in short axis, the mitral annulus in long axis) and
#: heart orientation (radians).
_LAYOUT = {
    "sax": dict(
        lungs=(((-0.42, 0.08), (0.38, 0.5), 0.1), ((0.46, 0.1), (0.34, 0.48), -0.1)),
        mediastinum=((0.06, -0.12), (0.36, 0.32)),
        spine=(0.0, 0.34),
        aorta=((0.16, 0.2), (0.065, 0.065), 0.0),
        liver=((-0.4, 0.2), (0.55, 0.42), 0.3),
        back=None,
        heart=((0.12, -0.16), 0.64),
    ),
    "lax4ch": dict(
        lungs=(((-0.45, 0.1), (0.38, 0.48), 0.1), ((0.5, 0.12), (0.32, 0.46), -0.1)),
        mediastinum=((0.02, -0.05), (0.4, 0.36)),
        spine=(-0.02, 0.38),
        aorta=((0.16, 0.26), (0.065, 0.065), 0.0),
        liver=((-0.66, 0.34), (0.3, 0.24), 0.3),
        back=None,
        heart=((-0.02, -0.02), -0.72),
    ),
    "lax2ch": dict(
        lungs=(((-0.42, 0.08), (0.62, 0.5), 0.0),),
        mediastinum=((0.0, 0.05), (0.4, 0.42)),
        spine=None,
        aorta=((-0.05, 0.42), (0.22, 0.06), 0.1),
        liver=((0.8, 0.08), (0.52, 0.56), 0.2),
        back=((0.05, 0.56), (0.95, 0.14)),
        heart=((-0.12, 0.14), -0.93),
    ),
    "lax3ch": dict(
        lungs=(((-0.42, 0.1), (0.6, 0.48), 0.05),),
        mediastinum=((0.0, 0.0), (0.42, 0.42)),
        spine=None,
        aorta=((-0.05, 0.42), (0.22, 0.06), 0.1),
        liver=((0.8, 0.1), (0.5, 0.55), 0.15),
        back=((0.05, 0.56), (0.95, 0.14)),
        heart=((-0.1, 0.16), -0.85),
    ),
}
#: Anti-aliasing: logistic scale of the edges, in pixels.
_EDGE_PX = 0.45


@dataclass(frozen=True)
class Patient:
    r"""
    Anatomy and physiology of one synthetic patient, shared by all its slices and views.

    Lengths are in units of about half the phase-encoding field of view (about 17 cm).

    :param tuple[float, float] body: semi-axes of the body cross-section (left-right, antero-posterior).
    :param float fat: thickness of the subcutaneous fat.
    :param float heart: heart size factor; at 1 the LV cavity radius is 0.145 (about 25 mm) at end-diastole.
    :param float ef: fractional change of the LV cavity area between end-diastole and end-systole.
    :param float rv_ef: the same for the RV.
    :param float cycles: cardiac cycles covered by one cine; not 1, so that the last frame does not wrap around
        to the first one.
    :param float systole: fraction of the cardiac cycle spent in systole.
    :param dict[str, float] intensity: signal of each tissue, relative to blood.
    """

    body: tuple[float, float]
    fat: float
    heart: float
    ef: float
    rv_ef: float
    cycles: float
    systole: float
    intensity: dict[str, float]


def sample_patient(rng: np.random.Generator | int | None = None) -> Patient:
    r"""
    Draw the anatomy and physiology of a random patient.

    The heart rate differs from one cycle per cine by 5 to 20 % (either way), so cines are never periodic.

    :param numpy.random.Generator, int, None rng: random generator or seed.
    :return: (:class:`Patient`) the patient.
    """
    rng = np.random.default_rng(rng)
    return Patient(
        body=(rng.uniform(0.92, 1.08), rng.uniform(0.62, 0.72)),
        fat=rng.uniform(0.03, 0.08),
        heart=rng.uniform(0.88, 1.12),
        ef=rng.uniform(0.45, 0.65),
        rv_ef=rng.uniform(0.35, 0.55),
        cycles=1.0 + rng.choice((-1.0, 1.0)) * rng.uniform(0.05, 0.2),
        systole=rng.uniform(0.32, 0.4),
        intensity={tissue: value * rng.uniform(0.85, 1.15) for tissue, value in _INTENSITY.items()},
    )


def cardiac_phases(frames: int, cycles: float, rng: np.random.Generator, jitter: float = 0.1) -> np.ndarray:
    r"""
    Cardiac phase of each frame, in cycles (0 is end-diastole), for a heart rate varying from beat to beat.

    The phase steps between frames are jittered around ``cycles / frames``, and scaled so that the frame after
    the last would have phase ``phases[0] + cycles``: unless ``cycles`` is 1, the cine does not wrap around.

    :param int frames: number of frames.
    :param float cycles: cardiac cycles covered by the cine.
    :param numpy.random.Generator rng: random generator.
    :param float jitter: relative standard deviation of the phase steps.
    :return: (:class:`numpy.ndarray`) increasing phases of shape ``(frames,)``.
    """
    steps = cycles / frames * np.clip(1 + jitter * rng.standard_normal(frames), 0.3, None)
    steps *= cycles / steps.sum()
    return rng.uniform(-0.03, 0.03) + np.concatenate(([0.0], np.cumsum(steps[:-1])))


def _contraction(phases: np.ndarray, systole: float) -> np.ndarray:
    """Contraction state of the ventricles at each phase: 0 at end-diastole, 1 at end-systole.

    Systole is a smooth ejection; diastole a rapid filling (85 %), a slow diastasis and the atrial kick.
    """
    p = np.mod(phases, 1.0)
    ejection = 0.5 - 0.5 * np.cos(np.pi * p / systole)
    q = (p - systole) / (1 - systole)
    filling = 0.85 * (0.5 + 0.5 * np.cos(np.pi * np.minimum(q / 0.45, 1.0))) + 0.15 * (1 - q)
    return np.where(p < systole, ejection, filling)


def cardiac_cine(
    shape: tuple[int, int],
    frames: int = 12,
    view: str = "sax",
    rng: np.random.Generator | int | None = None,
    *,
    patient: Patient | None = None,
    slice_position: float = 0.5,
    noise: float = 0.0,
    labels: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""
    Render a cine MRI of a synthetic patient.

    Everything not fixed by ``patient`` is drawn from ``rng`` per call, as for a slice acquired in its own
    breath-hold: the heart-rate jitter and starting phase, the respiratory drift (1 to 4 pixels, mostly along the
    readout axis), the exact position and orientation of the anatomy, the shading, texture and phase.

    :param tuple[int, int] shape: image size ``(H, W)``: readout (``kx``), phase encoding (``ky``).
    :param int frames: number of frames.
    :param str view: one of :data:`VIEWS`: ``"sax"`` (short axis), ``"lax2ch"``, ``"lax3ch"``, ``"lax4ch"``.
    :param numpy.random.Generator, int, None rng: random generator or seed.
    :param Patient, None patient: the patient; if ``None``, one is drawn from ``rng`` with :func:`sample_patient`.
    :param float slice_position: short-axis slice position from the base (0) to the apex (1): the cavities
        shrink, the RV disappears and the liver grows towards the apex. Ignored for long-axis views.
    :param float noise: standard deviation of complex Gaussian noise, relative to the peak magnitude.
    :param bool labels: also return the tissue label map (indices into :data:`TISSUES`).
    :return: (:class:`numpy.ndarray`) ``complex64`` images of shape ``(frames, H, W)``, blood magnitude about 1;
        with ``labels=True``, also a ``uint8`` label map of the same shape.
    """
    if view not in VIEWS:
        raise ValueError(f"Unknown view {view!r}; choose one of {VIEWS}")
    if len(shape) != 2 or min(shape) < 8:
        raise ValueError(f"shape must be two sizes of at least 8 pixels, got {shape}")
    if frames < 1:
        raise ValueError(f"frames must be at least 1, got {frames}")
    if not 0.0 <= slice_position <= 1.0:
        raise ValueError(f"slice_position must lie in [0, 1], got {slice_position}")
    if noise < 0:
        raise ValueError(f"noise must be non-negative, got {noise}")
    rng = np.random.default_rng(rng)
    patient = sample_patient(rng) if patient is None else patient
    scene = _Scene(shape, frames, view, rng, patient, slice_position if view == "sax" else 0.35, labels)
    image = scene.render()
    magnitude_peak = float(np.abs(image).max())
    if noise > 0:
        sigma = np.float32(noise * magnitude_peak / math.sqrt(2))
        image += sigma * rng.standard_normal(image.shape, dtype=np.float32)
        image += 1j * sigma * rng.standard_normal(image.shape, dtype=np.float32)
    return (image, scene.canvas.labels) if labels else image


@dataclass
class _Canvas:
    """Painter's algorithm on an intensity image, optionally keeping a tissue label map."""

    image: np.ndarray
    labels: np.ndarray | None

    def paint(self, coverage: np.ndarray, value: float, tissue: str | None) -> None:
        """Blend ``value`` over the image with the given coverage; pixels at least half covered get ``tissue``."""
        self.image += coverage * (np.float32(value) - self.image)
        if self.labels is not None and tissue is not None:
            self.labels[np.broadcast_to(coverage >= 0.5, self.labels.shape)] = TISSUES.index(tissue)

    def crop(self, rows: slice, cols: slice) -> _Canvas:
        """A view of a rectangle of the canvas (all frames)."""
        return _Canvas(
            self.image[..., rows, cols], None if self.labels is None else self.labels[..., rows, cols]
        )


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 + 0.5 * np.tanh(0.5 * z)


def _ellipse(x, y, center, axes, edge: float, angle: float = 0.0) -> np.ndarray:
    """Anti-aliased coverage of an ellipse: a sigmoid of a first-order signed distance to its boundary.

    :param x, y: coordinates (arrays that broadcast together); ``center`` and ``axes`` may be per-frame arrays.
    :param float edge: logistic scale of the edge, in the units of the coordinates.
    :param float angle: direction of the first semi-axis, in radians from the ``x`` axis.
    """
    dx, dy = x - center[0], y - center[1]
    if angle:
        cos, sin = math.cos(angle), math.sin(angle)
        dx, dy = cos * dx + sin * dy, cos * dy - sin * dx
    a, b = axes
    p, q = dx / a, dy / b
    rho = np.sqrt(p * p + q * q)
    # |grad rho|: undefined at the centre, and bounded by 1 / max(a, b) and 1 / min(a, b) everywhere else.
    grad = np.sqrt((p / a) ** 2 + (q / b) ** 2) / np.maximum(rho, 1e-6)
    distance = (rho - 1) / np.clip(grad, 1 / np.maximum(a, b), 1 / np.minimum(a, b))
    return _sigmoid(-distance / edge)


def _disc(x, y, center, radius, edge: float) -> np.ndarray:
    """Anti-aliased coverage of a disc (exact signed distance)."""
    return _sigmoid((radius - np.hypot(x - center[0], y - center[1])) / edge)


def _strand(x, y, start, end, width, edge: float) -> np.ndarray:
    """Anti-aliased coverage of a strand: the points within ``width / 2`` of the segment from ``start`` to ``end``
    (exact signed distance; a disc if they coincide).

    :param x, y: coordinates (arrays that broadcast together); ``start``, ``end`` and ``width`` may be per-frame
        arrays.
    :param float edge: logistic scale of the edge, in the units of the coordinates.
    """
    ux, uy = end[0] - start[0], end[1] - start[1]
    dx, dy = x - start[0], y - start[1]
    t = np.clip((dx * ux + dy * uy) / np.maximum(ux * ux + uy * uy, 1e-12), 0.0, 1.0)
    return _sigmoid((0.5 * width - np.hypot(dx - t * ux, dy - t * uy)) / edge)


def _smooth_field(rng: np.random.Generator, r: np.ndarray, c: np.ndarray, terms: int, max_freq: float):
    """Random smooth field of roughly unit variance: a random mix of separable cosines.

    :param r, c: coordinates of shape ``(H, 1)`` and ``(1, W)``.
    :param int terms: cosines per axis.
    :param float max_freq: highest frequency, in cycles per unit.
    :return: ``float32`` array of shape ``(H, W)``.
    """
    basis = []
    for coords in (r.ravel(), c.ravel()):
        freq = rng.uniform(0, 2 * np.pi * max_freq, (terms, 1))
        basis.append(np.cos(freq * coords + rng.uniform(0, 2 * np.pi, (terms, 1))))
    mix = rng.standard_normal((terms, terms)) * (2 / terms)
    return (basis[0].T @ mix @ basis[1]).astype(np.float32)


def _frames(values) -> np.ndarray:
    """Per-frame values shaped ``(frames, 1, 1)`` to broadcast against images."""
    return np.asarray(values, dtype=np.float32).reshape(-1, 1, 1)


def _reach(*coords) -> tuple[float, float]:
    """Smallest and largest of scalars or per-frame arrays."""
    values = np.concatenate([np.ravel(v) for v in coords])
    return float(values.min()), float(values.max())


@dataclass
class _Heart:
    """The heart's crop of the canvas, with the per-frame coordinates ``(frames, h, w)`` of its pixels in the
    heart's own frame, and a way to find the pixels near a point of that frame, so that small structures are
    painted in a small window rather than over the whole heart.

    :param _Canvas canvas: the crop of the canvas.
    :param numpy.ndarray x, y: coordinates of the crop's pixels in the heart's frame.
    :param float edge: logistic scale of the edges.
    :param locate: ``locate(x_range, y_range)``: the rows and columns of the crop that cover that rectangle of the
        heart's frame in every image frame (the heart drifts).
    """

    canvas: _Canvas
    x: np.ndarray
    y: np.ndarray
    edge: float
    locate: Callable[[tuple[float, float], tuple[float, float]], tuple[slice, slice]]

    def paint_strand(self, start, end, width, value: float, tissue: str | None) -> None:
        """Paint a :func:`_strand` (per-frame end points and width allowed) in the window it can reach."""
        half = 0.5 * float(np.max(width))
        (x0, x1), (y0, y1) = _reach(start[0], end[0]), _reach(start[1], end[1])
        rows, cols = self.locate((x0 - half, x1 + half), (y0 - half, y1 + half))
        if rows.start < rows.stop and cols.start < cols.stop:
            coverage = _strand(self.x[..., rows, cols], self.y[..., rows, cols], start, end, width, self.edge)
            self.canvas.crop(rows, cols).paint(coverage, value, tissue)


class _Scene:
    """One cine of one view: lays out and paints the background, then the moving liver and heart."""

    def __init__(
        self,
        shape: tuple[int, int],
        frames: int,
        view: str,
        rng: np.random.Generator,
        patient: Patient,
        z: float,
        labels: bool,
    ):
        self.frames, self.view, self.rng, self.patient, self.z = frames, view, rng, patient, z
        self.layout = _LAYOUT[view]
        height, width = shape
        self.unit = min(width / (2 * 0.85), height / (2 * 1.2))  # pixels per unit
        self.edge = _EDGE_PX / self.unit
        self.r = ((np.arange(height, dtype=np.float32) - (height - 1) / 2) / self.unit)[:, None]
        self.c = ((np.arange(width, dtype=np.float32) - (width - 1) / 2) / self.unit)[None, :]
        self.canvas = _Canvas(np.zeros(shape, np.float32), np.zeros(shape, np.uint8) if labels else None)
        phases = cardiac_phases(frames, patient.cycles, rng)
        self.contraction = _frames(_contraction(phases, patient.systole))
        self.systolic = _frames(np.mod(phases, 1.0) < patient.systole)
        # Respiratory drift: slow, mostly along the readout (head-foot) axis, not periodic.
        amplitude = rng.uniform(1.0, 4.0) / self.unit
        direction = rng.normal(0.0, 0.3)
        tau = np.arange(frames) / max(frames - 1, 1)
        profile = tau + 0.1 * np.sin(2 * np.pi * tau + rng.uniform(0, 2 * np.pi))
        profile -= profile.mean()
        self.drift = (
            _frames(amplitude * math.cos(direction) * profile),
            _frames(amplitude * math.sin(direction) * profile),
        )
        self.max_drift = amplitude * float(np.abs(profile).max())

    def jitter(self, center, axes, angle=0.0, shift=0.02, scale=0.08, turn=0.05):
        """Per-slice random variation of the position, size and orientation of a structure."""
        rng = self.rng
        center = (center[0] + rng.normal(0, shift), center[1] + rng.normal(0, shift))
        axes = (axes[0] * rng.uniform(1 - scale, 1 + scale), axes[1] * rng.uniform(1 - scale, 1 + scale))
        return center, axes, angle + rng.normal(0, turn)

    def box(self, center, radius) -> tuple[slice, slice]:
        """Rows and columns of the pixels within ``radius`` (plus the drift) of ``center``, in units."""
        return self.window((center[0] - radius, center[0] + radius), (center[1] - radius, center[1] + radius))

    def window(self, r_range: tuple[float, float], c_range: tuple[float, float]) -> tuple[slice, slice]:
        """Rows and columns of the pixels of a rectangle (in units), widened by the drift and the edges."""
        margin = self.max_drift + 4 * self.edge
        rows = np.searchsorted(self.r.ravel(), [r_range[0] - margin, r_range[1] + margin])
        cols = np.searchsorted(self.c.ravel(), [c_range[0] - margin, c_range[1] + margin])
        return slice(int(rows[0]), int(rows[1])), slice(int(cols[0]), int(cols[1]))

    def render(self) -> np.ndarray:
        """Paint the whole cine; return the complex images ``(frames, H, W)`` (without noise)."""
        thorax, protect = self.paint_background()
        static = self.canvas
        self.canvas = _Canvas(
            np.repeat(static.image[None], self.frames, axis=0),
            None if static.labels is None else np.repeat(static.labels[None], self.frames, axis=0),
        )
        self.paint_liver(thorax * (1 - protect))
        self.paint_heart()
        r, c, rng = self.r, self.c, self.rng
        shading = np.exp(0.2 * _smooth_field(rng, r, c, 4, 0.5)) * (
            1 + 0.05 * _smooth_field(rng, r, c, 16, 18.0)
        )
        a = rng.normal(0, (0.8, 0.8, 0.4, 0.4, 0.4))
        phase = rng.uniform(-np.pi, np.pi) + a[0] * r + a[1] * c + a[2] * r * r + a[3] * r * c + a[4] * c * c
        phase = phase + 0.3 * _smooth_field(rng, r, c, 4, 0.6)
        return (self.canvas.image * shading) * np.exp(1j * phase.astype(np.float32))

    def paint_background(self) -> tuple[np.ndarray, np.ndarray]:
        """Paint the static anatomy; return the coverage of the rib cage and of structures the liver stays out of."""
        p, layout, canvas, r, c, edge = self.patient, self.layout, self.canvas, self.r, self.c, self.edge
        intensity = p.intensity
        # The body is a closed cross-section inside the field of view (at most 1.08 units along the readout axis,
        # which spans at least 1.2 either way), so the edges of the field of view are air in every view.
        outer = p.body
        muscle = 0.06
        canvas.paint(_ellipse(r, c, (0.0, 0.0), outer, edge), intensity["fat"], "fat")
        under_fat = _ellipse(r, c, (0.0, 0.0), (outer[0] - p.fat, outer[1] - p.fat), edge)
        canvas.paint(under_fat, intensity["muscle"], "muscle")
        inner = (outer[0] - p.fat - muscle, outer[1] - p.fat - muscle)
        thorax = _ellipse(r, c, (0.0, 0.0), inner, edge)
        canvas.paint(thorax, intensity["soft_tissue"], "soft_tissue")
        for lung in layout["lungs"]:
            center, axes, angle = self.jitter(*lung)
            canvas.paint(thorax * _ellipse(r, c, center, axes, edge, angle), intensity["lung"], "lung")
        center, axes, _ = self.jitter(*layout["mediastinum"])
        canvas.paint(_ellipse(r, c, center, axes, edge), intensity["soft_tissue"], "soft_tissue")
        protect = np.zeros_like(thorax)
        if layout["back"] is not None:
            center, axes, _ = self.jitter(*layout["back"])
            protect = _ellipse(r, c, center, axes, edge) * under_fat  # under the subcutaneous fat
            canvas.paint(protect, intensity["muscle"], "muscle")
        if layout["spine"] is not None:
            (sr, sc), _, _ = self.jitter(layout["spine"], (1.0, 1.0))
            for side in (-1, 1):
                muscle_cov = _ellipse(r, c, (sr + side * 0.14, sc + 0.15), (0.1, 0.085), edge, side * 0.3)
                canvas.paint(muscle_cov, intensity["muscle"], "muscle")
                protect = np.maximum(protect, muscle_cov)
            cortex = _disc(r, c, (sr, sc), 0.115, edge)
            canvas.paint(cortex, intensity["bone"], "bone")
            canvas.paint(_disc(r, c, (sr, sc), 0.1, edge), intensity["marrow"], "bone")
            canal = _disc(r, c, (sr, sc + 0.155), 0.045, edge)
            canvas.paint(canal, intensity["csf"], "csf")
            canvas.paint(_disc(r, c, (sr, sc + 0.155), 0.022, edge), intensity["soft_tissue"], "soft_tissue")
            protect = np.maximum(protect, np.maximum(cortex, canal))
        center, axes, angle = self.jitter(*layout["aorta"], scale=0.05)
        wall = _ellipse(r, c, center, (axes[0] + 0.012, axes[1] + 0.012), edge, angle)
        canvas.paint(wall, intensity["muscle"], "soft_tissue")
        canvas.paint(_ellipse(r, c, center, axes, edge, angle), 0.9 * intensity["blood"], "vessel")
        return thorax, np.maximum(protect, wall)

    def moving_coords(self, rows: slice, cols: slice, origin, angle: float):
        """Per-frame coordinates ``(frames, h, w)`` of a crop, in a frame attached to a drifting structure."""
        dr = self.r[rows] - (origin[0] + self.drift[0])
        dc = self.c[:, cols] - (origin[1] + self.drift[1])
        cos, sin = math.cos(angle), math.sin(angle)
        return cos * dr + sin * dc, cos * dc - sin * dr

    def paint_liver(self, allowed: np.ndarray) -> None:
        """Paint the liver (and its vessels), drifting with respiration, where ``allowed``."""
        p, rng, edge = self.patient, self.rng, self.edge
        center, axes, angle = self.jitter(*self.layout["liver"], shift=0.03)
        if self.view == "sax":  # the liver rises into the slice towards the apex
            axes = (axes[0] * (0.45 + 0.75 * self.z), axes[1] * (0.45 + 0.75 * self.z))
        rows, cols = self.box(center, max(axes) + 0.02)
        canvas = self.canvas.crop(rows, cols)
        x, y = self.moving_coords(rows, cols, center, angle)
        liver = _ellipse(x, y, (0.0, 0.0), axes, edge) * allowed[rows, cols]
        canvas.paint(liver, p.intensity["liver"], "liver")
        for _ in range(6):
            spot = (rng.uniform(-0.7, 0.7) * axes[0], rng.uniform(-0.7, 0.7) * axes[1])
            vessel = _disc(x, y, spot, rng.uniform(0.008, 0.022), edge)
            canvas.paint(vessel * liver, 0.8 * p.intensity["blood"], "vessel")

    def paint_heart(self) -> None:
        """Paint the beating heart, drifting with respiration."""
        p, rng = self.patient, self.rng
        origin, orientation = self.layout["heart"]
        center, _, angle = self.jitter(origin, (1.0, 1.0), orientation, shift=0.03, scale=0.0, turn=0.12)
        radius = (0.55 if self.view == "sax" else 0.8) * p.heart
        rows, cols = self.box(center, radius)
        x, y = self.moving_coords(rows, cols, center, angle)
        cos, sin = math.cos(angle), math.sin(angle)

        def locate(x_range, y_range) -> tuple[slice, slice]:
            corners = np.array([(u, v) for u in x_range for v in y_range])
            r = center[0] + cos * corners[:, 0] - sin * corners[:, 1]
            c = center[1] + sin * corners[:, 0] + cos * corners[:, 1]
            found = self.window((r.min(), r.max()), (c.min(), c.max()))
            return tuple(
                slice(min(max(w.start - crop.start, 0), n), min(max(w.stop - crop.start, 0), n))
                for w, crop, n in zip(found, (rows, cols), x.shape[1:])
            )

        heart = _Heart(self.canvas.crop(rows, cols), x, y, self.edge, locate)
        # Patchy epicardial fat: an envelope of the heart modulated by a smooth random field.
        patches = _sigmoid(3 * _smooth_field(rng, self.r[rows], self.c[:, cols], 4, 3.0) + 1)
        if self.view == "sax":
            _sax_heart(heart, self.contraction, p, self.z, rng, patches)
        else:
            _lax_heart(heart, self.contraction, self.systolic, p, self.view, rng, patches)


def _wall(centre, axes, angle: float):
    """Point of the boundary of an ellipse at a parametric angle, and the inward unit normal there.

    :param centre, axes: centre and semi-axes; scalars or per-frame arrays.
    :param float angle: parametric angle, in radians from the first semi-axis.
    :return: ``((x, y), (nx, ny))``.
    """
    cos, sin = math.cos(angle), math.sin(angle)
    nx, ny = -cos / axes[0], -sin / axes[1]
    norm = np.hypot(nx, ny)
    return (centre[0] + axes[0] * cos, centre[1] + axes[1] * sin), (nx / norm, ny / norm)


def _draw_strands(rng: np.random.Generator, count: int, *, angles, gap, length, width) -> np.ndarray:
    """Random trabeculae for :func:`_trabeculae`: rows ``(angle, gap, length, width, tilt)``, each drawn uniformly
    from the given ``(low, high)`` range, the tilt within 0.35 radians of the wall's normal."""
    ranges = (angles, gap, length, width, (-0.35, 0.35))
    return np.stack([rng.uniform(low, high, count) for low, high in ranges], axis=1)


def _trabeculae(heart: _Heart, centre, axes, strands: np.ndarray, contraction, value: float) -> None:
    """Paint trabeculae carneae, the muscular strands lining a ventricle, on the wall of its elliptic cavity.

    Each strand is rooted on the wall and follows it; as the ventricle contracts it shortens and thickens (its
    area conserved), so in systole the trabeculae compact against the wall.

    :param _Heart heart: the heart.
    :param centre, axes: centre and semi-axes of the cavity; scalars or per-frame arrays.
    :param numpy.ndarray strands: rows ``(angle, gap, length, width, tilt)``: parametric angle of the root, its
        distance inwards from the wall (negative: rooted in the wall), the length (0: a dot, the cross-section of a
        strand that crosses the slice), the width at end-diastole, and the angle between the strand and the
        inward normal to the wall.
    :param contraction: per-frame contraction state, 0 at end-diastole and 1 at end-systole.
    :param float value: intensity of the strands.
    """
    squeeze = 1 - 0.3 * contraction
    for angle, gap, length, width, tilt in strands:
        (px, py), (nx, ny) = _wall(centre, axes, angle)
        cos, sin = math.cos(tilt), math.sin(tilt)
        start = (px + gap * nx, py + gap * ny)
        reach = length * squeeze
        end = (start[0] + reach * (cos * nx - sin * ny), start[1] + reach * (sin * nx + cos * ny))
        heart.paint_strand(start, end, width / np.sqrt(squeeze), value, "myocardium")


def _coronary(heart: _Heart, point, h: float, intensity: dict[str, float]) -> None:
    """Paint a coronary artery (lumen, wall and the fat around it) at a per-frame point of the heart surface."""
    for width, value, tissue in ((0.07, 0.9 * intensity["fat"], "fat"), (0.034, intensity["muscle"], None)):
        heart.paint_strand(point, point, width * h, value, tissue)
    heart.paint_strand(point, point, 0.022 * h, 0.9 * intensity["blood"], "vessel")


def _sax_heart(heart: _Heart, contraction, p: Patient, z: float, rng, patches) -> None:
    """Short-axis heart in its own frame: LV centre at the origin, RV towards ``-x``."""
    canvas, x, y, edge = heart.canvas, heart.x, heart.y, heart.edge
    intensity, h = p.intensity, p.heart
    r0 = 0.145 * h * math.sqrt(1 - (0.9 * z) ** 2)  # the LV narrows towards the apex
    e0 = r0 + 0.055 * h * (1 - 0.25 * z)
    ovality = rng.uniform(0.0, 0.06)
    r_endo = r0 * np.sqrt(1 - p.ef * contraction)
    r_epi = np.sqrt(r_endo**2 + (e0**2 - r0**2))  # incompressible myocardium: thickens as the cavity shrinks
    rv_size = math.sqrt(max(1 - (z / 0.85) ** 2, 0.0))
    a_rv0, b_rv0 = 0.12 * h * rv_size, 1.25 * e0
    fat = _ellipse(x, y, (-0.5 * a_rv0, 0.0), (e0 + 0.5 * a_rv0 + 0.05, max(e0, b_rv0) + 0.04), edge)
    canvas.paint(fat * patches, 0.9 * intensity["fat"], "fat")
    myo = intensity["myocardium"]
    if rv_size > 0.2:
        a_rv, b_rv = a_rv0 * np.sqrt(1 - p.rv_ef * contraction), b_rv0 * (1 - 0.08 * contraction)
        wall = 0.02 * h
        for side in (-1, 1):  # the LAD and PDA, in the grooves where the RV meets the LV
            angle = _groove(e0, (a_rv0 + wall, b_rv0 + wall), side)
            radius = r_epi + 0.024 * h
            _coronary(heart, (radius * math.cos(angle), radius * math.sin(angle)), h, intensity)
        canvas.paint(_ellipse(x, y, (-e0, 0.0), (a_rv + wall, b_rv + wall), edge), myo, "myocardium")
        canvas.paint(_ellipse(x, y, (-e0, 0.0), (a_rv, b_rv), edge), 0.95 * intensity["blood"], "rv_blood")
        # The RV is coarsely trabeculated on its free wall; towards the apex the moderator band crosses it.
        strands = _draw_strands(
            rng,
            rng.integers(4, 8),
            angles=(0.6 * math.pi, 1.4 * math.pi),
            gap=(-0.006 * h, -0.004 * h),
            length=(0.15 * a_rv0, 0.45 * a_rv0),
            width=(0.008 * h, 0.016 * h),
        )
        _trabeculae(heart, (-e0, 0.0), (a_rv, b_rv), strands, contraction, myo)
        if z > 0.5:
            offset = rng.uniform(-0.3, 0.3) * b_rv0
            band = (
                (-r_epi + 0.01 * h, offset),
                (-e0 - a_rv - 0.005 * h, offset + rng.uniform(-0.03, 0.03) * h),
            )
            heart.paint_strand(*band, 0.02 * h * (1 + 0.2 * contraction), myo, "myocardium")
    oval = (1 + ovality, 1 - ovality)
    canvas.paint(_ellipse(x, y, (0.0, 0.0), (r_epi * oval[0], r_epi * oval[1]), edge), myo, "myocardium")
    cavity = (r_endo * oval[0], r_endo * oval[1])
    canvas.paint(_ellipse(x, y, (0.0, 0.0), cavity, edge), intensity["blood"], "lv_blood")
    # LV trabeculae, on the free wall rather than the smooth septum, denser towards the apex: strands rooted in
    # the wall, and dots (strands crossing the slice) just off it.
    strands = np.concatenate(
        [
            _draw_strands(
                rng,
                rng.integers(6, 10) + round(6 * z),
                angles=(-0.7 * math.pi, 0.7 * math.pi),
                gap=(-0.006 * h, -0.004 * h),
                length=(0.1 * r0, 0.28 * r0),
                width=(0.007 * h, 0.014 * h),
            ),
            _draw_strands(
                rng,
                rng.integers(3, 7),
                angles=(-0.75 * math.pi, 0.75 * math.pi),
                gap=(0.06 * r0, 0.16 * r0),
                length=(0.0, 0.0),
                width=(0.008 * h, 0.014 * h),
            ),
        ]
    )
    _trabeculae(heart, (0.0, 0.0), cavity, strands, contraction, myo)
    if 0.1 < z < 0.85:  # papillary muscles, on the free wall, moving with it
        for angle in (rng.uniform(0.5, 1.0), -rng.uniform(0.5, 1.0)):
            center = (0.68 * r_endo * math.cos(angle), 0.68 * r_endo * math.sin(angle))
            heart.paint_strand(center, center, 0.4 * r0 * (1 + 0.3 * contraction), myo, "myocardium")


def _groove(e0: float, rv_axes: tuple[float, float], side: int) -> float:
    """Polar angle (short-axis heart frame) of the groove where the RV, an ellipse of semi-axes ``rv_axes``
    centred at ``(-e0, 0)``, meets the LV epicardium, a circle of radius ``e0``, on the given side (sign of y)."""
    angles = np.linspace(0.0, math.pi, 181)
    inside = ((e0 * np.cos(angles) + e0) / rv_axes[0]) ** 2 + (e0 * np.sin(angles) / rv_axes[1]) ** 2 < 1
    first = angles[np.argmax(inside)] if inside.any() else math.pi
    return side * (first - 0.12)


@dataclass
class _LaxGeometry:
    """Where a long-axis view's chambers lie at one moment, in the heart's frame (see :func:`_lax_heart`): the LV
    cavity's ellipse ``(centre, a, b)`` and its epicardium ``b_epi``, the annulus ``base``, the atria's ``roof`` and
    (4-chamber view) the RV's ellipse and the right atrium's position."""

    length: float
    radius: float
    wall: float
    base: float
    apex_wall: float
    a: float
    centre: float
    b: float
    b_epi: float
    roof: float
    atrium_width: float
    low: float
    high: float
    rv_base: float = 0.0
    rv_a: float = 0.0
    rv_b: float = 0.0
    rv_y: float = 0.0
    ra_y: float = 0.0
    rv_centre: float = 0.0


def _lax_geometry(h: float, c, p: Patient, view: str, rng) -> _LaxGeometry:
    """The chambers' geometry (two draws from ``rng``: the LV's length and the atria's roof)."""
    length, radius, wall = 0.5 * h * rng.uniform(0.92, 1.08), 0.145 * h, 0.055 * h
    # LV: the annulus descends towards the fixed apex in systole; the apical wall thickens.
    base = 0.07 * h * c
    apex = length + 0.8 * wall
    apex_wall = 0.8 * wall * (1 + 0.4 * c)
    a = (apex - apex_wall - base) / 1.66  # the cavity is widest a third of the way to the apex
    b = radius * np.sqrt(1 - p.ef * c)
    g = _LaxGeometry(
        length=length,
        radius=radius,
        wall=wall,
        base=base,
        apex_wall=apex_wall,
        a=a,
        centre=apex - apex_wall - a,
        b=b,
        b_epi=np.sqrt(b**2 + (radius + wall) ** 2 - radius**2),
        roof=-0.3 * h * rng.uniform(0.9, 1.1),  # the atria fill as the annulus descends
        atrium_width=0.14 * h * (1 + 0.1 * c),
        low=-(radius + wall) - 0.05,
        high=radius + wall + 0.05,
    )
    if view == "lax4ch":
        g.rv_base = 0.04 * h + 0.1 * h * c
        g.rv_a = (0.8 * length - g.rv_base) / 1.66
        g.rv_b = 0.11 * h * np.sqrt(1 - p.rv_ef * c)
        g.rv_y = -(g.b_epi + 0.55 * g.rv_b)
        g.ra_y = -(radius + wall) - 0.6 * 0.11 * h - 0.03 * h
        g.low = g.ra_y - 0.16 * h
        g.rv_centre = 0.8 * length - g.rv_a
    return g


def _lax_heart(heart: _Heart, contraction, systolic, p: Patient, view: str, rng, patches) -> None:
    """Long-axis heart in its own frame: mitral annulus at the origin, apex towards ``+x``, RV towards ``-y``."""
    canvas, x, y, edge = heart.canvas, heart.x, heart.y, heart.edge
    intensity, h, c = p.intensity, p.heart, contraction
    myo, blood = intensity["myocardium"], intensity["blood"]
    g = _lax_geometry(h, c, p, view, rng)
    apex = g.length + 0.8 * g.wall
    envelope = _ellipse(
        x,
        y,
        ((apex + g.roof) / 2, (g.low + g.high) / 2),
        ((apex - g.roof) / 2 + 0.03, (g.high - g.low) / 2),
        edge,
    )
    canvas.paint(envelope * patches, 0.9 * intensity["fat"], "fat")
    _lax_coronaries(heart, g, view, h, intensity)
    _lax_atria(heart, g, view, h, c, intensity)
    if view == "lax4ch":
        _lax4ch_rv(heart, g, h, c, intensity, rng)
    elif view == "lax3ch":  # the anterior RV, in front of the septum
        _lax3ch_rv(heart, g, h, c, intensity, rng)
    canvas.paint(
        _sigmoid((x - g.base + 0.01 * h) / edge)
        * _ellipse(x, y, (g.centre, 0.0), (g.a + g.apex_wall, g.b_epi), edge),
        myo,
        "myocardium",
    )
    valves = [(g.base, 0.0, 0.75 * g.b, systolic)]  # mitral: closed in systole
    if view == "lax3ch":
        _aortic_root(heart, g, h, systolic, intensity)
    canvas.paint(
        _sigmoid((x - g.base) / edge) * _ellipse(x, y, (g.centre, 0.0), (g.a, g.b), edge), blood, "lv_blood"
    )
    _lv_fine_structure(heart, (g.centre, g.a, g.b, g.base), c, systolic, view, h, myo, rng)
    if view == "lax4ch":
        valves.append((g.rv_base, g.rv_y, 0.7 * g.rv_b, systolic))
    _valves(heart, valves, h, myo)


def _lax_coronaries(heart: _Heart, g: _LaxGeometry, view: str, h: float, intensity: dict) -> None:
    """Coronary arteries in the atrioventricular grooves: the circumflex, and the right coronary in 4-chamber
    view."""
    groove = g.b_epi * np.sqrt(1 - ((g.base - 0.01 * h - g.centre) / (g.a + g.apex_wall)) ** 2)
    _coronary(heart, (g.base - 0.01 * h, groove + 0.012 * h), h, intensity)
    if view == "lax4ch":
        groove = (g.rv_b + 0.02 * h) * np.sqrt(
            1 - ((g.rv_base - 0.01 * h - g.rv_centre) / (g.rv_a + 0.02)) ** 2
        )
        _coronary(heart, (g.rv_base - 0.01 * h, g.rv_y - groove - 0.012 * h), h, intensity)


def _lax_atria(heart: _Heart, g: _LaxGeometry, view: str, h: float, c, intensity: dict) -> None:
    """The left atrium (and the right one in 4-chamber view): walls first, then blood."""
    x, y, edge = heart.x, heart.y, heart.edge
    atria = [(0.06 * h if view == "lax3ch" else 0.0, g.base, g.atrium_width)]
    if view == "lax4ch":
        atria.append((g.ra_y, g.rv_base, 0.13 * h * (1 + 0.1 * c)))
    for y0, end, width in atria:
        heart.canvas.paint(
            _ellipse(x, y, ((end + g.roof) / 2, y0), ((end - g.roof) / 2 + 0.012, width + 0.012), edge),
            intensity["myocardium"],
            "myocardium",
        )
    for y0, end, width in atria:
        heart.canvas.paint(
            _ellipse(x, y, ((end + g.roof) / 2, y0), ((end - g.roof) / 2, width), edge),
            0.93 * intensity["blood"],
            "atrial_blood",
        )


def _lax4ch_rv(heart: _Heart, g: _LaxGeometry, h: float, c, intensity: dict, rng) -> None:
    """The 4-chamber view's RV: wall, blood, coarse trabeculae on the free wall and the moderator band, from the
    septum across the apical RV."""
    canvas, x, y, edge = heart.canvas, heart.x, heart.y, heart.edge
    myo = intensity["myocardium"]
    rv_beyond = _sigmoid((x - g.rv_base) / edge)
    centre, rv_a, rv_b, rv_y = g.rv_centre, g.rv_a, g.rv_b, g.rv_y
    canvas.paint(
        rv_beyond * _ellipse(x, y, (centre, rv_y), (rv_a + 0.02, rv_b + 0.02 * h), edge), myo, "myocardium"
    )
    canvas.paint(
        rv_beyond * _ellipse(x, y, (centre, rv_y), (rv_a, rv_b), edge), 0.95 * intensity["blood"], "rv_blood"
    )
    strands = _draw_strands(
        rng,
        rng.integers(4, 8),
        angles=(-1.9, 0.1),
        gap=(-0.006 * h, -0.004 * h),
        length=(0.02 * h, 0.055 * h),
        width=(0.008 * h, 0.016 * h),
    )
    _trabeculae(heart, (centre, rv_y), (rv_a, rv_b), strands, c, myo)
    septal, free = centre + 0.35 * rv_a, centre + 0.35 * rv_a + 0.03 * h
    band = (
        (septal, rv_y + rv_b * np.sqrt(1 - 0.35**2) + 0.01 * h),
        (free, rv_y - rv_b * np.sqrt(np.clip(1 - ((free - centre) / rv_a) ** 2, 0, 1)) - 0.008 * h),
    )
    heart.paint_strand(*band, 0.022 * h * (1 + 0.2 * c), myo, "myocardium")


def _lax3ch_rv(heart: _Heart, g: _LaxGeometry, h: float, c, intensity: dict, rng) -> None:
    """The 3-chamber view's anterior RV, in front of the septum, with its trabeculae."""
    canvas, x, y, edge = heart.canvas, heart.x, heart.y, heart.edge
    myo = intensity["myocardium"]
    rv = ((0.35 * g.length, -(g.radius + g.wall) - 0.07 * h), (0.25 * h, 0.075 * h * (1 - 0.2 * c)))
    canvas.paint(_ellipse(x, y, rv[0], (rv[1][0] + 0.02, rv[1][1] + 0.02 * h), edge), myo, "myocardium")
    canvas.paint(_ellipse(x, y, *rv, edge), 0.95 * intensity["blood"], "rv_blood")
    strands = _draw_strands(
        rng,
        rng.integers(3, 6),
        angles=(-2.5, -0.6),
        gap=(-0.006 * h, -0.004 * h),
        length=(0.015 * h, 0.035 * h),
        width=(0.008 * h, 0.014 * h),
    )
    _trabeculae(heart, *rv, strands, c, myo)


def _aortic_root(heart: _Heart, g: _LaxGeometry, h: float, systolic, intensity: dict) -> None:
    """The 3-chamber view's aortic root leaving the LV outflow tract; its valve is open in systole."""
    canvas, x, y, edge = heart.canvas, heart.x, heart.y, heart.edge
    myo = intensity["myocardium"]
    direction = math.pi + 0.45
    start = (0.02 * h, -0.55 * (g.radius + g.wall))
    half, rad = 0.17 * h, 0.06 * h
    root = (start[0] + half * math.cos(direction), start[1] + half * math.sin(direction))
    canvas.paint(_ellipse(x, y, root, (half, rad + 0.012), edge, direction), myo, "myocardium")
    canvas.paint(_ellipse(x, y, root, (half, rad), edge, direction), 0.9 * intensity["blood"], "vessel")
    valve = (start[0] + 0.05 * h * math.cos(direction), start[1] + 0.05 * h * math.sin(direction))
    canvas.paint(_ellipse(x, y, valve, (0.01 * h, 0.9 * rad), edge, direction) * (1 - systolic), myo, None)


def _valves(heart: _Heart, valves: list, h: float, myo: float) -> None:
    """Atrioventricular valves ``(x0, y0, half_width, closed)``: a closed leaflet line, or two open leaflets pointing
    into the ventricle."""
    canvas, x, y, edge = heart.canvas, heart.x, heart.y, heart.edge
    for x0, y0, half_width, closed in valves:
        canvas.paint(_ellipse(x, y, (x0, y0), (0.01 * h, half_width), edge) * closed, myo, None)
        for side in (-1, 1):
            leaflet = _ellipse(
                x, y, (x0 + 0.06 * h, y0 + side * 0.8 * half_width), (0.06 * h, 0.008 * h), edge
            )
            canvas.paint(leaflet * (1 - closed), myo, None)


def _lv_fine_structure(
    heart: _Heart, cavity, contraction, systolic, view: str, h: float, myo: float, rng
) -> None:
    """Long-axis LV trabeculae, papillary muscles and their chordae tendineae.

    :param _Heart heart: the heart.
    :param tuple cavity: per-frame ``(centre, a, b, base)``: the cavity is the ellipse of centre ``(centre, 0)`` and
        semi-axes ``(a, b)`` beyond the mitral annulus at ``x = base``.
    :param contraction, systolic: per-frame contraction state and systole indicator.
    :param str view: the long-axis view.
    :param float h: heart size factor.
    :param float myo: intensity of the myocardium.
    :param numpy.random.Generator rng: random generator.
    """
    centre, a, b, base = cavity
    radius = 0.145 * h
    # Trabeculae, mostly towards the apex and off the smooth septum (towards -y, except in 2-chamber view).
    angles = (-1.9, 1.9) if view == "lax2ch" else (-0.6, 1.9)
    strands = np.concatenate(
        [
            _draw_strands(
                rng,
                rng.integers(8, 13),
                angles=angles,
                gap=(-0.006 * h, -0.004 * h),
                length=(0.1 * radius, 0.28 * radius),
                width=(0.007 * h, 0.014 * h),
            ),
            _draw_strands(
                rng,
                rng.integers(3, 7),
                angles=(-1.2, 1.2),
                gap=(0.05 * radius, 0.15 * radius),
                length=(0.0, 0.0),
                width=(0.008 * h, 0.014 * h),
            ),
        ]
    )
    _trabeculae(heart, (centre, 0.0), (a, b), strands, contraction, myo)
    # Papillary muscles rise from the mid-apical wall towards the mitral leaflets and thicken in systole; their
    # chordae hold the leaflets' tips (open, in diastole) or their closing line (in systole).
    half_width = 0.75 * b
    for side in {"lax2ch": (-1, 1), "lax3ch": (1,), "lax4ch": (1,)}[view]:
        (px, py), (nx, ny) = _wall((centre, 0.0), (a, b), side * rng.uniform(0.85, 1.1))
        width = rng.uniform(0.04, 0.055) * h * (1 + 0.25 * contraction)
        root = (px - 0.5 * width * nx, py - 0.5 * width * ny)
        tip = (centre + a * rng.uniform(-0.1, 0.05), side * b * rng.uniform(0.3, 0.42))
        middle = (0.5 * (root[0] + tip[0]), 0.5 * (root[1] + tip[1]))
        heart.paint_strand(root, middle, width, myo, "myocardium")
        heart.paint_strand(middle, tip, 0.7 * width, myo, "myocardium")
        for _ in range(2):
            leaflet_open = (base + rng.uniform(0.09, 0.12) * h, side * rng.uniform(0.7, 0.85) * half_width)
            leaflet_closed = (base + 0.008 * h, side * rng.uniform(0.3, 0.75) * half_width)
            end = tuple(
                np.where(systolic, closed, opened) for closed, opened in zip(leaflet_closed, leaflet_open)
            )
            heart.paint_strand(tip, end, 0.006 * h, myo, None)
