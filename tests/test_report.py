"""Tables, statistics and figures of the report (:mod:`ddei.report`), on small synthetic inputs."""

from __future__ import annotations

import ddei  # noqa: F401  (must be imported before deepinv)

# isort: split
import base64
import re
import shutil
import subprocess
import warnings

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon

from ddei.report import figures, tables
from ddei.report.style import STYLES, register

SLICES = [("P001", "lax", 0), ("P001", "lax", 1), ("P001", "sax", 0), ("P002", "lax", 0), ("P002", "sax", 0)]
# mean PSNR per method and acceleration; at x8 the zero-filled baseline beats every unsupervised method and the
# oracle beats everything: neither may be bold
PSNR = {
    4: {"zf": 20.0, "phase2phase": 24.0, "t-ssdu*": 25.0, "ddei": 26.0, "sup": 30.0},
    8: {"zf": 27.0, "phase2phase": 21.0, "t-ssdu*": 23.0, "ddei": 22.0, "sup": 29.0},
}


def make_metrics(seeds=(0,), slices=SLICES, psnr=PSNR) -> pd.DataFrame:
    rows = []
    for acc, means in psnr.items():
        for method, mean in means.items():
            for seed in seeds if method != "zf" else seeds[:1]:
                for i, (patient, view, s) in enumerate(slices):
                    value = mean + 0.5 * i + 0.1 * seed
                    rows.append(
                        {
                            "method": method,
                            "acceleration": acc,
                            "seed": seed,
                            "patient": patient,
                            "view": view,
                            "slice": s,
                            "psnr": value,
                            "ssim": value / 40,
                            "nmse": 1 / value,
                        }
                    )
    return pd.DataFrame(rows)


@pytest.fixture
def metrics_csv(tmp_path):
    path = tmp_path / "all.csv"
    make_metrics().to_csv(path, index=False)
    return path


def cell(summary, method, acc, metric):
    row = summary[
        (summary["method"] == method) & (summary["acceleration"] == acc) & (summary["metric"] == metric)
    ]
    assert len(row) == 1
    return row.iloc[0]


# ----------------------------------------------------------------------------------------------------- table


def test_summary_values():
    df = make_metrics()
    summary = tables.summarise(df)
    for (method, acc), sub in df.groupby(["method", "acceleration"]):
        for metric in ("psnr", "ssim", "nmse"):
            row = cell(summary, method, acc, metric)
            assert row["mean"] == pytest.approx(sub[metric].mean())
            assert row["std"] == pytest.approx(sub[metric].std(ddof=1))
            assert row["n"] == len(SLICES) and row["seeds"] == 1


def test_order_groups_and_bold():
    summary = tables.summarise(make_metrics())
    assert list(dict.fromkeys(summary["method"])) == ["zf", "phase2phase", "t-ssdu*", "ddei", "sup"]
    best = summary[summary["best"]]
    assert set(best["group"]) == {"unsupervised"}  # neither zf nor the oracle, even where they are higher
    # x4: DDEI has the highest PSNR and SSIM and the lowest NMSE among the unsupervised methods
    for metric in ("psnr", "ssim", "nmse"):
        assert cell(summary, "ddei", 4, metric)["best"]
        assert not cell(summary, "sup", 4, metric)["best"]
        # x8: T-SSDU* (23) beats DDEI (22) and Phase2Phase (21); zf (27) and sup (29) are higher but not ranked
        assert cell(summary, "t-ssdu*", 8, metric)["best"]
        assert not cell(summary, "zf", 8, metric)["best"] and not cell(summary, "sup", 8, metric)["best"]
    assert len(best) == 2 * 3  # one per column


def test_lower_is_better_for_nmse():
    df = make_metrics()
    df.loc[df["method"] == "phase2phase", "nmse"] = 1e-3  # the lowest NMSE, the worst PSNR
    summary = tables.summarise(df)
    for acc in (4, 8):
        assert cell(summary, "phase2phase", acc, "nmse")["best"]
        assert not cell(summary, "phase2phase", acc, "psnr")["best"]


