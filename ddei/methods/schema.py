"""The configuration's JSON schema (``workflow/schemas/config.schema.yaml``), its errors in one line.

Snakemake validates the configuration against the schema and fills in the defaults; its own message for an invalid
configuration dumps the schema. The workflow calls :func:`schema_error` first (when it parses the Snakefile), so that
a user reads the key, what is wrong and what is allowed. Only the workflow's planning imports this module (and
jsonschema); no job does.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping


def schema_error(config: Mapping, schema: Mapping) -> str | None:
    """The first way ``config`` breaks the JSON schema ``schema``, in one line: the key's path, what is wrong and,
    for an unknown key or value, the allowed ones (Snakemake's own message dumps the schema). ``None`` if valid.

    :param dict config: the configuration, before Snakemake fills in the defaults.
    :param dict schema: the workflow's schema (``workflow/schemas/config.schema.yaml``).
    """
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import best_match

    properties = Draft202012Validator.VALIDATORS["properties"]

    def with_defaults(validator, props, instance, subschema):  # as Snakemake's validate(set_default=True)
        for name, sub in props.items():
            if "default" in sub and isinstance(instance, dict):
                instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from properties(validator, props, instance, subschema)

    Validator = validators.extend(Draft202012Validator, {"properties": with_defaults})
    error = best_match(Validator(schema).iter_errors(copy.deepcopy(dict(config))))
    if error is None:
        return None
    path = ".".join(str(p) for p in error.absolute_path)
    where = path or "the configuration"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        keys = ", ".join(f"{path}.{k}" if path else k for k in unknown)
        return f"{keys}: unknown key{'s' if len(unknown) > 1 else ''}; allowed under {where}: {', '.join(allowed)}"
    if error.validator == "enum":
        return f"{where}: {error.instance!r} is not allowed; choose one of {error.validator_value}"
    if error.validator == "required":
        return f"{where}: {error.message}"
    return f"{where}: {error.message}"
