"""The paper's figures: reconstruction videos and stills, metrics against acceleration, training curves.

Every figure draws the methods in the table's order (:func:`ddei.report.tables.order_methods`) with one colour
per method (:mod:`ddei.report.style`). Figures are drawn on :class:`matplotlib.figure.Figure` objects (no pyplot state,
no display needed).

Inputs are the evaluation's outputs: ``recon/{method}/acc{a}/seed{s}.npz`` (keys ``<patient>_<view>_s<slice>``
→ magnitude ``(T, H, W)`` of the reconstruction, ``gt/<key>`` → the ground truth), ``metrics/all.csv`` (the
slice's PSNR shown in the titles) and ``models/{method}/acc{a}/seed{s}/loss.csv`` (``epoch, loss, seconds``).
"""

from __future__ import annotations

import base64
import html
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec
from matplotlib.ticker import MaxNLocator

from ddei.io.layout import parse_slice_key
from ddei.mri.metrics import HOLDOUT_NMSE, PAPER_METRICS, PSNR, zero_filled
from ddei.report import style
from ddei.report.tables import label, order_methods

STYLE = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.facecolor": "white",
    "figure.facecolor": "white",
}
IMAGE_CMAP = "gray"
ERROR_CMAP = "inferno"


def colour(method: str) -> str:
    """The method's colour (:mod:`ddei.report.style`)."""
    return style.colour(method)


def marker(method: str) -> str:
    return style.style_of(method).marker


def linestyle(method: str) -> str:
    return "--" if style.style_of(method).dashed else "-"


def palette(methods) -> dict[str, str]:
    """Method label → colour."""
    return {label(m): colour(m) for m in methods}


@contextmanager
def figure_style():
    with mpl.rc_context(STYLE):
        yield


def _save(fig: Figure, path, dpi: int = 200) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=dpi)


# --------------------------------------------------------------------------------------------------------------
# Reconstructions


def recon_keys(path) -> list[str]:
    with np.load(path) as npz:
        return [k for k in npz.files if not k.startswith("gt/")]


def load_slice(recon_files: dict, key: str | None = None) -> tuple[str, np.ndarray, dict[str, np.ndarray]]:
    """The ground truth and every method's reconstruction of one saved test slice.

    :param dict recon_files: method → ``.npz`` path.
    :param key: slice key; ``None``: the first slice saved in every file with its ground truth (the test scans
        without a fully sampled twin have none).
    :return: ``(key, gt, {method: recon})`` with arrays ``(T, H, W)``, methods in table order.
    :raises ValueError: no slice saved in every file, or none of them has a ground truth.
    """
    methods = order_methods(recon_files)
    if not methods:
        raise ValueError("no reconstruction files")
    if key is None:
        common = set.intersection(*(set(recon_keys(recon_files[m])) for m in methods))
        keys = [k for k in recon_keys(recon_files[methods[0]]) if k in common]
        if not keys:
            raise ValueError(
                f"no test slice is saved in all of {list(map(str, recon_files.values()))} "
                "(evaluation.save_recon must be at least 1 for the reconstruction figures)"
            )
        with np.load(recon_files[methods[0]]) as npz:
            truth = [k for k in keys if f"gt/{k}" in npz.files]
        if not truth:
            raise ValueError(
                f"none of the test slices saved in {recon_files[methods[0]]} ({', '.join(keys)}) has a fully sampled "
                "twin to compare with: the figures need a test scan with ground truth"
            )
        key = truth[0]
    recon, gt = {}, None
    for m in methods:
        with np.load(recon_files[m]) as npz:
            recon[m] = npz[key].astype(np.float32)
            if gt is None:
                gt = npz[f"gt/{key}"].astype(np.float32)
    return key, gt, recon


