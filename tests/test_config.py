"""The configuration: defaults in the schema only, typed per-method settings, variants, and the method registry as
the one definition of every method."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from shipped import chain, merged, shipped
from snakemake.utils import update_config, validate

from ddei.methods import registry
from ddei.methods.config import ConfigError, RunConfig, check_config, merge_config, method_config
from ddei.methods.configfiles import read_config
from ddei.methods.registry import METHODS, SETTINGS, catalogue, lookup, register
from ddei.report import style

REPO = Path(__file__).resolve().parents[1]
SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")


def load(name: str = "config.yaml", **changes) -> dict:
    config = yaml.safe_load((REPO / "config" / name).read_text()) | changes
    validate(config, SCHEMA)  # fills in the defaults, as the workflow does
    return config


@pytest.mark.parametrize("name", shipped())
def test_shipped_configs_are_valid(name, monkeypatch):
    """Every file of config/ and experiments/ (merged as the workflow merges it) validates, and every method's
    resolved settings round-trip and give the weights configuration that an evaluation checks a model against,
    without registering the config's variants (the evaluate job of a variant did not, and failed)."""
    monkeypatch.setattr(registry, "_REGISTERED", {})  # as in a job's fresh process
    config = merged(*chain(name))
    validate(config, SCHEMA)
    check_config(config)
    for method in config["methods"] + ["zf"]:
        cfg = method_config(config, method)
        run = RunConfig.from_dict(cfg)
        assert run.to_dict() == cfg
        if run.trained_as is not None:
            trained = RunConfig.from_dict(method_config(config, run.trained_as))
            assert trained.weights_config() == run.weights_config()


def test_overrides_change_only_what_they_name():
    """An override (method_overrides or a variant) must not be completed with the schema's defaults."""
    config = load(
        training={"epochs": 3, "seeds": [0], "batch_size": 4, "lr": 0.01, "threads": 2},
        model={"name": "crnn", "cascades": 3, "chans": 8},
        method_overrides={"ddei": {"training": {"epochs": 5}}},
        variants={
            "ddei-fast": {"method": "ddei", "training": {"precision": "bf16"}, "transform_mode": "upstream"}
        },
        methods=["ddei", "ddei-fast", "sup"],
    )
    check_config(config)
    ddei, fast, sup = (method_config(config, m) for m in ("ddei", "ddei-fast", "sup"))
    assert ddei["training"] | {"epochs": 3} == sup["training"] and ddei["training"]["epochs"] == 5
    assert ddei["training"]["batch_size"] == 4 and ddei["training"]["lr"] == 0.01
    assert fast["training"] == ddei["training"] | {
        "precision": "bf16"
    }  # a variant inherits its base's overrides
    assert fast["settings"] == {"transform_mode": "upstream"} and ddei["settings"] == {
        "transform_mode": "fixed"
    }
    assert fast["model"] == ddei["model"] == {"name": "crnn", "cascades": 3, "chans": 8}
    assert fast["base"] == "ddei" and fast["method"] == "ddei-fast"
    assert ddei["threads"] == 2


def test_validation_can_be_off_and_every_config_with_4_patients_has_a_validation_patient():
    from ddei.data.extract import split_sizes

    off = load(training={"epochs": 1, "seeds": [0], "validate_every": False})
    check_config(off)
    assert method_config(off, "ddei")["training"]["validate_every"] is False
    assert load()["training"]["validate_every"] >= 1  # on by default
    for n in range(4, 60):
        for train in (0.5, 0.6, 0.8, 0.9):
            assert split_sizes(n, train, 0.1)[1] >= 1, (n, train)


def test_method_config_holds_only_what_the_method_reads():
    config = load()
    assert method_config(config, "sup")["settings"] == {}
    splitting = {k: config[k] for k in ("split_ratio", "split_mask", "split_centre", "split_dc")}
    assert splitting["split_ratio"] == 0.6
    assert method_config(config, "t-ssdu")["settings"] == splitting
    assert method_config(config, "t-ssdu*")["settings"] == splitting | {"eval_n_samples": 5}
    assert method_config(config, "phase2phase")["settings"] == {"split_dc": config["split_dc"]}
    zf = method_config(config, "zf")
    assert zf["model"] is None and zf["training"] is None
    changed = copy.deepcopy(config) | {"split_ratio": 0.5}
    assert method_config(changed, "ddei") == method_config(
        config, "ddei"
    )  # ddei reruns for nothing it ignores
    assert method_config(changed, "t-ssdu") != method_config(config, "t-ssdu")


