"""The workflow's configuration, checked, and the typed configuration of one run.

``workflow/schemas/config.schema.yaml`` is the only place that holds defaults: Snakemake validates the config
against it and fills in every missing optional key. What the schema cannot express (method names, which come from
:data:`ddei.methods.registry.METHODS`; checks across keys) is checked by :func:`check_config`.

:func:`method_config` extracts the settings that one method's jobs depend on, as a JSON-able dict: the workflow
passes it to the method's rules as ``params``, so that changing a setting reruns exactly the jobs that read it.
:meth:`RunConfig.from_dict` turns that dict into the typed :class:`RunConfig` that :mod:`ddei.runs.preparation` takes.

This module imports neither torch nor deepinv.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from ddei.methods.registry import METHODS, Method, catalogue


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names the key."""


@dataclass(frozen=True)
class ModelConfig:
    """The reconstruction network.

    :param str name: ``crnn`` or ``unet`` (see :func:`ddei.mri.models.build_model`).
    :param int cascades: CRNN cascades (the paper: 2).
    :param int chans: hidden channels (the paper: 64).
    """

    name: str
    cascades: int
    chans: int


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation settings of one run.

    :param int epochs: passes over the training set (the paper: 50).
    :param int steps_per_epoch: if > 0, cap the steps of each epoch.
    :param float lr: Adam learning rate (the paper: 1e-3).
    :param int batch_size: samples per step (the paper: 1).
    :param str precision: ``fp32`` or ``bf16`` (autocast of the network's convolutions; FFTs, data consistency,
        transforms, losses and metrics stay in fp32).
    :param bool compile: compile the network with :func:`torch.compile`.
    :param int validate_every: measure the validation patients every this many steps (``False``: never).
    :param bool channels_last: NHWC memory format for the network's 2D convolutions.
    :param str select: the weights a run keeps: ``last`` (after the last step, the paper's) or ``holdout`` (those of
        the validation step with the lowest held-out-line error, :mod:`ddei.runs.validation`; no ground truth of
        the validation patients is read).
    """

    epochs: int
    steps_per_epoch: int
    lr: float
    batch_size: int
    precision: str
    compile: bool
    validate_every: int | bool
    channels_last: bool
    select: str


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one method's runs, besides the data, the seed and the acceleration.

    :param str method: the method's name (a registered method, a variant or an external model).
    :param str base: the registered method whose losses it uses (``method`` itself except for variants).
    :param tuple image_size: padded ``(H, W)``.
    :param str normalisation: see :class:`ddei.data.dataset.CineSliceDataset`.
    :param float noise_sigma: measurement noise level.
    :param str device: ``auto``, ``cpu`` or ``cuda[:N]``.
    :param int threads: CPU threads (torch intra-op).
    :param ModelConfig model: the network (``None`` for the zero-filled baseline and external models).
    :param TrainingConfig training: optimisation settings (``None`` if not trained).
    :param dict settings: the method's own settings (the keys of :attr:`ddei.methods.registry.Method.settings`).
    :param str external: file of an external model's weights (``evaluation.external``), else ``None``.
    :param str trained_as: the training run whose model it evaluates (``t-ssdu*``: ``t-ssdu``'s; see
        :attr:`ddei.methods.registry.Method.trained_as`); ``method`` itself for most methods, ``None`` if not trained.
    :param str measurements: ``simulated`` (FullSample, the pipeline's masks) or ``acquired`` (the release's
        undersampled scans, k-space padded to ``image_size``: :mod:`ddei.data.acquired`).
    """

    method: str
    base: str
    image_size: tuple[int, int]
    normalisation: str
    noise_sigma: float
    device: str
    threads: int
    model: ModelConfig | None = None
    training: TrainingConfig | None = None
    settings: Mapping = field(default_factory=dict)
    external: str | None = None
    trained_as: str | None = None
    measurements: str = "simulated"

    def weights_config(self) -> dict:
        """What determines the trained weights: the training run's method and every setting the training reads
        (what a ``model.pt`` must have been trained with to be evaluated under this configuration).

        It needs no registration of the config's variants: a method trained under its own name (every variant)
        reads its base's settings, and one that evaluates another's model (``t-ssdu*``) names a registered method.
        """
        trained = self.base if self.trained_as in (None, self.method) else self.trained_as
        out = self.to_dict()
        out["settings"] = {k: v for k, v in self.settings.items() if k in METHODS[trained].settings}
        for key in ("method", "base", "external"):
            out.pop(key)
        return out

    def training_cost(self) -> int:
        """A training run's cost relative to the workflow's other runs, for ordering jobs only (the workflow starts
        the longest first, so that the cores finish together): network passes per step times steps per epoch
        (the cap, else one) times epochs times cascades. 0 for a method that is not trained.
        """
        if self.training is None or self.trained_as != self.method:
            return 0
        tr, model = self.training, self.model
        return (
            METHODS[self.base].passes_per_step
            * max(tr.steps_per_epoch, 1)
            * tr.epochs
            * (model.cascades if model.name == "crnn" else 1)
        )

    @classmethod
    def from_dict(cls, d: Mapping) -> RunConfig:
        """Build from :func:`method_config`'s dict (what the rules receive as ``params.cfg``)."""
        d = dict(d)
        d["image_size"] = tuple(d["image_size"])
        if d.get("model") is not None:
            d["model"] = ModelConfig(**d["model"])
        if d.get("training") is not None:
            d["training"] = TrainingConfig(**d["training"])
        return cls(**d)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["image_size"] = list(self.image_size)
        out["settings"] = dict(self.settings)
        return out