def slice_psnr(metrics: pd.DataFrame | None, method, acceleration, key, seed=None) -> float:
    """The slice's PSNR from ``metrics/all.csv``, the evaluation's (what the table averages); NaN (shown as
    "n/a") when the table has no row for it: the figures compute no metric of their own."""
    if metrics is not None and len(metrics):
        patient, view, s = parse_slice_key(key)
        sel = metrics[
            (metrics["method"] == method)
            & (metrics["acceleration"] == int(acceleration))
            & (metrics["patient"].astype(str) == patient)
            & (metrics["view"] == view)
            & (metrics["slice"] == s)
        ]
        if seed is not None and method != "zf" and (sel["seed"] == int(seed)).any():
            sel = sel[sel["seed"] == int(seed)]
        if len(sel):
            return float(sel[PSNR].iloc[0])
    return float("nan")


def motion_frame(gt: np.ndarray) -> int:
    """The frame farthest (L2) from frame 0: maximal displacement of the heart from the first frame."""
    return int(np.argmax(((gt - gt[:1]) ** 2).sum(axis=(1, 2))))


def profile_row(gt: np.ndarray) -> int:
    """The image row through the moving heart: the centroid row of the strongly moving pixels (temporal
    standard deviation above half its maximum, weighted by the excess), so that the line crosses the middle of
    the moving region rather than one of its edges."""
    std = gt.std(axis=0)
    weight = np.clip(std - 0.5 * std.max(), 0, None).sum(axis=1)
    if weight.sum() == 0:
        return gt.shape[1] // 2
    return int(round(float((weight * np.arange(len(weight))).sum() / weight.sum())))