def test_t_ssdu_star_evaluates_t_ssdus_trained_model():
    """T-SSDU* is T-SSDU's model with test-time splits: trained once, under T-SSDU's settings."""
    config = load(method_overrides={"t-ssdu": {"training": {"epochs": 3}, "split_ratio": 0.5}})
    star, plain = method_config(config, "t-ssdu*"), method_config(config, "t-ssdu")
    assert star["trained_as"] == plain["trained_as"] == "t-ssdu"
    assert star["training"]["epochs"] == 3
    assert (
        star["settings"] == plain["settings"] | {"eval_n_samples": 5}
        and plain["settings"]["split_ratio"] == 0.5
    )
    assert RunConfig.from_dict(star).weights_config() == RunConfig.from_dict(plain).weights_config()
    ddei = RunConfig.from_dict(method_config(config, "ddei"))
    assert ddei.weights_config() != RunConfig.from_dict(plain).weights_config()
    check_config(load(method_overrides={"t-ssdu*": {"eval_n_samples": 3}}))  # a test-time setting: its own
    with pytest.raises(ConfigError, match="override them under method_overrides.t-ssdu"):
        check_config(load(method_overrides={"t-ssdu*": {"training": {"epochs": 3}}}))


def test_external_models():
    config = load(evaluation={"external": {"released": "weights.pt"}, "reference": "released"})
    check_config(config)
    register(externals=["released"])
    cfg = method_config(config, "released")
    assert (
        cfg["external"] == "weights.pt" and cfg["training"] is None and lookup("released").kind == "external"
    )


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"methods": ["ddei", "noise2noise"]}, "methods: ['noise2noise'] are not trained methods"),
        ({"methods": ["zf"]}, "methods: ['zf']"),
        ({"methods": ["sup"]}, "evaluation.reference"),
        ({"methods": ["ddei-sure", "ddei"]}, "noise_sigma"),
        ({"variants": {"ddei": {"method": "ddei"}}}, "cannot be reused"),
        ({"variants": {"x": {"method": "nope"}}}, "'nope' is not a trained method"),
        ({"method_overrides": {"zf": {}}}, "method_overrides: 'zf'"),
        (
            {
                "data": {
                    "source": "synthetic",
                    "val_fraction": 0.0,
                    "synthetic": {
                        "patients": 12,
                        "lax_shape": [46, 34],
                        "sax_shape": [48, 40],
                        "sax_slices": 1,
                    },
                }
            },
            "training.validate_every is .* leaves no validation patient",
        ),  # fmt: skip
    ],
)
def test_bad_values_are_named(changes, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_config(load(**changes))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"image_size": [32]}, "image_size"),
        ({"trainig": {}}, "trainig"),
        ({"training": {"epochs": 1, "seeds": [0], "precision": "fp16"}}, "fp16"),
        ({"training": {"epochs": 1, "seeds": [0], "validate_every": 0}}, "validate_every"),
        ({"training": {"epochs": 1, "seeds": [0], "validate_every": True}}, "validate_every"),
        ({"training": {"epochs": 1, "seeds": [0], "validate_every": 2.5}}, "validate_every"),
        ({"data": {"source": "cmrxrecon"}}, None),  # valid for the schema: data.root is checked below
    ],
)
def test_schema_errors_name_the_key(change, message):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text()) | change
    if message is None:
        validate(config, SCHEMA)
        with pytest.raises(ConfigError, match="data.root"):
            check_config(config)
        return
    with pytest.raises(Exception, match=message):
        validate(config, SCHEMA)


@pytest.mark.parametrize("key", ["training.seeds", "training.epochs", "methods", "results", "masks.accelerations",
                                 "data.source", "image_size"])  # fmt: skip
def test_missing_required_key_is_named(key):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    *parents, last = key.split(".")
    node = config
    for p in parents:
        node = node[p]
    del node[last]
    with pytest.raises(Exception, match=f"'{last}' is a required property"):
        validate(config, SCHEMA)


