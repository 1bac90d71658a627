# Configuration validation, paths and input functions shared by all rules.

import copy
import re
from pathlib import Path

from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml")

SURE_METHODS = ("ddei-sure", "ei-r-sure")
if config["noise_sigma"] <= 0 and any(m in SURE_METHODS for m in config["methods"]):
    raise ValueError(
        f"Methods {[m for m in config['methods'] if m in SURE_METHODS]} need noise_sigma > 0 "
        "(SURE is a risk estimate under Gaussian noise). Set noise_sigma or remove them."
    )
if config["data"]["source"] == "cmrxrecon" and not config["data"].get("root"):
    raise ValueError("data.source is 'cmrxrecon' but data.root is not set: point it at the CMRxRecon folder.")
if config["data"]["source"] == "synthetic" and "synthetic" not in config["data"]:
    raise ValueError("data.source is 'synthetic' but the data.synthetic section is missing.")


def R(path=""):
    """A path under the results folder."""
    return str(Path(config["results"]) / path)


def slug(method):
    """File-name form of a method name (`t-ssdu*` -> `t-ssdu-star`)."""
    return method.replace("*", "-star")


METHOD_OF_SLUG = {slug(m): m for m in config["methods"]}
METHOD_OF_SLUG["zf"] = "zf"
ACCELERATIONS = [int(a) for a in config["masks"]["accelerations"]]
SEEDS = [int(s) for s in config["training"]["seeds"]]


wildcard_constraints:
    method="|".join(re.escape(s) for s in METHOD_OF_SLUG),
    acc=r"\d+",
    seed=r"\d+",
    acc2=r"\d\d",


def _merge(base, override):
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def method_config(method):
    """The resolved configuration of one method's runs (global settings + its method_overrides entry).

    Passed as `params` to its rules, so that changing one method's settings reruns only its jobs."""
    base = {key: config[key] for key in ("model", "training", "transform_mode", "split_ratio", "eval_n_samples")}
    base = _merge(base, config.get("method_overrides", {}).get(method, {}))
    if method == "zf":
        base = {"training": {"device": config["training"]["device"], "threads": config["training"]["threads"]}}
    else:
        if method not in ("ddei", "ddei-sure"):
            base.pop("transform_mode")
        if method not in ("t-ssdu", "t-ssdu*"):
            base.pop("split_ratio")
            base.pop("eval_n_samples")
        base["training"].pop("seeds")
    base |= {key: config[key] for key in ("image_size", "normalisation", "noise_sigma")}
    return base


def data_root():
    if config["data"]["source"] == "synthetic":
        return R("synthetic/CMRxRecon")
    return config["data"]["root"]


def synthetic_input(wildcards):
    return [R("synthetic/CMRxRecon")] if config["data"]["source"] == "synthetic" else []


def mask_dir(wildcards):
    return R(f"masks/TimeVaryingGaussianMask{int(wildcards.acc):02d}")


def model_input(wildcards):
    if wildcards.method == "zf":
        return {}
    return {"model": R(f"models/{wildcards.method}/acc{wildcards.acc}/seed{wildcards.seed}/model.pt")}


def runs():
    """(method slug, acceleration, seed) of every evaluation; zf once per acceleration."""
    out = [(slug(m), a, s) for m in config["methods"] for a in ACCELERATIONS for s in SEEDS]
    return out + [("zf", a, SEEDS[0]) for a in ACCELERATIONS]


def metric_files():
    return [R(f"metrics/{m}/acc{a}/seed{s}.csv") for m, a, s in runs()]


def all_outputs():
    return [R("metrics/all.csv")] + report_outputs()


# Paper outputs (workflow/rules/report.smk)
REPORT_METHODS = list(config["methods"])
REPORT_SEED = SEEDS[0]  # the seed whose reconstructions are shown (zero-filled is evaluated with it too)


def report_outputs():
    tables = [R(f"tables/results.{ext}") for ext in ("csv", "md", "tex", "html")]
    tables += [R(f"tables/wilcoxon.{ext}") for ext in ("csv", "md", "html")]
    figures = [
        R(f"figures/{name}_acc{a}.{ext}")
        for a in ACCELERATIONS
        for name, ext in (("cine", "gif"), ("cine", "html"), ("frame", "png"))
    ]
    figures += [R("figures/metrics_vs_acceleration.png"), R("figures/training_curves.png")]
    figures += [R("figures/training_curves_raw.png")]
    return tables + figures
