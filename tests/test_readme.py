"""The README and the shipped configs agree: every number the README quotes of a config is read from it here."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def config(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text())


def test_default_config_as_the_readme_quotes_it():
    c = config("config.yaml")
    h, w = c["image_size"]
    assert f"synthetic data, {h}×{w} images, {c['model']['chans']} CRNN channels, on the CPU" in README
    accs = " and ".join(f"{a}×" for a in c["masks"]["accelerations"])
    seeds = len(c["training"]["seeds"])
    quoted = (
        f"{c['data']['synthetic']['patients']} synthetic patients, {h}×{w} images, {c['model']['chans']} CRNN "
        f"channels, {c['training']['epochs']} epochs, **{seeds} seed{'s' if seeds > 1 else ''}**, {accs}"
    )
    assert quoted in " ".join(README.split()), quoted


def test_gpu_sharing_as_the_readme_quotes_it():
    share = config("gpu.yaml")["resources"]["train"]["gpu_share"]
    assert f"`config/gpu.yaml` sets {share}, so that {100 // share} small jobs share the GPU" in " ".join(
        README.split()
    )


def test_paper_backbone_size_as_the_readme_quotes_it():
    from ddei.mri.models import build_model

    chans = config("paper.yaml")["model"]["chans"]
    n = sum(p.numel() for p in build_model("crnn", chans=chans).parameters())
    assert f"at the paper's {chans} channels (`config/paper.yaml`) it has {n:,} parameters" in " ".join(
        README.split()
    )


def test_default_split_as_the_readme_quotes_it():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    fraction = schema["properties"]["data"]["properties"]["train_fraction"]["default"]
    assert f"{round(100 * fraction)} % as in the paper by default" in " ".join(README.split())