def test_ties_at_displayed_precision_are_all_bold():
    df = make_metrics()
    for m in ("phase2phase", "t-ssdu*", "ddei"):
        df.loc[df["method"] == m, "psnr"] = 25.0 + (1e-4 if m == "ddei" else 0)  # 25.00 for all when shown
    summary = tables.summarise(df)
    for m in ("phase2phase", "t-ssdu*", "ddei"):
        assert cell(summary, m, 4, "psnr")["best"]


def test_several_seeds():
    df = make_metrics(seeds=(0, 1, 2))
    summary = tables.summarise(df)
    row = cell(summary, "ddei", 4, "psnr")
    sub = df[(df["method"] == "ddei") & (df["acceleration"] == 4)]
    assert row["n"] == 3 * len(SLICES) and row["seeds"] == 3
    assert row["mean"] == pytest.approx(sub["psnr"].mean()) and row["std"] == pytest.approx(sub["psnr"].std())
    assert cell(summary, "zf", 4, "psnr")["n"] == len(SLICES)
    assert "5 test slices × 3 seeds" in tables.n_note(summary)


def test_methods_absent_from_config_or_results():
    df = make_metrics()
    with pytest.warns(UserWarning, match="ei-r"):
        summary = tables.summarise(df, methods=["ddei", "sup", "ei-r"], accelerations=[8])
    assert set(summary["method"]) == {
        "zf",
        "ddei",
        "sup",
    }  # ei-r has no rows; phase2phase, t-ssdu* not configured
    assert set(summary["acceleration"]) == {8}
    assert cell(summary, "ddei", 8, "psnr")["best"]  # the only unsupervised method left
    md = tables.to_markdown(summary)
    assert "EI-rotate" not in md and "Phase2Phase" not in md


def test_single_slice_has_no_std():
    summary = tables.summarise(make_metrics(slices=SLICES[:1]))
    assert np.isnan(cell(summary, "ddei", 4, "psnr")["std"])
    md = tables.to_markdown(summary)
    assert "**26.00**" in md and "± –" not in md


def test_outputs(tmp_path, metrics_csv):
    out = {ext: tmp_path / "tables" / f"results.{ext}" for ext in ("csv", "md", "tex", "html")}
    tables.results_table(metrics_csv, out["csv"], out["md"], out["tex"], out["html"])
    csv = pd.read_csv(out["csv"])
    assert list(csv["method"]) == ["zf", "phase2phase", "t-ssdu*", "ddei", "sup"]
    assert list(csv["group"]) == ["baseline", "unsupervised", "unsupervised", "unsupervised", "supervised"]
    for acc in (4, 8):
        for metric in ("psnr", "ssim", "nmse"):
            assert (
                csv[f"acc{acc}_{metric}_mean"].dtype == float and csv[f"acc{acc}_{metric}_std"].dtype == float
            )
            assert csv[f"acc{acc}_{metric}_best"].dtype == bool
        assert list(csv[f"acc{acc}_n"]) == [len(SLICES)] * 5
    df = make_metrics()
    expected = df[(df["method"] == "sup") & (df["acceleration"] == 8)]["nmse"]
    assert csv.loc[4, "acc8_nmse_mean"] == pytest.approx(expected.mean())
    page = out["html"].read_text()
    # every row of the HTML table holds the method's label and the same cells as the Markdown table
    html_rows = re.findall(r"<tr[^>]*><td>(.*?)</td>(.*?)</tr>", page)
    md_rows = [line.strip("| ").split(" | ") for line in out["md"].read_text().splitlines()
               if line.startswith("| ") and not line.startswith("| *") and "---" not in line][1:]  # fmt: skip
    assert [label for label, _ in html_rows] == [r[0].replace("\\*", "*") for r in md_rows] == [
        "Zero-filled", "Phase2Phase", "T-SSDU*", "DDEI (ours)", "Supervised (oracle)"
    ]  # fmt: skip
    for (_, cells), md in zip(html_rows, md_rows):
        html_cells = [
            c.replace("<b>", "**").replace("</b>", "**") for c in re.findall(r"<td>(.*?)</td>", cells)
        ]
        assert html_cells == md[1:]
    assert "<td><b>27.00</b> ± 0.79</td>" in page  # x4 PSNR: DDEI is the best unsupervised method
    assert "<td>28.00 ± 0.79</td>" in page  # x8 PSNR: zero-filled is best, but never bold