class ReconGrid:
    """Columns GT | zero-filled | methods…; rows: magnitude, error map, and optionally the x–t profile.

    Magnitudes share one grey scale (0 to the 99.5th percentile of the ground truth), error maps
    ``|recon − GT|`` one colour scale over every method and frame (0 to the 99.5th percentile of all errors).
    """

    def __init__(
        self, gt, recon: dict, acceleration, key, psnrs: dict, xt_row: int | None = None, panel_in=1.45
    ):
        self.gt, self.recon, self.key = gt, recon, key
        self.methods = list(recon)
        self.acceleration = acceleration
        self.frames = gt.shape[0]
        self.vmax = float(np.percentile(gt, 99.5)) or float(gt.max()) or 1.0
        errors = np.stack([np.abs(r - gt) for r in recon.values()])
        self.emax = float(np.percentile(errors, 99.5)) or float(errors.max()) or 1.0
        self.xt_row = xt_row
        gs = self._layout(panel_in)
        self.images, self.errors = [], []
        columns = ["gt"] + self.methods
        for j, m in enumerate(columns):
            self._magnitude_panel(gs[0, j], m, psnrs, first=j == 0)
            self._error_panel(gs[1, j], m)
        if xt_row is not None:
            for j, m in enumerate(columns):
                self._xt_panel(gs[2, j], m, first=j == 0)
        self._colour_bars(gs, len(columns))
        patient, view, s = parse_slice_key(key)
        self.where = f"×{acceleration} acceleration · test slice {patient} {view.upper()} {s}"
        self.suptitle = self.fig.suptitle(self.where, y=1 - 0.12 / self._size[1], va="top")

    #: Margins, gaps and the colour bars' width and gap, in inches.
    LEFT, RIGHT, TOP, BOTTOM, GAP, CBAR_W, CBAR_GAP = 0.42, 0.95, 0.78, 0.12, 0.06, 0.1, 0.12

    def _layout(self, panel_in: float) -> GridSpec:
        """The figure and its grid: a column per image and one for the colour bars; rows magnitude, error and
        (optionally) x–t."""
        h, w = self.gt.shape[1:]
        ncol = 1 + len(self.methods)
        img_h = panel_in * h / w
        heights = [img_h, img_h] + ([panel_in * 0.55] if self.xt_row is not None else [])
        fig_w = self.LEFT + ncol * panel_in + (ncol - 1) * self.GAP + self.CBAR_GAP + self.CBAR_W + self.RIGHT
        fig_h = self.TOP + sum(heights) + self.GAP * (len(heights) - 1) + self.BOTTOM
        self._size = (fig_w, fig_h)
        self.fig = Figure(figsize=(fig_w, fig_h))
        FigureCanvasAgg(self.fig)
        return GridSpec(
            len(heights),
            ncol + 1,
            figure=self.fig,
            left=self.LEFT / fig_w,
            right=1 - self.RIGHT / fig_w,
            top=1 - self.TOP / fig_h,
            bottom=self.BOTTOM / fig_h,
            width_ratios=[panel_in] * ncol + [self.CBAR_W],
            height_ratios=heights,
            wspace=self.GAP / panel_in,
            hspace=self.GAP / np.mean(heights),
        )

    def _series(self, m: str) -> np.ndarray:
        return self.gt if m == "gt" else self.recon[m]

    def _magnitude_panel(self, cell, m: str, psnrs: dict, first: bool) -> None:
        """The first frame's magnitude, titled with the method and its PSNR (the first panel marks the x–t line)."""
        ax = self.fig.add_subplot(cell)
        self.images.append(
            ax.imshow(self._series(m)[0], cmap=IMAGE_CMAP, vmin=0, vmax=self.vmax, interpolation="nearest")
        )
        _bare(ax)
        if m == "gt":
            ax.set_title("Ground truth\n(fully sampled)")
        else:
            shown = "n/a" if np.isnan(psnrs[m]) else f"{psnrs[m]:.2f} dB"
            ax.set_title(f"{label(m)}\nPSNR {shown}")
            ax.title.set_color(colour(m))
        if not first:
            return
        ax.set_ylabel("Magnitude")
        if self.xt_row is not None:
            ax.axhline(self.xt_row, color="#00bfff", lw=0.9, ls=(0, (3, 2)))
            ax.annotate(
                "x–t line",
                (0.02, self.xt_row),
                xycoords=("axes fraction", "data"),
                xytext=(0, 2),
                textcoords="offset points",
                color="#00bfff",
                fontsize=7,
                va="bottom",
            )

    def _error_panel(self, cell, m: str) -> None:
        """The first frame's error ``|recon − GT|`` on the shared scale (under the ground truth: the row's legend)."""
        ax = self.fig.add_subplot(cell)
        _bare(ax)
        if m == "gt":
            ax.set_ylabel("Error")
            ax.text(
                0.5,
                0.5,
                "|recon − GT|\nshared scale",
                ha="center",
                va="center",
                transform=ax.transAxes,
                fontsize=8,
                color="#555555",
                style="italic",
            )
            for spine in ax.spines.values():
                spine.set_visible(False)
            return
        error = np.abs(self.recon[m][0] - self.gt[0])
        self.errors.append(ax.imshow(error, cmap=ERROR_CMAP, vmin=0, vmax=self.emax, interpolation="nearest"))

    def _xt_panel(self, cell, m: str, first: bool) -> None:
        """The x–t profile along :attr:`xt_row`, time downwards."""
        t, _, w = self.gt.shape
        ax = self.fig.add_subplot(cell)
        ax.imshow(
            self._series(m)[:, self.xt_row, :],
            cmap=IMAGE_CMAP,
            vmin=0,
            vmax=self.vmax,
            aspect="auto",
            interpolation="nearest",
            extent=(-0.5, w - 0.5, t + 0.5, 0.5),
        )
        _bare(ax)
        if first:
            ax.set_ylabel("x–t\n(time ↓)")

    def _colour_bars(self, gs: GridSpec, ncol: int) -> None:
        """The magnitude's and the error's colour bars, :attr:`CBAR_GAP` away from the panels."""
        for row, images, name in ((0, self.images, "magnitude (a.u.)"), (1, self.errors, "|error| (a.u.)")):
            cax = self.fig.add_subplot(gs[row, ncol])
            self.fig.colorbar(images[0], cax=cax).set_label(name)
        for cax in self.fig.axes[-2:]:
            pos = cax.get_position()
            cax.set_position([pos.x0 + self.CBAR_GAP / self._size[0], pos.y0, pos.width, pos.height])
            cax.tick_params(labelsize=7)

    def show(self, t: int) -> None:
        columns = [self.gt] + [self.recon[m] for m in self.methods]
        for im, data in zip(self.images, columns):
            im.set_data(data[t])
        for im, m in zip(self.errors, self.methods):
            im.set_data(np.abs(self.recon[m][t] - self.gt[t]))
        self.suptitle.set_text(f"{self.where} · frame {t + 1}/{self.frames}")

    def rgb(self, dpi: int) -> np.ndarray:
        self.fig.set_dpi(dpi)
        canvas = self.fig.canvas
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_linewidth(0.5)


