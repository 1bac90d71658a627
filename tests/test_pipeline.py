"""The workflow's steps as functions: a run is reproducible from its seed, its identity covers configuration,
data and code, and the evaluation's numbers are the model's."""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import dataclasses
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from test_training import SETTINGS, settings

from ddei.data.dataset import CineSliceDataset
from ddei.methods.config import ConfigError, ModelConfig, RunConfig
from ddei.mri.metrics import metric_functions
from ddei.runs.evaluation import SavedRecon, run_evaluation
from ddei.runs.preparation import Run, data_digest, run_identity
from ddei.runs.training import RunFiles, run_training

SPLITTING = {k: SETTINGS[k] for k in ("split_ratio", "split_mask", "split_centre", "split_dc")}

TRAINING = settings(epochs=1, steps=2)
CFG = RunConfig(
    method="ddei",
    base="ddei",
    image_size=(32, 32),
    normalisation="reference",
    noise_sigma=0.0,
    device="cpu",
    threads=1,
    model=ModelConfig(name="crnn", cascades=2, chans=4),
    training=TRAINING,
    settings={"transform_mode": "fixed"},
)
ZF = RunConfig("zf", "zf", (32, 32), "reference", 0.0, "cpu", 1)


def _train(extracted, tmp_path, name, seed=0, cfg=CFG):
    out = tmp_path / name
    run_training(
        Run(cfg, 4, seed, extracted, extracted.parent / "masks"),
        out / "model.pt",
        RunFiles(out / "ckpt.pt", out / "loss.csv", out / "val.csv"),
        progress=False,
    )
    assert not (out / "ckpt.pt").exists(), "a finished run leaves no checkpoint to resume"
    return torch.load(out / "model.pt", weights_only=True)["state_dict"]


def test_validation_never_reads_a_test_patient(extracted, tmp_path, monkeypatch):
    """A training run with validation reads training and validation slices only (every np.load is watched)."""
    import ddei.data.dataset as dataset_module

    index = pd.read_csv(extracted / "index.csv")
    split_of = {str(extracted / f): s for f, s in zip(index.file, index.split, strict=True)}
    assert set(split_of.values()) == {"train", "val", "test"}
    read, load = [], np.load

    def watched(path, *args, **kwargs):
        read.append(split_of.get(str(path), str(path)))
        return load(path, *args, **kwargs)

    monkeypatch.setattr(dataset_module.np, "load", watched)
    cfg = dataclasses.replace(CFG, training=dataclasses.replace(TRAINING, validate_every=1))
    _train(extracted, tmp_path, "v", cfg=cfg)
    assert "val" in read and "train" in read and set(read) == {"train", "val"}, sorted(set(read))
    val = pd.read_csv(tmp_path / "v" / "val.csv")
    assert val.step.tolist() == [0, 1, 2] and np.isfinite(val.psnr).all()


def test_validation_without_validation_patients_names_the_keys(extracted, tmp_path):
    cfg = dataclasses.replace(CFG, training=dataclasses.replace(TRAINING, validate_every=1))
    no_val = tmp_path / "extract"
    shutil.copytree(extracted, no_val)
    shutil.copytree(extracted.parent / "masks", tmp_path / "masks")
    index = pd.read_csv(no_val / "index.csv")
    index.loc[index.split == "val", "split"] = "train"
    index.to_csv(no_val / "index.csv", index=False)
    with pytest.raises(ConfigError, match="no validation patient.*data.val_fraction.*validate_every"):
        _train(no_val, tmp_path, "nv", cfg=cfg)


def test_same_seed_same_weights(extracted, tmp_path):
    torch.manual_seed(1)  # global state before the run must not matter
    a = _train(extracted, tmp_path, "a")
    torch.manual_seed(2)
    b = _train(extracted, tmp_path, "b")
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = _train(extracted, tmp_path, "c", seed=1)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_run_config_round_trips_through_the_workflow_dict():
    assert RunConfig.from_dict(CFG.to_dict()) == CFG
    assert RunConfig.from_dict(ZF.to_dict()) == ZF