def test_markdown(metrics_csv):
    summary = tables.summarise(tables.read_metrics(metrics_csv))
    md = tables.to_markdown(summary)
    lines = [line for line in md.splitlines() if line.startswith("|")]
    assert lines[0] == "| Method | ×4 PSNR (dB) | ×4 SSIM | ×8 PSNR (dB) | ×8 SSIM |"
    assert all(line.count("|") == 6 for line in lines)
    names = [line.split("|")[1].strip() for line in lines[2:]]
    assert names == ["Zero-filled", "*Unsupervised*", "Phase2Phase", "T-SSDU\\*", "DDEI (ours)", "*Supervised*",
                     "Supervised (oracle)"]  # fmt: skip
    ddei_row = lines[2 + names.index("DDEI (ours)")].split("|")
    assert ddei_row[2].strip() == "**27.00** ± 0.79"  # mean and std of 26 + 0.5 i, i = 0..4
    assert ddei_row[4].strip() == "23.00 ± 0.79"  # x8: T-SSDU* is best
    sup_row = lines[2 + names.index("Supervised (oracle)")]
    assert "**" not in sup_row
    assert len(re.findall(r"\*\*[\d.]+\*\*", md)) == 4  # PSNR and SSIM at two accelerations


def test_latex(metrics_csv, tmp_path):
    summary = tables.summarise(tables.read_metrics(metrics_csv))
    tex = tables.to_latex(summary)
    assert tex.count("{") == tex.count("}")
    for command in (
        r"\toprule",
        r"\midrule",
        r"\bottomrule",
        r"\begin{tabular}{lcccc}",
        r"\cmidrule(lr){2-3}",
    ):
        assert command in tex
    rows = [line for line in tex.splitlines() if line.endswith(r"\\") and "multicolumn" not in line]
    assert all(line.count("&") == 4 for line in rows)
    assert tex.count(r"\textbf{") == 4
    assert r"DDEI (ours) & \textbf{27.00} $\pm$ 0.79 &" in tex
    sup = next(line for line in rows if line.startswith("Supervised"))
    assert r"\textbf" not in sup
    # groups separated by rules: header, zf | unsupervised | oracle
    assert tex.count(r"\midrule") == 3
    assert "T-SSDU*" in tex and r"$\pm$" in tex
    if shutil.which("pdflatex"):
        (tmp_path / "results.tex").write_text(tex)
        doc = tmp_path / "doc.tex"
        doc.write_text(
            "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n\\input{results.tex}\n\\end{document}\n"
        )
        run = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stdout[-2000:]


def test_latex_escapes():
    assert tables.latex_escape("a_b & 50% #1") == r"a\_b \& 50\% \#1"


# ---------------------------------------------------------------------------------------------------- Wilcoxon