def test_schema_holds_no_method_names_and_every_setting():
    """The registry is the one list of methods; the schema documents each setting a method may read."""
    schema = yaml.safe_load(Path(SCHEMA).read_text())
    text = Path(SCHEMA).read_text()
    assert not any(f"enum: [{m}" in text or f", {m}]" in text for m in METHODS if m not in ("zf",))
    assert set(SETTINGS) <= set(schema["properties"]) and set(SETTINGS) <= set(schema["definitions"])
    for m in METHODS.values():
        assert set(m.settings) <= set(SETTINGS)


def test_registry_order_kinds_and_variants():
    assert style.order(["sup", "ddei", "zf", "t-ssdu"]) == ["zf", "t-ssdu", "ddei", "sup"]
    assert [m.name for m in METHODS.values() if m.unsupervised] == [
        "phase2phase", "t-ssdu", "t-ssdu*", "ei-r", "ei-r-sure", "ddei", "ddei-sure",
    ]  # fmt: skip
    methods = catalogue({"ddei-up": {"method": "ddei", "transform_mode": "upstream"}}, ["released"])
    assert methods["ddei-up"].base == "ddei" and methods["ddei-up"].kind == "unsupervised"
    style.register({"ddei-up": {"method": "ddei", "transform_mode": "upstream"}}, ["released"])
    assert style.label("ddei-up") == "DDEI (ours) (ddei-up)"
    assert style.colour("ddei-up") != style.colour("ddei")  # told apart in the figures
    assert set(style.STYLES) == set(METHODS)  # every registered method has a style, and no other name
    assert len({s.colour for s in style.STYLES.values()}) == len(METHODS)


def test_unknown_method_names_are_errors_that_name_them():
    with pytest.raises(KeyError, match="unknown method 'noise2noise'"):
        lookup("noise2noise")
    with pytest.raises(KeyError, match="no style for method 'noise2noise'"):
        style.label("noise2noise")


def test_every_enum_of_the_schema_is_its_code_definition():
    """One definition each: the schema's enums are the code's names (the code is what runs them)."""
    from ddei.data.dataset import NORMALISATIONS
    from ddei.mri.models import available_models
    from ddei.mri.precision import PRECISIONS
    from ddei.mri.transforms import TRANSFORM_MODES

    schema = yaml.safe_load(Path(SCHEMA).read_text())
    defs, props = schema["definitions"], schema["properties"]
    assert defs["model"]["properties"]["name"]["enum"] == available_models()
    assert props["normalisation"]["enum"] == list(NORMALISATIONS)
    assert defs["transform_mode"]["enum"] == list(TRANSFORM_MODES)
    assert defs["training"]["properties"]["precision"]["enum"] == list(PRECISIONS)
    assert props["evaluation"]["properties"]["precision"]["enum"] == list(PRECISIONS)


def test_the_fewest_frames_are_the_ssims():
    """The SSIM's reflection padding needs MIN_EXTENT frames: it runs at that many and fails at one fewer (a config
    of 4 frames passed the schema and crashed in its train jobs' validation). The schema's minimum is that number."""
    import torch

    from ddei.mri.metrics import MIN_EXTENT, metric_functions

    ssim = metric_functions(("ssim",))["ssim"]
    x = torch.rand(1, 2, MIN_EXTENT, 8, 8, generator=torch.Generator().manual_seed(0)) + 0.5
    assert float(ssim(x, x)) == pytest.approx(1.0)
    with pytest.raises(RuntimeError, match="[Pp]adding"):
        ssim(x[:, :, 1:], x[:, :, 1:])
    schema = yaml.safe_load(Path(SCHEMA).read_text())
    assert schema["properties"]["masks"]["properties"]["frames"]["minimum"] == MIN_EXTENT
    assert schema["definitions"]["shape"]["items"]["minimum"] >= MIN_EXTENT  # image sizes and phantom shapes