def test_identity_covers_configuration_data_and_code(extracted, tmp_path):
    from ddei.data.dataset import CineSliceDataset

    masks = extracted.parent / "masks"

    def data_digest_of(extract_dir, acceleration):
        return data_digest(CineSliceDataset(extract_dir, "train", masks, acceleration))

    data = data_digest_of(extracted, 4)
    base = run_identity(CFG, 4, 0, data, "code")
    assert base.startswith("ddei-x4-seed0-")
    other_cfg = dataclasses.replace(CFG, training=dataclasses.replace(TRAINING, lr=2e-3))
    assert run_identity(other_cfg, 4, 0, data, "code") != base
    assert run_identity(CFG, 4, 0, data, "other code") != base
    assert data_digest_of(extracted, 8) != data  # the masks of another acceleration

    copy = tmp_path / "extract"
    shutil.copytree(extracted, copy)
    assert data_digest_of(copy, 4) == data  # content, not paths
    split = pd.read_csv(copy / "split.csv", dtype=str)
    split["split"] = split["split"].map({"train": "test", "test": "train"})
    split.to_csv(copy / "split.csv", index=False)
    assert run_identity(CFG, 4, 0, data_digest_of(copy, 4), "code") != base  # another patient split


def _evaluate(cfg, extracted, model, out, save_recon=0):
    return run_evaluation(
        Run(cfg, 4, 0, extracted, extracted.parent / "masks"), model, out.with_suffix(".csv"),
        SavedRecon(out.with_suffix(".npz"), save_recon), progress=False,
    )  # fmt: skip


def test_evaluation_reports_the_models_numbers(extracted, tmp_path):
    _train(extracted, tmp_path, "a")
    masks = extracted.parent / "masks"
    df = _evaluate(CFG, extracted, tmp_path / "a" / "model.pt", tmp_path / "r", save_recon=1)
    assert list(df.columns) == ["method", "acceleration", "seed", "patient", "view", "slice", "psnr", "ssim", "nmse",
                                "versions"]  # fmt: skip
    assert df.versions.nunique() == 1 and "deepinv==" in df.versions[0] and "torch==" in df.versions[0]
    test = CineSliceDataset(extracted, "test", masks, 4, img_size=(32, 32))
    assert len(df) == len(test) == 4 and (df.method == "ddei").all()
    assert df[["patient", "view", "slice"]].astype(str).values.tolist() == [
        [str(test.record(i)[k]) for k in ("patient", "view", "slice")] for i in range(len(test))
    ]
    zf = _evaluate(ZF, extracted, None, tmp_path / "z", save_recon=-1)
    psnr = metric_functions()["psnr"]
    saved = np.load(tmp_path / "z.npz")
    for i in range(len(test)):
        s = test[i]
        # zero-filled: the inverse FFT of the masked k-space, computed here with numpy
        k = s["y"][0].numpy() + 1j * s["y"][1].numpy()
        img = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
        x_zf = torch.from_numpy(np.stack([img.real, img.imag]).astype(np.float32))[None]
        assert zf.psnr[i] == pytest.approx(float(psnr(x_zf, s["x"][None])), abs=1e-4)
        key = f"{test.record(i)['patient']}_{test.record(i)['view']}_s{test.record(i)['slice']}"
        assert np.allclose(saved[key], np.abs(img), atol=1e-5)
        assert np.allclose(saved[f"gt/{key}"], np.hypot(*s["x"].numpy()), atol=1e-6)
    assert len(np.load(tmp_path / "r.npz").files) == 2  # save_recon=1: one slice and its ground truth
    assert (df.psnr.values != zf.psnr.values).all()


def test_t_ssdu_star_evaluates_t_ssdus_model_with_test_time_splits(extracted, tmp_path):
    plain = dataclasses.replace(CFG, method="t-ssdu", base="t-ssdu", trained_as="t-ssdu",
                                settings=SPLITTING)  # fmt: skip
    star = dataclasses.replace(
        plain, method="t-ssdu*", base="t-ssdu*", settings=SPLITTING | {"eval_n_samples": 3}
    )
    _train(extracted, tmp_path, "t", cfg=plain)
    model = tmp_path / "t" / "model.pt"
    a = _evaluate(plain, extracted, model, tmp_path / "a")
    b = _evaluate(star, extracted, model, tmp_path / "b")
    assert (a.psnr != b.psnr).all()  # the same weights, averaged over test-time splits


def test_evaluation_refuses_a_model_of_another_configuration(extracted, tmp_path):
    _train(extracted, tmp_path, "a")
    other = dataclasses.replace(CFG, training=dataclasses.replace(TRAINING, epochs=2))
    with pytest.raises(ValueError, match="another configuration"):
        _evaluate(other, extracted, tmp_path / "a" / "model.pt", tmp_path / "m")