def test_wilcoxon_matches_scipy():
    rng = np.random.default_rng(0)
    slices = [(f"P{i:03d}", "lax", j) for i in range(4) for j in range(3)]
    df = make_metrics(slices=slices)
    for metric, sigma in (("psnr", 1.0), ("ssim", 0.02), ("nmse", 0.002)):  # no ties: scipy's exact test
        df[metric] += rng.normal(0, sigma, len(df))
    tests = tables.wilcoxon_tests(df, "ddei")
    assert set(tests["method"]) == {"zf", "phase2phase", "t-ssdu*", "sup"}
    assert list(tests.columns) == tables.WILCOXON_COLUMNS
    for _, row in tests.iterrows():
        sub = df[df["acceleration"] == row["acceleration"]]
        a = sub[sub["method"] == "ddei"].sort_values(tables.KEYS)[row["metric"]].to_numpy()
        b = sub[sub["method"] == row["method"]].sort_values(tables.KEYS)[row["metric"]].to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ref = wilcoxon(a, b)
        assert row["n"] == len(slices)
        assert row["statistic"] == pytest.approx(ref.statistic) and row["p_value"] == pytest.approx(
            ref.pvalue
        )
        assert row["mean_difference"] == pytest.approx((a - b).mean())
        assert row["p_holm"] >= row["p_value"]
    # DDEI beats zf at x4 on every slice: smallest two-sided exact p for n = 12, favouring DDEI for every metric
    zf4 = tests[(tests["method"] == "zf") & (tests["acceleration"] == 4)].set_index("metric")
    assert zf4.loc["nmse", "mean_difference"] < 0 and (zf4["favours"] == "ddei").all()


def test_wilcoxon_pairs_by_slice_and_seed():
    df = make_metrics(seeds=(0, 1, 2))
    df.loc[(df["method"] == "t-ssdu*") & (df["seed"] == 2), "psnr"] += (
        5  # seed 2 differs: pairs keep it apart
    )
    df = df.sample(frac=1, random_state=0)  # order must not matter
    tests = tables.wilcoxon_tests(df, "ddei", metrics=("psnr",))
    row = tests[(tests["method"] == "t-ssdu*") & (tests["acceleration"] == 4)].iloc[0]
    sub = df[df["acceleration"] == 4]
    a = sub[sub["method"] == "ddei"].sort_values(tables.KEYS + ["seed"])["psnr"].to_numpy()
    b = sub[sub["method"] == "t-ssdu*"].sort_values(tables.KEYS + ["seed"])["psnr"].to_numpy()
    assert row["n"] == 3 * len(SLICES)
    assert row["mean_difference"] == pytest.approx((a - b).mean())
    assert row["p_value"] == pytest.approx(wilcoxon(a, b).pvalue)
    # zero-filled has one seed: by slice, against the mean over seeds
    zf = tests[(tests["method"] == "zf") & (tests["acceleration"] == 4)].iloc[0]
    mean = sub[sub["method"] == "ddei"].groupby(tables.KEYS)["psnr"].mean()
    ref = sub[sub["method"] == "zf"].groupby(tables.KEYS)["psnr"].mean()
    assert zf["n"] == len(SLICES) and zf["mean_difference"] == pytest.approx((mean - ref).mean())


def test_wilcoxon_single_slice_and_identical_values(tmp_path):
    tests = tables.wilcoxon_tests(make_metrics(slices=SLICES[:1]), "ddei")
    assert tests["statistic"].isna().all() and tests["p_value"].isna().all()
    assert (tests["n"] == 1).all() and tests["note"].str.contains("impossible").all()

    df = make_metrics()
    df.loc[df["method"] == "phase2phase", ["psnr", "ssim", "nmse"]] = df.loc[
        df["method"] == "ddei", ["psnr", "ssim", "nmse"]
    ].to_numpy()
    tests = tables.wilcoxon_tests(df, "ddei")
    same = tests[tests["method"] == "phase2phase"]
    assert (same["p_value"] == 1.0).all() and (same["mean_difference"] == 0).all()
    assert same["note"].str.contains("zero").all() and (same["favours"] == "").all()

    few = tables.wilcoxon_tests(make_metrics(slices=SLICES[:3]), "ddei")
    assert few["note"].str.contains("unreachable").all() and few["p_value"].notna().all()

    path = tmp_path / "all.csv"
    make_metrics().query("method != 'ddei'").to_csv(path, index=False)
    out = tables.wilcoxon_report(
        path, tmp_path / "w.csv", tmp_path / "w.md", tmp_path / "w.html", reference="ddei"
    )
    assert out.empty and list(pd.read_csv(tmp_path / "w.csv").columns) == tables.WILCOXON_COLUMNS
    assert "No tests" in (tmp_path / "w.md").read_text()