def merge_config(base: Mapping, override: Mapping | None) -> dict:
    """``override`` over ``base``, key by key, as Snakemake merges ``configfile:`` and ``--configfile``: a mapping
    is merged into the mapping it replaces, any other value (a list included) replaces it. Neither input changes.

    :param base: the config amended.
    :param override: the amendment (``None``, as an empty YAML file loads, amends nothing).
    """
    out = copy.deepcopy(dict(base))
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_config(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def methods_of(config: Mapping) -> dict[str, Method]:
    """The registry extended by the config's variants and external models (see :func:`ddei.methods.registry.catalogue`)."""
    try:
        return catalogue(config["variants"], config["evaluation"]["external"])
    except ValueError as e:
        raise ConfigError(f"variants / evaluation.external: {e}") from None


def method_config(config: Mapping, name: str) -> dict:
    """The resolved settings of one method's runs, as a JSON-able dict (see :class:`RunConfig`).

    Global settings, then the method's ``method_overrides`` entry, then (for a variant) its own settings. Only the
    settings the method reads are included, so that the dict changes exactly when its results may change.

    :param dict config: the validated workflow configuration (defaults filled in by the schema).
    :param str name: a method, variant or external model name, or ``zf``.
    """
    method = methods_of(config)[name]
    tr = config["training"]
    out = {
        "method": name,
        "base": method.base,
        "image_size": list(config["image_size"]),
        "normalisation": config["normalisation"],
        "noise_sigma": float(config["noise_sigma"]),
        "device": tr["device"],
        "threads": int(tr["threads"]),
        "model": None,
        "training": None,
        "settings": {},
        "external": None,
        "trained_as": None,
        "measurements": config["data"]["measurements"],
    }
    if method.kind == "external":
        out["external"] = str(config["evaluation"]["external"][name])
    if not method.trained:
        return out
    out["trained_as"] = method.trained_as
    resolved = {"model": config["model"], "training": config["training"]}
    resolved |= {key: config[key] for key in method.settings}
    for source in (config["method_overrides"].get(method.base, {}), method.overrides):
        resolved = merge_config(resolved, source)
    if method.trained_as != name:  # evaluates another method's trained model: the training is that method's
        trained = method_config(config, method.trained_as)
        resolved |= {"model": trained["model"], "training": trained["training"]} | trained["settings"]
    training = {key: resolved["training"][key] for key in TrainingConfig.__dataclass_fields__}
    out["model"] = dict(resolved["model"])
    out["training"] = training
    out["settings"] = {key: resolved[key] for key in method.settings}
    return out


def check_config(config: Mapping) -> None:
    """Checks the schema cannot express; each error names the key.

    :param dict config: the validated workflow configuration.
    :raises ConfigError: on the first problem found.
    """
    methods = methods_of(config)
    trained = [n for n, m in methods.items() if m.trained and m.kind != "external"]
    unknown = [m for m in config["methods"] if m not in methods or not methods[m].trained]
    if unknown:
        raise ConfigError(
            f"methods: {unknown} are not trained methods; choose from {trained} "
            "(or define them under `variants`; zf is always evaluated)"
        )
    for key, override in config["method_overrides"].items():
        if key not in METHODS or not METHODS[key].trained:
            raise ConfigError(f"method_overrides: {key!r} is not a registered trained method")
        shared = METHODS[key].trained_as
        changed = set(override) - (set(METHODS[key].settings) - set(METHODS[shared].settings))
        if shared != key and changed:
            raise ConfigError(
                f"method_overrides: {key!r} evaluates {shared!r}'s trained model, so its {sorted(changed)} are "
                f"{shared!r}'s: override them under method_overrides.{shared}"
            )
    noisy = [m for m in config["methods"] if methods[m].needs_noise]
    if noisy and config["noise_sigma"] <= 0:
        raise ConfigError(
            f"noise_sigma: methods {noisy} need noise_sigma > 0 (SURE is a risk estimate under Gaussian noise)"
        )
    reference = config["evaluation"]["reference"]
    if reference not in config["methods"] and reference not in config["evaluation"]["external"]:
        raise ConfigError(
            f"evaluation.reference: {reference!r} is not among the evaluated methods {config['methods']}; "
            "set it to the method the paired tests compare every other method with"
        )
    data = config["data"]
    if data["source"] == "cmrxrecon" and not data["root"]:
        raise ConfigError("data.root: data.source is 'cmrxrecon', point data.root at the CMRxRecon folder")
    if data["source"] == "synthetic" and "synthetic" not in data:
        raise ConfigError(
            "data.synthetic: data.source is 'synthetic' but the data.synthetic section is missing"
        )
    _check_selection(config)
    _check_validation_split(config)
    _check_data_shapes(config)
    _check_acquired(config, methods)
    _check_reconstruct(config, methods)


def _check_reconstruct(config: Mapping, methods: Mapping[str, Method]) -> None:
    """The ``reconstruct`` section: a model this configuration has, scans that exist or will."""
    rec = config["reconstruct"]
    if rec["input"] is None:
        return
    if rec["input"] == "synthetic" and config["data"]["measurements"] != "acquired":
        raise ConfigError(
            "reconstruct.input: 'synthetic' needs data.measurements: acquired (only then does the synthetic data "
            "have the release's undersampled folders); or point it at a CMRxRecon folder"
        )
    method = rec["method"] or config["evaluation"]["reference"]
    external = config["evaluation"]["external"]
    if method not in config["methods"] and method not in external:
        raise ConfigError(
            f"reconstruct.method: {method!r} is neither a trained method of this configuration {config['methods']} "
            f"nor an external model {list(external)}"
        )
    if method in config["methods"]:
        missing = sorted(
            set(rec["accelerations"] or config["masks"]["accelerations"])
            - set(config["masks"]["accelerations"])
        )
        if missing:
            raise ConfigError(
                f"reconstruct.accelerations: {missing} have no trained model (masks.accelerations: "
                f"{config['masks']['accelerations']}); reconstruct them with an external model, or train at them"
            )
        seed = rec["seed"]
        if seed is not None and seed not in config["training"]["seeds"]:
            raise ConfigError(
                f"reconstruct.seed: {seed} is not among training.seeds {config['training']['seeds']}"
            )


def _check_acquired(config: Mapping, methods: Mapping[str, Method]) -> None:
    """Learning from acquired undersampled scans: no method that needs ground truth, normalisation by the
    measurement, no simulated masks or noise."""
    data = config["data"]
    if data["measurements"] != "acquired":
        if data["set"] != "TrainingSet":
            raise ConfigError(
                "data.set: the ValidationSet has undersampled scans only; set data.measurements: acquired"
            )
        return
    supervised = [m for m in config["methods"] if methods[m].needs_ground_truth]
    if supervised:
        raise ConfigError(
            f"methods: {supervised} need fully sampled ground truth to train, which data.measurements: acquired does "
            "not use (the FullSample twins serve validation and evaluation only); remove them"
        )
    if config["normalisation"] != "measurement":
        raise ConfigError(
            f"normalisation: {config['normalisation']!r} uses the fully sampled image; with data.measurements: acquired "
            "set normalisation: measurement (the zero-filled image's statistics, as the extraction applies them)"
        )
    if config["masks"]["import_dir"] is not None:
        raise ConfigError("masks.import_dir: acquired scans come with their own masks; set it to null")
    if config["noise_sigma"] > 0:
        raise ConfigError("noise_sigma: acquired scans carry their own noise; set noise_sigma: 0")
    if data["set"] == "ValidationSet" and config["reconstruct"]["input"] is None:
        raise ConfigError(
            "reconstruct.input: the ValidationSet has no ground truth, so nothing is evaluated; set reconstruct.input "
            "(the data's folder, or 'synthetic') to reconstruct its scans"
        )


def _check_selection(config: Mapping) -> None:
    """``training.select: holdout`` chooses among the validation steps: validation must be on, for every method."""
    for name in config["methods"]:
        training = method_config(config, name)["training"]
        if training["select"] == "holdout" and not training["validate_every"]:
            where = "training" if config["training"]["select"] == "holdout" else f"the settings of {name!r}"
            raise ConfigError(
                f"training.select: holdout ({where}) keeps the validation step with the lowest held-out-line "
                "error, but training.validate_every is off; set training.validate_every to a number of steps"
            )


def _check_validation_split(config: Mapping) -> None:
    """Validation on, but a split of the synthetic data without a validation patient (real data: the train job
    checks, once the patients are known)."""
    data, every = config["data"], config["training"]["validate_every"]
    if not every or data["source"] != "synthetic":
        return
    from ddei.data.extract import split_sizes

    n = data["synthetic"]["patients"]
    n_train, n_val, _ = split_sizes(n, data["train_fraction"], data["val_fraction"])
    if n_val == 0:
        raise ConfigError(
            f"training.validate_every is {every} but data.val_fraction {data['val_fraction']} of "
            f"data.synthetic.patients {n} (train_fraction {data['train_fraction']}) leaves no validation "
            "patient: raise data.val_fraction or the number of patients, or set training.validate_every: false"
        )


def _check_data_shapes(config: Mapping) -> None:
    """Settings that the data's shapes make impossible: no slice selected; for the synthetic data (whose shapes
    the config gives), an ``image_size`` smaller than the data without ``image_crop`` and an acceleration whose lines
    per frame cannot hold the centre block. For the real data the extract and masks jobs check the same, once the
    shapes are known, before writing anything."""
    data = config["data"]
    if data["lax_slices"] == 0 and data["sax_slices"] == 0:
        raise ConfigError("data.lax_slices and data.sax_slices: both are 0, so no slice is selected")
    if data["source"] != "synthetic":
        return
    from ddei.mri.sampling import AccelerationError, check_acceleration

    views = [v for v in ("lax", "sax") if data[f"{v}_slices"] != 0]
    shapes = {f"data.synthetic.{v}_shape": tuple(data["synthetic"][f"{v}_shape"]) for v in views}
    size = tuple(config["image_size"])
    if not config.get("image_crop", False):
        for key, shape in shapes.items():
            if shape[0] > size[0] or shape[1] > size[1]:
                raise ConfigError(
                    f"image_size: {list(size)} is smaller than {key} {list(shape)} (kx, ky): the images would be "
                    f"cropped. Set image_size to at least {[max(a, b) for a, b in zip(size, shape)]}, or set "
                    "image_crop: true to crop them"
                )
    if config["masks"]["import_dir"] is None:  # imported masks are checked against the data by the masks job
        for acceleration in config["masks"]["accelerations"]:
            for key, shape in shapes.items():
                try:
                    check_acceleration(shape[1], int(acceleration), key)
                except AccelerationError as e:
                    raise ConfigError(str(e)) from None