@pytest.mark.parametrize(
    "change, line",
    [
        ({"training": {"epochs": 3, "seeds": [0], "lrr": 0.1}},
         "training.lrr: unknown key; allowed under training: batch_size, channels_last, compile"),
        ({"training": {"epochs": 3, "seeds": [0], "precision": "fp16"}},
         "training.precision: 'fp16' is not allowed; choose one of ['fp32', 'bf16']"),
        ({"training": {"epochs": 0, "seeds": [0]}}, "training.epochs: 0 is less than the minimum of 1"),
        ({"trainig": {}}, "trainig: unknown key; allowed under the configuration: allow_shared_results, data"),
        ({"training": {"epochs": 3}}, "training: 'seeds' is a required property"),
        ({"masks": {"accelerations": [4], "frames": 4}}, "masks.frames: 4 is less than the minimum of 6"),
    ],
)  # fmt: skip
def test_schema_errors_are_one_line_with_the_key_and_what_is_allowed(change, line):
    from ddei.methods.schema import schema_error

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config = {**config, **change}
    message = schema_error(config, yaml.safe_load(Path(SCHEMA).read_text()))
    assert message.startswith(line) and "\n" not in message
    assert schema_error(yaml.safe_load((REPO / "config" / "config.yaml").read_text()),
                        yaml.safe_load(Path(SCHEMA).read_text())) is None  # fmt: skip


def test_the_shipped_variant_needs_no_entry_and_an_entry_replaces_it():
    """``ddei-upstream`` is defined once, in the registry: a config lists it without a ``variants`` entry (the
    paper's, the GPU's and the convergence configs do), with its label; a config's entry of that name wins."""
    from ddei.methods.registry import SHIPPED_VARIANTS

    shipped = catalogue()["ddei-upstream"]
    assert shipped.base == "ddei" and shipped.overrides == {"transform_mode": "upstream"}
    assert set(SHIPPED_VARIANTS) == {"ddei-upstream", "t-ssdu-upstream", "phase2phase-upstream"}
    reference_split = {"split_mask": "gaussian", "split_centre": "reference", "split_dc": "learned"}
    assert catalogue()["t-ssdu-upstream"].overrides == reference_split
    assert catalogue()["phase2phase-upstream"].overrides == {"split_dc": "learned"}
    style.register()
    assert style.label("ddei-upstream") == "DDEI, the reference code's transform"
    mine = catalogue({"ddei-upstream": {"method": "ddei", "transform_mode": "fixed"}})["ddei-upstream"]
    assert mine.overrides == {"transform_mode": "fixed"}
    for name in ("paper", "gpu", "converge"):
        config = yaml.safe_load((REPO / "config" / f"{name}.yaml").read_text())
        assert "ddei-upstream" in config["methods"] and "ddei-upstream" not in config.get("variants", {})


def test_training_cost_orders_the_runs_longest_first():
    """The train jobs' scheduling priority: the equivariant losses run the network twice a step, so their runs
    start first; more epochs cost more; what is not trained (zf, t-ssdu*'s reuse of T-SSDU) costs nothing."""
    config = load(
        methods=["sup", "ddei", "ei-r", "t-ssdu", "t-ssdu*", "phase2phase", "ddei-upstream"],
        method_overrides={"phase2phase": {"training": {"epochs": 90}}},
    )
    cost = {
        m: RunConfig.from_dict(method_config(config, m)).training_cost() for m in [*config["methods"], "zf"]
    }
    assert cost["ddei"] == cost["ei-r"] == cost["ddei-upstream"] == 2 * cost["sup"] > 0
    assert cost["sup"] == cost["t-ssdu"] > 0
    assert cost["phase2phase"] == 3 * cost["sup"]  # 90 epochs instead of 30
    assert cost["t-ssdu*"] == cost["zf"] == 0


def test_merge_config_on_a_hand_made_case():
    """Mappings merge key by key, anything else (a list, a scalar, a mapping over a scalar) replaces, an empty file
    (None) amends nothing, and neither input changes."""
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 2, "c": {"z": 3}}
    override = {"a": {"y": [3]}, "b": {"new": 1}, "d": 4}
    before = copy.deepcopy((base, override))
    assert merge_config(base, override) == {"a": {"x": 1, "y": [3]}, "b": {"new": 1}, "c": {"z": 3}, "d": 4}
    assert (base, override) == before
    assert merge_config(base, None) == base


@pytest.mark.parametrize("name", shipped())
def test_read_config_merges_as_snakemake_does(name):
    """Every shipped chain of config files, merged as Snakemake merges ``--configfile`` (its own update_config)."""
    expected = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for file in chain(name):
        update_config(expected, yaml.safe_load((REPO / file).read_text()) or {})
    assert read_config(REPO, chain(name)) == expected