def test_wilcoxon_markdown(metrics_csv, tmp_path):
    tests = tables.wilcoxon_report(
        metrics_csv, tmp_path / "w.csv", tmp_path / "w.md", tmp_path / "w.html", reference="ddei"
    )
    md = (tmp_path / "w.md").read_text()
    lines = [line for line in md.splitlines() if line.startswith("|")]
    assert len(lines) == 2 + len(tests) == 2 + 4 * 2 * 3
    assert all(line.count("|") == 10 for line in lines)
    assert "| ×4 | PSNR (dB) | Zero-filled | 5 |" in md and "T-SSDU\\*" in md
    back = pd.read_csv(tmp_path / "w.csv")
    np.testing.assert_allclose(back["p_value"], tests["p_value"])


# ----------------------------------------------------------------------------------------------------- figures

T, H, W = 12, 24, 20


@pytest.fixture
def recon_files(tmp_path):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:H, :W]
    gt = {}
    for key in ("P002_lax_s0", "P002_sax_s0"):
        frames = []
        for t in range(T):  # a disc that grows and shrinks
            r = 4 + 2 * np.sin(2 * np.pi * t / T)
            frames.append(((yy - 12) ** 2 + (xx - 10) ** 2 < r**2) * 3.0 + 0.5)
        gt[key] = np.stack(frames).astype(np.float32)
    files = {}
    for i, method in enumerate(["zf", "ddei", "t-ssdu*", "sup"]):
        path = tmp_path / "recon" / f"{method.replace('*', '-star')}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {}
        for key, x in gt.items():
            arrays[key] = (x + rng.normal(0, 0.4 / (i + 1), x.shape)).astype(np.float32)
            arrays[f"gt/{key}"] = x
        np.savez_compressed(path, **arrays)
        files[method] = path
    return files


def test_slice_helpers(recon_files):
    key, gt, recon = figures.load_slice(recon_files)
    assert key == "P002_lax_s0" and gt.shape == (T, H, W)
    assert list(recon) == ["zf", "t-ssdu*", "ddei", "sup"]  # table order
    from ddei.io.layout import parse_slice_key

    assert parse_slice_key("P_01_lax_s12") == ("P_01", "lax", 12)
    assert figures.motion_frame(gt) in (2, 3, 4)  # the largest disc is the farthest from frame 0
    assert abs(figures.profile_row(gt) - 12) <= 2  # through the disc
    metrics = pd.DataFrame(
        [
            {
                "method": "ddei",
                "acceleration": 4,
                "seed": 0,
                "patient": "P002",
                "view": "lax",
                "slice": 0,
                "psnr": 31.5,
            }
        ]
    )
    assert figures.slice_psnr(metrics, "ddei", 4, key, seed=0) == 31.5
    assert np.isnan(figures.slice_psnr(metrics, "sup", 4, key))  # no row: the figures compute no PSNR
    assert figures.palette(["ddei", "sup"]) == {
        "DDEI (ours)": STYLES["ddei"].colour,
        "Supervised (oracle)": "#000000",
    }


def test_cine_gif_and_still(recon_files, tmp_path):
    gif = tmp_path / "fig" / "cine.gif"
    key = figures.cine_gif(recon_files, gif, 4, dpi=40)
    frames = iio.imread(gif, index=None)
    assert key == "P002_lax_s0"
    assert frames.ndim == 4 and frames.shape[0] == T and frames.shape[-1] in (3, 4)
    assert not np.array_equal(frames[0], frames[3])  # it moves
    assert iio.immeta(gif).get("loop", 0) == 0  # loops forever
    height, width = frames.shape[1:3]
    assert width > 2 * height  # a grid of 5 columns and 2 rows

    html = tmp_path / "fig" / "cine.html"
    figures.gif_html(gif, html, "x4 <slice>", "caption & notes")
    page = html.read_text()
    payload = re.search(r"data:image/gif;base64,([A-Za-z0-9+/=]+)", page)[1]
    assert base64.b64decode(payload) == gif.read_bytes()  # the GIF itself, embedded
    assert "x4 &lt;slice&gt;" in page and "caption &amp; notes" in page

    png = tmp_path / "fig" / "frame.png"
    key2, frame, row = figures.cine_still(recon_files, png, 4, key="P002_sax_s0", dpi=40)
    image = iio.imread(png)
    assert key2 == "P002_sax_s0" and image.ndim == 3 and image.shape[0] > height  # a third row (x-t)
    assert 0 <= frame < T and 0 <= row < H