def _grid_inputs(recon_files, acceleration, metrics, seed, key):
    key, gt, recon = load_slice(recon_files, key)
    psnrs = {m: slice_psnr(metrics, m, acceleration, key, seed) for m in recon}
    return key, gt, recon, psnrs


def cine_gif(
    recon_files: dict, out_gif, acceleration, metrics=None, seed=None, key=None, duration_ms=120, dpi=100
):
    """An animated GIF (every frame, looping) of :class:`ReconGrid` for one test slice.

    :param dict recon_files: method → ``recon/…/seed.npz`` (zero-filled included as ``"zf"``).
    :param metrics: ``metrics/all.csv`` as a DataFrame, for the titles' PSNR (``None``: "n/a").
    :param seed: training seed of the reconstructions (to pick the PSNR rows).
    :param key: slice key (``None``: the first saved slice).
    :return: the slice key.
    """
    import imageio.v3 as iio

    key, gt, recon, psnrs = _grid_inputs(recon_files, acceleration, metrics, seed, key)
    with figure_style():
        grid = ReconGrid(gt, recon, acceleration, key, psnrs)
        frames = []
        for t in range(grid.frames):
            grid.show(t)
            frames.append(grid.rgb(dpi))
    Path(out_gif).parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(out_gif, np.stack(frames), extension=".gif", duration=duration_ms, loop=0)
    return key


def cine_still(
    recon_files: dict, out_png, acceleration, metrics=None, seed=None, key=None, frame="motion", dpi=200
):
    """One frame of :class:`ReconGrid` (``frame="motion"``: :func:`motion_frame`, or an index) with a third
    row of x–t profiles along the row through the heart (:func:`profile_row`, dashed on the ground truth).

    :return: ``(key, frame, row)``.
    """
    key, gt, recon, psnrs = _grid_inputs(recon_files, acceleration, metrics, seed, key)
    t = motion_frame(gt) if frame == "motion" else int(frame)
    row = profile_row(gt)
    with figure_style():
        grid = ReconGrid(gt, recon, acceleration, key, psnrs, xt_row=row)
        grid.show(t)
        _save(grid.fig, out_png, dpi)
    return key, t, row


def gif_html(gif, out_html, title: str, caption: str = "") -> None:
    """A standalone HTML page showing the GIF (the Snakemake report shows HTML, not GIFs, inline)."""
    data = base64.b64encode(Path(gif).read_bytes()).decode()
    Path(out_html).parent.mkdir(parents=True, exist_ok=True)
    Path(out_html).write_text(
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n"
        "<style>body{font-family:Helvetica,Arial,sans-serif;margin:1em} img{max-width:100%;height:auto}</style>\n"
        f"</head>\n<body>\n<h3>{html.escape(title)}</h3>\n"
        f'<img src="data:image/gif;base64,{data}" alt="{html.escape(title)}">\n'
        f"<p>{html.escape(caption)}</p>\n</body>\n</html>\n"
    )


# --------------------------------------------------------------------------------------------------------------
# Metrics and training


