"""Reconstruct any undersampled scan with a trained model: a scan of the release's layout in, a MATLAB v7.3 image
series and a GIF out.

:func:`reconstruct_scan` reads one ``AccFactorXX/Pxxx/cine_<view>.mat`` and its mask with the checks of
:mod:`ddei.data.acquired` and reconstructs every slice of it:

- **At the scan's own size.** The CRNN is convolutional. A model trained on fully sampled data (the simulated path)
  learned on images padded in the image domain, whose pixels are the scans' own: it runs on the scan's grid. A
  model trained on acquired scans learned on k-space padded to its ``image_size`` (:mod:`ddei.data.acquired`):
  the scan's k-space is padded the same way, to at least that size, and cropped back afterwards, which undoes the
  padding exactly.
- **Normalised by the measurement**, as the acquired path is: the zero-filled image's mean and unbiased standard
  deviation; the output is scaled back to the scan's units.
- **Data-consistent.** After the network, the measured lines replace the network's (the CRNN's own consistency
  layer weighs them by its learned :math:`\\lambda`): on the sampled lines, the output's k-space is the measurement.

The output file holds ``reconstruction``: the complex image series in MATLAB axis order with the scan's shape
``(kx, ky, slice, t)`` (single precision), readable by MATLAB, h5py and mat73. The GIF shows its magnitude, the
slices side by side, one frame per time point.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from tqdm.auto import tqdm

from ddei.data.acquired import AcquiredFile, read_acquired_slice
from ddei.data.extract import center_fit, complex_to_channels, standardise
from ddei.io.files import CorruptFileError, atomic_write
from ddei.io.layout import release_mask_key, subsampled_key
from ddei.io.matlab import MatFileError, mat_shape, write_mat73
from ddei.methods.config import RunConfig
from ddei.mri.fft import image_to_kspace, kspace_to_image
from ddei.runs.evaluation import ForeignModelError, load_model
from ddei.runs.preparation import RunData, make_physics
from ddei.runs.weights import load_state

#: The variable of an output file: the complex image series, MATLAB order (kx, ky, slice, t).
OUTPUT_KEY = "reconstruction"


class ModelMismatchError(ValueError):
    """A checkpoint that does not fit the network it should load into; the message names the file and what
    differs."""


class Reconstructor(NamedTuple):
    """A trained model ready to reconstruct scans.

    :param model: the model (adapted by its method), called as ``model(y, physics)``.
    :param RunConfig cfg: the configuration it was trained with (``None`` for an external model).
    :param device: the device it runs on.
    """

    model: torch.nn.Module
    cfg: RunConfig | None
    device: torch.device | str


def load_reconstructor(
    model_path: str | os.PathLike,
    frames: int,
    device,
    external: bool = False,
    expected: RunConfig | None = None,
    acceleration: int | None = None,
) -> Reconstructor:
    """A trained model, ready to reconstruct, with the configuration it was trained with.

    :param model_path: this pipeline's ``model.pt``, or (``external``) a checkpoint of the reference repository.
    :param int frames: frames of the scans it will reconstruct.
    :param RunConfig expected: the configuration the model must have been trained with (the workflow's, for the
        method it reconstructs with); ``None``: any (the file's own).
    :param int acceleration: the factor it must have been trained at (``None``: any).
    :raises ddei.runs.evaluation.ForeignModelError: it was trained with another configuration or acceleration than
        ``expected`` and ``acceleration`` (naming what differs and the command that rebuilds it).
    :raises ModelMismatchError: its weights do not fit its network (another architecture or width).
    """
    rng = torch.Generator(device="cpu").manual_seed(0)  # test-time splits (t-ssdu*) draw from it
    data = RunData(device, None, frames, None, rng)  # each scan gets its own physics (reconstruct_slice)
    try:
        if external:
            cfg = RunConfig(
                "external", "external", (0, 0), "measurement", 0.0, str(device), 1, external=str(model_path)
            )
            return Reconstructor(load_model(cfg, model_path, data, "fp32"), None, device)
        state = load_state(model_path, ("state_dict",), map_location=device)
        cfg = RunConfig.from_dict(state["cfg"]) if expected is None else expected
        return Reconstructor(load_model(cfg, model_path, data, "fp32", acceleration), cfg, device)
    except (RuntimeError, ValueError, KeyError) as e:
        if isinstance(e, (ModelMismatchError, ForeignModelError, CorruptFileError)):
            raise
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        detail = next(
            (line for line in lines if "size mismatch" in line or "Missing key" in line),
            lines[-1] if lines else "",
        )
        named = "" if external else f" ({_network_of(model_path)})"
        raise ModelMismatchError(
            f"{model_path}: its weights do not fit the network it names{named}, another architecture or width: "
            f"{detail[:600]}"
        ) from None


def _network_of(model_path) -> str:
    try:
        spec = load_state(model_path, ("state_dict",), map_location="cpu")["cfg"]["model"]
        return f"{spec['name']} with {spec['cascades']} cascades and {spec['chans']} channels"
    except Exception:  # noqa: BLE001 - only for the message
        return "unknown network"


def _grid(native: tuple[int, int], cfg: RunConfig | None) -> tuple[int, int]:
    """The grid a scan is reconstructed on: its own, or (a model trained on acquired k-space padded to its
    ``image_size``) at least that size."""
    if cfg is None or cfg.measurements != "acquired":
        return native
    return max(native[0], cfg.image_size[0]), max(native[1], cfg.image_size[1])


@torch.no_grad()
def reconstruct_slice(reconstructor: Reconstructor, kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The reconstruction ``(t, kx, ky)`` complex64 of one measured slice ``(kx, ky, t)`` with its mask ``(kx, ky)``,
    in the scan's units, its k-space equal to the measurement on the mask's lines."""
    model, cfg, device = reconstructor
    native = kspace.shape[:2]
    grid = _grid(native, cfg)
    k = center_fit(np.moveaxis(kspace, -1, 0), grid)  # (t, H, W)
    m = center_fit(mask.astype(np.float32), grid)[None]
    zero_filled = kspace_to_image(k).astype(np.complex64)
    z, mean, std = standardise(zero_filled)
    y = (image_to_kspace(z) * m).astype(np.complex64)
    frames = k.shape[0]
    physics = make_physics((2, frames, *grid), 0.0, torch.Generator().manual_seed(0), device)
    mask_t = torch.from_numpy(np.ascontiguousarray(np.broadcast_to(m, k.shape), dtype=np.float32))
    physics.update(mask=mask_t.expand(1, 2, *mask_t.shape).to(device))
    y_t = torch.from_numpy(complex_to_channels(y))[None].to(device)
    x = model(y_t, physics)[0].float().cpu().numpy()
    x = x[0] + 1j * x[1]
    kx = image_to_kspace(x.astype(np.complex64))
    kx = kx * (1 - m) + y * m  # the measured lines, exactly
    x = kspace_to_image(kx) * (std + 1e-11) + mean * (1 + 1j)
    if grid != native:  # undo the k-space padding
        x = kspace_to_image(center_fit(image_to_kspace(x.astype(np.complex64)), native))
    return x.astype(np.complex64)


def reconstruct_scan(
    reconstructor: Reconstructor,
    scan: str | os.PathLike,
    acceleration: int,
    out_mat: str | os.PathLike,
    out_gif: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict:
    """Reconstruct every slice of one undersampled scan and write the v7.3 file (and the GIF).

    :param Reconstructor reconstructor: the model (:func:`load_reconstructor`).

    :param scan: the scan's ``cine_<view>.mat`` (its mask ``cine_<view>_mask.mat`` beside it).
    :param int acceleration: its factor (the keys ``kspace_single_subXX`` and ``maskXX``).
    :return: ``{"slices", "seconds", "seconds_per_slice", "shape"}``.
    :raises ddei.io.matlab.MatFileError: a bad scan or mask (see :func:`ddei.data.acquired.scan_acquired`).
    """
    scan = Path(scan)
    shape = _checked_shape(scan, acceleration)
    f = AcquiredFile(scan.parent.name, scan.stem.removeprefix("cine_"), acceleration, scan,
                     scan.with_name(scan.stem + "_mask.mat"), shape, None)  # fmt: skip
    if not f.mask_path.is_file():
        raise MatFileError(
            f"{f.mask_path} is missing: the undersampled scan {scan} needs its mask beside it (key "
            f"{release_mask_key(acceleration)!r})"
        )
    t0 = time.perf_counter()
    slices = []
    for s in tqdm(range(shape[2]), desc=f"reconstruct {scan.parent.name} {scan.name}", unit="slice",
                  disable=not progress, mininterval=1.0 if sys.stderr.isatty() else 30.0):  # fmt: skip
        kspace, mask = read_acquired_slice(f, s)
        slices.append(reconstruct_slice(reconstructor, kspace, mask))
    seconds = time.perf_counter() - t0
    series = np.stack(slices)  # (slice, t, kx, ky)
    write_mat73(_parent(out_mat), {OUTPUT_KEY: np.ascontiguousarray(series.transpose(2, 3, 0, 1))})
    if out_gif is not None:
        write_gif(series, _parent(out_gif))
    return {"slices": shape[2], "seconds": seconds, "seconds_per_slice": seconds / shape[2], "shape": shape}


def _parent(path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _checked_shape(scan: Path, acceleration: int) -> tuple[int, int, int, int]:
    from ddei.data.acquired import _check_key, _check_mask_shape

    _check_key(scan, acceleration)
    shape = mat_shape(scan, subsampled_key(acceleration))
    if len(shape) != 4:
        raise MatFileError(
            f"{scan}: {subsampled_key(acceleration)!r} must be 4D (kx, ky, slice, t), got {shape}"
        )
    mask = scan.with_name(scan.stem + "_mask.mat")
    if mask.is_file():
        _check_mask_shape(mask, acceleration, scan, shape)
    return shape


def write_gif(series: np.ndarray, path: str | os.PathLike, fps: float = 8.0) -> Path:
    """The magnitude of an image series ``(slice, t, kx, ky)`` as a looping GIF: slices side by side, one frame per
    time point, grey levels up to the 99.5th percentile."""
    import imageio.v3 as iio

    magnitude = np.abs(series)
    peak = float(np.percentile(magnitude, 99.5)) or 1.0
    frames = np.clip(magnitude / peak, 0, 1)
    tiles = np.concatenate(list(frames), axis=-1)  # (t, kx, slices * ky)
    images = (tiles * 255).astype(np.uint8)
    return atomic_write(
        path, lambda tmp: iio.imwrite(tmp, images, extension=".gif", duration=1000 / fps, loop=0)
    )


__all__ = [
    "OUTPUT_KEY",
    "ModelMismatchError",
    "Reconstructor",
    "load_reconstructor",
    "reconstruct_scan",
    "write_gif",
]