def colour_pixels(png, hex_colour: str, tolerance: int = 12) -> int:
    """Pixels of a PNG within ``tolerance`` of a colour (per channel)."""
    image = iio.imread(png)[..., :3].astype(int)
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(image - rgb).max(-1) <= tolerance).sum())


def test_metrics_and_training_figures(tmp_path):
    png = tmp_path / "metrics.png"
    df = make_metrics(seeds=(0, 1))
    figures.metrics_plot(df[df["method"] != "t-ssdu*"], png, dpi=60)
    for method in ("phase2phase", "ddei"):  # each method is drawn, in its registered colour
        assert colour_pixels(png, STYLES[method].colour) > 20, method
    assert colour_pixels(png, STYLES["t-ssdu*"].colour) == 0  # absent methods are not

    runs = []
    for method in ("ddei", "sup", "t-ssdu*"):
        for acc in (4, 8):
            for seed in (0, 1):
                path = tmp_path / "models" / f"{method}_{acc}_{seed}.csv"
                path.parent.mkdir(exist_ok=True)
                epochs = np.arange(1, 5)
                scale = {"ddei": 0.05, "sup": 0.2, "t-ssdu*": 0.6}[method]
                pd.DataFrame({"epoch": epochs, "loss": scale / epochs + 0.01 * seed, "seconds": 2.0}).to_csv(
                    path
                )
                runs.append((method, acc, seed, path))
    losses = figures.read_losses(runs)
    first = losses[losses["epoch"] == 1]
    np.testing.assert_allclose(first["relative"], 1.0)
    rel, raw = tmp_path / "curves.png", tmp_path / "curves_raw.png"
    figures.training_curves(runs, rel, raw, dpi=60)
    for method in ("ddei", "t-ssdu*"):
        assert (
            colour_pixels(rel, STYLES[method].colour) > 20 and colour_pixels(raw, STYLES[method].colour) > 20
        )
    assert colour_pixels(rel, STYLES["phase2phase"].colour) == 0


def test_holm_against_a_hand_computed_case():
    # sorted: 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> monotone: 0.06)
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.005])
    np.testing.assert_allclose(tables._holm(p), [0.03, 0.06, 0.06, np.nan, 0.02])
    np.testing.assert_allclose(tables._holm(np.array([0.5, 0.9])), [1.0, 1.0])  # capped at 1, and monotone


def test_variants_and_external_models_are_shown_by_name(tmp_path):
    register({"ddei-upstream": {"method": "ddei", "label": "DDEI (reference transform)"}}, ["released"])
    df = make_metrics()
    extra = df[df["method"] == "ddei"].assign(method="ddei-upstream")
    ext = df[df["method"] == "ddei"].assign(method="released", psnr=lambda d: d["psnr"] + 1)
    summary = tables.summarise(pd.concat([df, extra, ext]))
    md = tables.to_markdown(summary)
    assert "| DDEI (reference transform) |" in md and "| released |" in md and "*External*" in md
    order = list(dict.fromkeys(summary["method"]))
    assert (
        order.index("ddei") + 1 == order.index("ddei-upstream") < order.index("released") < order.index("sup")
    )
    tests = tables.wilcoxon_tests(pd.concat([df, extra]), reference="ddei-upstream")
    assert set(tests["reference"]) == {"ddei-upstream"} and "ddei" in set(tests["method"])


