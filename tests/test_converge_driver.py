"""The convergence driver (experiments/converge.py): its grids and its report on hand-made run files."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "experiments"))
import converge  # noqa: E402

from ddei.io.layout import LOSS, VAL, result  # noqa: E402


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setattr(converge, "REPO", tmp_path)
    return tmp_path


def write(root: Path, template: str, method: str, seed: int, frame: pd.DataFrame) -> None:
    path = root / "results" / result(template, method, 8, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def test_selection_pairs_compares_the_training_losses_of_a_run_and_its_holdout_twin(root):
    config = {"results": "results", "training": {"batch_size": 1}}
    setting = converge.Setting(cpu=True)
    losses = pd.DataFrame({"epoch": [1, 2, 3], "loss": [0.5, 0.25, 0.125], "seconds": [1.0, 2.0, 3.0]})
    write(root, LOSS, "ddei", 0, losses)
    write(root, LOSS, "ddei-holdout", 0, losses.iloc[:2])  # still running: 2 epochs in common
    write(
        root, VAL, "ddei-holdout", 0, pd.DataFrame({"step": [96, 192], "holdout_nmse": [0.5, 0.4], "kept": 0})
    )
    write(root, LOSS, "t-ssdu", 1, losses)
    write(root, LOSS, "t-ssdu-holdout", 1, losses.assign(loss=[0.5, 0.3, 0.125]))
    write(root, VAL, "t-ssdu", 1, pd.DataFrame({"step": [96, 192], "psnr": [20.0, 22.0]}))
    write(
        root,
        VAL,
        "t-ssdu-holdout",
        1,
        pd.DataFrame({"step": [96, 192], "holdout_nmse": [0.5, 0.4], "kept": [0, 1]}),
    )
    write(root, LOSS, "t-ssdu", 0, losses)  # no holdout twin: no row
    rows = [
        line for line in converge.selection_pairs(config, setting) if line.startswith("| ") and "8 |" in line
    ]
    assert rows == [
        "| ddei | 8 | 0 | 2 | identical | not yet |  |  |  |  |",
        "| t-ssdu | 8 | 1 | 3 | max difference 0.05 | 192 |  |  |  |  |",  # trained apart: no scoring
    ]


def test_selection_pairs_scores_the_kept_step_on_the_base_runs_curve(root):
    """One trajectory: the base run's validation PSNR at each step scores the held-out run's checkpoints. By hand:
    held-out errors 0.5, 0.4, 0.45, 0.38 keep step 384 (PSNR 21.5, also the last); the best PSNR is 22 at step 192;
    Spearman over all steps: ranks (4, 2, 3, 1) against (1, 4, 2, 3), -4/5 = -0.80; over the second half (steps
    288 and 384), -1."""
    config = {"results": "results", "training": {"batch_size": 2}}
    losses = pd.DataFrame({"epoch": [1, 2], "loss": [0.5, 0.25], "seconds": [1.0, 2.0]})
    steps = [96, 192, 288, 384]
    write(root, LOSS, "ddei", 0, losses)
    write(root, LOSS, "ddei-holdout", 0, losses)
    write(
        root,
        VAL,
        "ddei",
        0,
        pd.DataFrame({"step": steps, "psnr": [20.0, 22.0, 21.0, 21.5], "holdout_nmse": None}),
    )
    nmse = [0.5, 0.4, 0.45, 0.38]
    write(
        root,
        VAL,
        "ddei-holdout",
        0,
        pd.DataFrame({"step": steps, "psnr": None, "holdout_nmse": nmse, "kept": [0, 0, 0, 1]}),
    )
    rows = [
        line
        for line in converge.selection_pairs(config, converge.Setting(cpu=True))
        if line.startswith("| ddei")
    ]
    assert rows == ["| ddei | 8 | 0 | 2 | identical | 768 | 21.50 | 21.50 | 22.00 (384) | -0.80, -1.00 |"]


def test_selection_pairs_is_empty_without_pairs(root):
    assert (
        converge.selection_pairs(
            {"results": "results", "training": {"batch_size": 1}}, converge.Setting(True)
        )
        == []
    )


def test_the_cpu_grid_starts_with_the_contest_on_seed_0_the_ddeis_first():
    runs = converge.grid({}, converge.Setting(cpu=True))
    assert runs[:2] == [("ddei-holdout", 8, 0), ("ddei", 8, 0)]
    first = {m for m, _, s in runs[:6]}
    assert all(s == 0 for _, _, s in runs[:6]) and first == set(converge.CONTEST)
    assert {"t-ssdu", "t-ssdu-holdout", "t-ssdu-upstream", "t-ssdu-upstream-holdout"} <= first
    assert runs[6:12] == [(m, 8, 1) for m in converge.CONTEST] and len(set(runs)) == len(runs)


def test_the_twins_grid_is_the_acquired_grids_runs_with_the_last_weights():
    """The twins are the reference points: the acquired grid's DDEI, EI-rotate and T-SSDU runs, same factors and
    seeds, each once (no -holdout repeat of a training, no ddei-spatial)."""
    acquired = converge.grid({}, converge.Setting(True, "acquired"))
    twins = converge.grid({}, converge.Setting(True, "twins"))
    assert twins == [r for r in acquired if r[0] in ("ddei", "ei-r", "t-ssdu")] and len(twins) == 9
    assert {(a, s) for _, a, s in twins} == {(8, 0), (4, 0), (8, 1)}


def _metrics(method: str, psnr: list[list[float]], seeds=(0, 1)) -> pd.DataFrame:
    """Hand-made metrics: one row per seed and test slice (two slices of one patient), at 8x."""
    return pd.DataFrame(
        [
            {
                "method": method,
                "acceleration": 8,
                "seed": s,
                "patient": "P001",
                "view": "sax",
                "slice": i,
                "psnr": p,
                "ssim": 0.5,
                "nmse": 0.1,
                "versions": "v",
            }  # fmt: skip
            for s, row in zip(seeds, psnr, strict=True)
            for i, p in enumerate(row)
        ]
    )


def test_against_twins_compares_what_each_reaches_and_gains_by_hand():
    acquired = pd.concat([_metrics("ddei", [[30, 32], [31, 33]]), _metrics("zf", [[28, 29]], seeds=(0,))])
    twins = pd.concat([_metrics("ddei", [[29, 30], [30, 31]]), _metrics("zf", [[25, 27]], seeds=(0,))])
    rows = {r.split(" | ")[0].strip("| ") + " / " + r.split(" | ")[1] + " / " + r.split(" | ")[2]: r.split(" | ")
            for r in converge.against_twins(acquired, twins) if r.startswith("| ddei") or r.startswith("| zf")}  # fmt: skip
    reached = rows["ddei (acquired) − ddei (twins) / reached / PSNR (dB)"]
    assert reached[4] == "+1.50" and "seed 0: +1.50, seed 1: +1.50" in reached[6] and reached[7] == "2/2 |"
    # gains, each slice against its own zero-filled: acquired [2, 3] and [3, 4], twins [4, 3] and [5, 4]: slice 0
    # -2 on both seeds, slice 1 0 on both (so the bootstrap CI over the two slices is [-2, 0])
    gain = rows["ddei (acquired) − ddei (twins) / gain over zero-filled / PSNR (dB)"]
    assert gain[4] == "-1.00" and gain[5] == "[-2.00, +0.00]" and gain[7] == "0/2 |"
    assert rows["zf (acquired) − zf (twins) / reached / PSNR (dB)"][4] == "+2.50"
    assert not any(k.startswith("zf") and "gain" in k for k in rows)
    assert converge.against_twins(acquired, twins.iloc[0:0]) == []


def test_region_table_reads_an_empty_region_as_no_such_point():
    from baselines import region_table

    errors = pd.DataFrame(
        [
            {
                "method": "ddei",
                "acceleration": 8,
                "seed": s,
                "measured": 0.001 * (s + 1),
                "unmeasured": 0.5 + s,
                "other_frames": float("nan"),
                "never": 0.5 + s,
            }
            for s in (0, 1)
        ]  # fmt: skip
    )
    (row,) = [line for line in region_table(errors) if line.startswith("| ddei")]
    assert row == "| ddei | 8 | 0, 1 | 0.15 % | 1.000 | no such point | 1.000 |"
    assert region_table(errors.iloc[0:0]) == []


def test_against_twins_refuses_settings_with_other_test_slices():
    acquired = pd.concat([_metrics("ddei", [[30, 32], [31, 33]]), _metrics("zf", [[28, 29]], seeds=(0,))])
    twins = pd.concat([_metrics("ddei", [[29, 30], [30, 31]]), _metrics("zf", [[25, 27]], seeds=(0,))])
    twins.loc[twins.method == "zf", "patient"] = "P002"
    with pytest.raises(ValueError, match="test slices and the twins' differ"):
        converge.against_twins(acquired, twins)
