"""The workflow's steps as functions: a run is reproducible from its seed, initial weights included."""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import torch

from ddei.pipeline import run_evaluation, run_training

CFG = {
    "model": {"name": "crnn", "cascades": 2, "chans": 4},
    "training": {
        "epochs": 1,
        "steps_per_epoch": 2,
        "lr": 1e-3,
        "batch_size": 1,
        "device": "cpu",
        "threads": 1,
    },
    "transform_mode": "fixed",
    "image_size": [32, 32],
    "normalisation": "reference",
    "noise_sigma": 0.0,
}


def _train(extracted, tmp_path, name, seed=0):
    out = tmp_path / name
    run_training(
        "ddei",
        4,
        seed,
        CFG,
        extracted,
        extracted.parent / "masks",
        out / "model.pt",
        out / "loss.csv",
        out / "ckpt.pt",
        progress=False,
    )
    return torch.load(out / "model.pt", weights_only=False)["state_dict"]


def test_same_seed_same_weights(extracted, tmp_path):
    torch.manual_seed(1)  # global state before the run must not matter
    a = _train(extracted, tmp_path, "a")
    torch.manual_seed(2)
    b = _train(extracted, tmp_path, "b")
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = _train(extracted, tmp_path, "c", seed=1)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_evaluation_table(extracted, tmp_path):
    _train(extracted, tmp_path, "a")
    df = run_evaluation(
        "ddei",
        4,
        0,
        CFG,
        extracted,
        extracted.parent / "masks",
        tmp_path / "a" / "model.pt",
        tmp_path / "m.csv",
        tmp_path / "r.npz",
        save_recon=1,
        progress=False,
    )
    assert list(df.columns) == [
        "method",
        "acceleration",
        "seed",
        "patient",
        "view",
        "slice",
        "psnr",
        "ssim",
        "nmse",
    ]
    assert len(df) == 4 and df.psnr.notna().all()
    zf = run_evaluation(
        "zf",
        4,
        0,
        CFG,
        extracted,
        extracted.parent / "masks",
        None,
        tmp_path / "z.csv",
        tmp_path / "z.npz",
        progress=False,
    )
    assert (df.psnr.values != zf.psnr.values).any()
    import numpy as np

    saved = np.load(tmp_path / "r.npz")
    assert len(saved.files) == 2 and saved[saved.files[0]].shape == (12, 32, 32)