def metrics_plot(df: pd.DataFrame, out_png, methods=None, metrics=PAPER_METRICS, dpi=200):
    """PSNR and SSIM against acceleration, one point per method: mean over test slices (and seeds) with
    its bootstrapped 95 % confidence interval, methods dodged side by side."""
    import seaborn as sns

    from ddei.report.tables import DISPLAY

    if methods is not None:
        df = df[df["method"].isin(set(methods) | {"zf"})]
    order = order_methods(df["method"])
    accs = sorted(int(a) for a in df["acceleration"].unique())
    data = df.assign(label=df["method"].map(label), acc=df["acceleration"].map(lambda a: f"×{int(a)}"))
    with figure_style():
        fig = Figure(figsize=(3.3 * len(metrics) + 0.2, 3.6))
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, len(metrics))
        axes = np.atleast_1d(axes)
        for ax, name in zip(axes, metrics):
            sns.pointplot(
                data=data,
                x="acc",
                y=name,
                hue="label",
                order=[f"×{a}" for a in accs],
                hue_order=[label(m) for m in order],
                palette=palette(order),
                markers=[marker(m) for m in order],
                linestyles=[linestyle(m) for m in order],
                errorbar=("ci", 95),
                n_boot=2000,
                seed=0,
                dodge=0.55 if len(order) > 1 else False,
                capsize=0.08,
                markersize=4.5,
                linewidth=1.2,
                err_kws={"linewidth": 1.0},
                ax=ax,
            )
            ax.set_xlabel("Acceleration factor")
            ax.set_ylabel(DISPLAY[name].label)
            ax.grid(axis="y", color="#dddddd", lw=0.6)
            ax.set_axisbelow(True)
            if ax.get_legend() is not None:
                ax.get_legend().remove()
        handles, labels_ = axes[0].get_legend_handles_labels()
        fig.legend(
            handles,
            labels_,
            loc="lower center",
            ncol=int(np.ceil(len(order) / np.ceil(len(order) / 5))),
            frameon=False,
            bbox_to_anchor=(0.5, 0.0),
            handlelength=2.2,
        )
        nrow = int(np.ceil(len(order) / 5))
        fig.subplots_adjust(left=0.09, right=0.98, top=0.93, wspace=0.3, bottom=0.16 + 0.065 * nrow)
        fig.suptitle("Test-set reconstruction quality (mean and 95 % CI over test slices)", y=0.995)
        _save(fig, out_png, dpi)


def read_losses(loss_files) -> pd.DataFrame:
    """``[(method, acceleration, seed, path), …]`` → one DataFrame with those columns and the loss.csv's."""
    frames = []
    for method, acc, seed, path in loss_files:
        df = pd.read_csv(path)
        frames.append(df.assign(method=method, acceleration=int(acc), seed=int(seed)))
    if not frames:
        raise ValueError("no loss files")
    df = pd.concat(frames, ignore_index=True)
    first = df.sort_values("epoch").groupby(["method", "acceleration", "seed"])["loss"].transform("first")
    df["relative"] = df["loss"] / first.abs().where(first != 0)
    return df


def training_curves(loss_files, out_png, out_raw_png=None, dpi=200):
    """Training loss against epoch, one panel per acceleration.

    ``out_png``: every method's loss divided by its first-epoch loss (the losses differ in kind and scale), on
    one axis per acceleration. ``out_raw_png`` (optional): the raw losses, one panel per (acceleration,
    method), each method's column with its own y-axis, and the mean wall-clock time per epoch.
    """

    df = read_losses(loss_files)
    order = order_methods(df["method"])
    accs = sorted(df["acceleration"].unique())
    df["label"] = df["method"].map(label)
    several = df.groupby(["method", "acceleration"])["seed"].nunique().max() > 1
    with figure_style():
        _relative_losses(df, order, accs, several, out_png, dpi)
        if out_raw_png is not None:
            _raw_losses(df, order, accs, several, out_raw_png, dpi)


def _relative_losses(df, order, accs, several: bool, out_png, dpi) -> None:
    """Every method's loss divided by its first-epoch loss, one axis per acceleration."""
    import seaborn as sns

    err = "sd" if several else None
    nrow = int(np.ceil(len(order) / 4))
    width, height = max(3.2 * len(accs) + 0.8, 6.0), 3.4 + 0.2 * nrow
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(1, len(accs), sharey=True))
    positive = bool((df["relative"] > 0).all())
    span = df["relative"].max() / df["relative"].min() if positive else 1
    markers = df["epoch"].nunique() <= 15
    for ax, acc in zip(axes, accs):
        sns.lineplot(
            data=df[df["acceleration"] == acc],
            x="epoch",
            y="relative",
            hue="label",
            hue_order=[label(m) for m in order],
            palette=palette(order),
            style="label",
            style_order=[label(m) for m in order],
            dashes={label(m): (3, 2) if style.style_of(m).dashed else "" for m in order},
            markers={label(m): marker(m) for m in order} if markers else False,
            markersize=4,
            linewidth=1.3,
            errorbar=err,
            ax=ax,
        )
        ax.set_title(f"×{acc} acceleration")
        ax.set_xlabel("Epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(color="#e5e5e5", lw=0.6)
        ax.set_axisbelow(True)
        if span > 20:
            ax.set_yscale("log")
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    axes[0].set_ylabel("Training loss / loss at epoch 1")
    handles, labels_ = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels_,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=int(np.ceil(len(order) / nrow)),
        frameon=False,
        handlelength=2.4,
    )
    fig.subplots_adjust(
        left=0.75 / width,
        right=1 - 0.2 / width,
        top=1 - 0.62 / height,
        bottom=(0.65 + 0.22 * nrow) / height,
        wspace=0.08,
    )
    fig.suptitle(
        "Training loss relative to its first epoch" + (" (mean ± sd over seeds)" if several else ""),
        y=1 - 0.12 / height,
        va="top",
    )
    _save(fig, out_png, dpi)


