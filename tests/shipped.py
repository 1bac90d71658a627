"""The shipped configurations (every YAML file of ``config/`` and ``experiments/``), merged as Snakemake merges them,
and shrunk to a tiny size that keeps their structure: what ``tests/test_config.py`` checks in-process and
``tests/test_configs.py`` runs end to end."""

from __future__ import annotations

import copy
from pathlib import Path

from ddei.methods.configfiles import read_config

REPO = Path(__file__).resolve().parents[1]
#: Overlays that amend another shipped file rather than config/config.yaml alone (experiments/converge.py's CONFIGS).
AMENDS = {
    "config/converge_cpu.yaml": ("config/converge.yaml",),
    "config/undersampled_converge.yaml": ("config/converge.yaml",),
    "config/undersampled_converge_twins.yaml": ("config/converge.yaml", "config/undersampled_converge.yaml"),
    "experiments/baselines/converge_size.yaml": ("experiments/baselines/default.yaml",),
}
#: The order of the end-to-end runs (the files not named here run last, sorted): configurations that share jobs
#: next to each other.
ORDER = ("config/config.yaml", "experiments/default_budget/check.yaml", "experiments/default_budget/threads2.yaml",
         "experiments/default_budget/pilot32.yaml", "experiments/default_budget/pilot40.yaml",
         "experiments/default_budget/pilot48.yaml", "config/converge_cpu.yaml", "config/paper.yaml",
         "config/gpu.yaml", "config/converge.yaml")  # fmt: skip


def shipped() -> list[str]:
    """Every configuration file of ``config/`` and ``experiments/`` (relative paths), in :data:`ORDER`."""
    found = [*REPO.glob("config/*.yaml"), *REPO.glob("experiments/**/*.yaml")]
    files = [p.relative_to(REPO).as_posix() for p in found]
    return sorted(files, key=lambda f: (ORDER.index(f) if f in ORDER else len(ORDER), f))


def chain(name: str) -> tuple[str, ...]:
    """The files a shipped configuration is run with, over ``config/config.yaml``: what it amends, then itself."""
    return (*AMENDS.get(name, ()), name)


def merged(*files: str | Path) -> dict:
    """``config/config.yaml`` with ``files`` (paths relative to the repository) over it, key by key, as Snakemake
    merges ``configfile:`` and ``--configfile``."""

    return read_config(REPO, files)


def shrink(config: dict, results: Path | str) -> dict:
    """A configuration at tiny size on the CPU, with its structure kept: its methods, variants, external models,
    precision, batch size, normalisation, noise and method settings, and its evaluation's reference and precision.

    The data become 4 synthetic patients (2 training, 1 validation, 1 test; the licensed data become the phantom)
    at 32x32, the network 4 channels wide, the training 2 steps of the first seed at 4x, without compilation.
    Every setting it fixes is fixed to the same value whatever the configuration, so that configurations that
    differ only in what it fixes plan the same jobs (``tests/test_configs.py`` shares their results).
    """
    config = copy.deepcopy(config)
    config["results"] = str(results)
    data = config.setdefault("data", {})
    data |= {"source": "synthetic", "root": None, "lax_slices": -1, "sax_slices": 1, "split_seed": 0}
    data |= {"train_fraction": 0.8, "val_fraction": 0.1}  # 2 training, 1 validation, 1 test patient
    data["synthetic"] = {
        "patients": 4,
        "lax_shape": [30, 24],
        "sax_shape": [32, 28],
        "sax_slices": 2,
        "seed": 0,
    }
    config["masks"] = config.get("masks", {}) | {"accelerations": [4], "import_dir": None}
    config["image_size"] = [32, 32]
    config["image_crop"] = False
    config["model"] = config.get("model", {}) | {"chans": 4}
    training = config.setdefault("training", {})
    training |= {
        "epochs": 1,
        "steps_per_epoch": 2,
        "seeds": [0],
        "device": "cpu",
        "threads": 1,
        "compile": False,
    }
    training["validate_every"] = 100 if training.get("validate_every", 100) else False
    config["evaluation"] = config.get("evaluation", {}) | {"save_recon": 2}
    return config