def test_validation_figure_draws_every_trained_method(tmp_path):
    runs = []
    for method, top in (("ddei", 24.0), ("t-ssdu", 22.0)):
        for seed in (0, 1):
            path = tmp_path / f"{method}{seed}.csv"
            steps = np.arange(0, 1001, 100)
            psnr = top - 6 * np.exp(-steps / 300) + 0.2 * seed
            pd.DataFrame({"step": steps, "epoch": steps / 100, "psnr": psnr, "ssim": psnr / 30,
                          "seconds": steps * 0.1, "zf_psnr": 17.0, "zf_ssim": 0.4}).to_csv(path, index=False)  # fmt: skip
            runs.append((method, 8, seed, path))
    off = tmp_path / "off.csv"
    off.write_text("step,epoch,psnr,ssim,seconds,zf_psnr,zf_ssim\n")  # validation off: header only, left out
    png = tmp_path / "val.png"
    figures.validation_curves(runs + [("sup", 8, 0, off)], png, dpi=60)
    for method in ("ddei", "t-ssdu"):
        assert colour_pixels(png, STYLES[method].colour) > 20, method
    no_zf = tmp_path / "no_zf.png"  # the same curves from files without the zero-filled columns
    for _, _, _, path in runs:
        pd.read_csv(path).drop(columns=["zf_psnr", "zf_ssim"]).to_csv(path.with_suffix(".nozf"), index=False)
    figures.validation_curves([(m, a, s, p.with_suffix(".nozf")) for m, a, s, p in runs], no_zf, dpi=60)
    grey = STYLES["zf"].colour  # the zero-filled level, a dashed line across the panel
    assert colour_pixels(png, grey, tolerance=40) > colour_pixels(no_zf, grey, tolerance=40) + 50
    figures.validation_curves([("sup", 8, 0, off)], tmp_path / "none.png", dpi=60)
    assert (tmp_path / "none.png").stat().st_size > 0


def test_validation_figure_draws_runs_without_ground_truth_in_their_own_row(tmp_path):
    """A run validated on its held-out lines (training.select: holdout) beside runs validated on PSNR: both are
    drawn, the held-out one in a second row, and the kept step of each as a star."""
    steps = np.arange(0, 1001, 100)
    truth, held = tmp_path / "truth.csv", tmp_path / "held.csv"
    psnr = 24.0 - 6 * np.exp(-steps / 300)
    pd.DataFrame({"step": steps, "psnr": psnr, "zf_psnr": 17.0, "holdout_nmse": np.nan,
                  "kept": (steps == 1000).astype(int)}).to_csv(truth, index=False)  # fmt: skip
    pd.DataFrame({"step": steps, "psnr": np.nan, "holdout_nmse": 0.5 + 0.5 * np.exp(-steps / 300),
                  "zf_holdout_nmse": 1.0, "kept": (steps == 600).astype(int)}).to_csv(held, index=False)  # fmt: skip
    one, two = tmp_path / "one.png", tmp_path / "two.png"
    figures.validation_curves([("ddei", 8, 0, truth)], one, dpi=60)
    figures.validation_curves([("ddei", 8, 0, truth), ("t-ssdu", 8, 0, held)], two, dpi=60)
    assert colour_pixels(two, STYLES["t-ssdu"].colour) > 20 and colour_pixels(two, STYLES["ddei"].colour) > 20
    assert iio.imread(two).shape[0] > 1.5 * iio.imread(one).shape[0]  # two rows


def test_collect_metrics_refuses_to_mix_package_versions(tmp_path):
    from ddei.report.collect import MixedVersionsError, collect_metrics

    df = make_metrics()
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    df.assign(versions="deepinv==0.5.0;torch==2.13.0").to_csv(a, index=False)
    df.assign(versions="deepinv==0.5.0;torch==2.13.0").to_csv(b, index=False)
    df.assign(versions="deepinv==0.6.0;torch==2.13.0").to_csv(c, index=False)
    assert len(collect_metrics([a, b])) == 2 * len(df)
    with pytest.raises(MixedVersionsError, match=r"deepinv==0.6.0.*c\.csv"):
        collect_metrics([a, b, c])