def _raw_losses(df, order, accs, several: bool, out_png, dpi) -> None:
    """The raw losses, one panel per (acceleration, method), each with its own y-axis, and the time per epoch."""
    import seaborn as sns

    err = "sd" if several else None
    fig = Figure(figsize=(2.35 * len(order) + 0.4, 2.1 * len(accs) + 0.6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(accs), len(order), sharex=True, squeeze=False)
    for i, acc in enumerate(accs):
        for j, m in enumerate(order):
            ax = axes[i, j]
            sub = df[(df["acceleration"] == acc) & (df["method"] == m)]
            if sub.empty:
                ax.text(
                    0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes, color="#777777"
                )
                continue
            sns.lineplot(
                data=sub,
                x="epoch",
                y="loss",
                color=colour(m),
                marker="o" if df["epoch"].nunique() <= 15 else None,
                markersize=3.5,
                linewidth=1.2,
                errorbar=err,
                ax=ax,
            )
            # in the corner the curve leaves free: top right if it decreases, bottom right if it increases
            rising = (
                sub.groupby("epoch")["loss"].mean().iloc[-1] > sub.groupby("epoch")["loss"].mean().iloc[0]
            )
            ax.text(
                0.97,
                0.05 if rising else 0.95,
                f"{sub['seconds'].mean():.1f} s/epoch",
                ha="right",
                va="bottom" if rising else "top",
                transform=ax.transAxes,
                fontsize=7,
                color="#555555",
            )
            ax.grid(color="#e5e5e5", lw=0.6)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("Epoch" if i == len(accs) - 1 else "")
            ax.set_ylabel(f"×{acc}\nloss" if j == 0 else "")
            if i == 0:
                ax.set_title(label(m), color=colour(m) if m != "zf" else "black")
    fig.suptitle("Training loss per method and acceleration (each panel its own scale)")
    fig.tight_layout()
    _save(fig, out_png, dpi)


def validation_curves(val_files, out_png, dpi=200):
    """Validation PSNR against training step, mean ± sd over seeds, one panel per acceleration, with the
    zero-filled level on the same slices as a dashed line and a star at the step whose weights each run kept
    (``training.select``). Runs validated without ground truth (acquired scans without a twin, held-out
    selection) show their held-out-line NMSE in a row of their own.

    :param val_files: ``[(method, acceleration, seed, path to val.csv), …]`` (the columns of
        :data:`ddei.runs.validation.VAL_COLUMNS`); empty files (validation off) are left out.
    :param out_png: the figure.
    """
    import seaborn as sns

    frames = [pd.read_csv(p).assign(method=m, acceleration=int(a), seed=int(s)) for m, a, s, p in val_files]
    df = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else None
    with figure_style():
        if df is None:
            fig = Figure(figsize=(6, 2))
            FigureCanvasAgg(fig)
            fig.text(0.5, 0.5, "validation was off (training.validate_every: false)", ha="center")
            _save(fig, out_png, dpi)
            return
        order = order_methods(df["method"])
        accs = sorted(df["acceleration"].unique())
        df["label"] = df["method"].map(label)
        # a run validated without ground truth (acquired scans without a twin, training.select: holdout) is scored
        # by the held-out lines' error, in dB: such runs get a row of their own
        run = ["method", "acceleration", "seed"]
        df["truth"] = df.groupby(run)[PSNR].transform(lambda v: v.notna().any())
        for column in (HOLDOUT_NMSE, zero_filled(HOLDOUT_NMSE)):
            if column in df:
                df[f"{column}_db"] = 10 * np.log10(df[column])
        kinds = [kind for kind in (True, False) if (df["truth"] == kind).any()]
        kinds = [kind for kind in kinds if kind or HOLDOUT_NMSE in df]
        fig = Figure(figsize=(max(3.6 * len(accs) + 0.8, 6.0), 3.4 * len(kinds) + 0.4))
        FigureCanvasAgg(fig)
        grid = np.atleast_2d(fig.subplots(len(kinds), len(accs), sharex=True, squeeze=False))
        for axes, truth in zip(grid, kinds):
            data = df[df["truth"] == truth]
            y = PSNR if truth else f"{HOLDOUT_NMSE}_db"
            zf_column = zero_filled(y)
            ylabel = "validation PSNR (dB)" if truth else "held-out-line NMSE (dB)"
            for ax, acc in zip(axes, accs):
                sns.lineplot(
                    data=data[data["acceleration"] == acc], x="step", y=y, hue="label",
                    hue_order=[label(m) for m in order], palette=palette(order), errorbar="sd", ax=ax,
                )  # fmt: skip
                kept = (
                    data[(data["acceleration"] == acc) & (data["kept"] == 1)]
                    if "kept" in data
                    else data.iloc[:0]
                )
                for method, rows in kept.groupby("method"):  # the weights each run kept (training.select)
                    ax.scatter(rows["step"], rows[y], marker="*", s=70, color=colour(method), edgecolor="black",
                               linewidth=0.5, zorder=3, label=None)  # fmt: skip
                zf = data.loc[data["acceleration"] == acc, zf_column].dropna() if zf_column in data else ()
                if len(zf):  # the same slices and masks in every run of this acceleration
                    ax.axhline(float(zf.mean()), color=colour("zf"), ls="--", lw=1.2, label=label("zf"))
                ax.set_title(f"×{acc}" + ("" if truth else ": no ground truth, lower is better"))
                ax.set_xlabel("training step")
                ax.set_ylabel(ylabel)
                ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
                legend = ax.get_legend()
                if legend is not None:
                    legend.remove()
        handles, labels = {}, []
        for ax in grid[:, 0]:  # every run's label once, whichever row it is drawn in
            for h, lab in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(lab, h)
        labels = list(handles)
        fig.legend(
            list(handles.values()), labels, loc="lower center", ncol=min(len(labels), 4), frameon=False
        )
        fig.tight_layout(rect=(0, 0.12 / len(kinds), 1, 1))
        _save(fig, out_png, dpi)


def reconstruction_montage(gifs, out, truth: bool, limit: int = 12) -> Path:
    """The first frame of each reconstructed scan (its GIF from rule reconstruct), one row per scan, labelled with
    its patient, view and factor; "no ground truth" in the title where the scans have none.

    :param gifs: the scans' GIFs (``.../AccFactorXX/Pxxx/cine_<view>.gif``).
    :param out: the PNG to write.
    :param bool truth: the scans have fully sampled twins (the TrainingSet).
    :param int limit: at most this many scans are shown (the first ones).
    """
    import imageio.v3 as iio

    gifs = [Path(g) for g in gifs][:limit]
    rows = len(gifs)
    fig = Figure(figsize=(7.0, 1.6 * rows + 0.6))
    FigureCanvasAgg(fig)
    for i, path in enumerate(gifs):
        ax = fig.add_subplot(rows, 1, i + 1)
        frame = iio.imread(path, index=0)
        ax.imshow(frame if frame.ndim == 2 else frame[..., 0], cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{path.parent.name} {path.stem}, {path.parent.parent.name}", fontsize=7, loc="left")
        _bare(ax)
    what = "reconstructions" + ("" if truth else " (no ground truth: no metric)")
    fig.suptitle(f"Undersampled scans, first frame: {what}", fontsize=9)
    fig.tight_layout()
    _save(fig, out, dpi=120)
    return Path(out)
