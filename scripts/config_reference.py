"""The configuration reference (docs/configuration.md) from the config schema (workflow/schemas/config.schema.yaml):
one row per key, with its type, default and description, between the page's two markers; the rest of the page is
written by hand.

    python scripts/config_reference.py           # rewrite the reference part of docs/configuration.md
    python scripts/config_reference.py --check   # exit 1 if it is out of date or a key has no description
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
PAGE = REPO / "docs" / "configuration.md"
BEGIN = (
    "<!-- reference: generated from workflow/schemas/config.schema.yaml by scripts/config_reference.py -->"
)
END = "<!-- end of the generated reference -->"


def resolve(node: dict, schema: dict) -> dict:
    """``node`` with its ``$ref`` (``#/definitions/...``) merged in: the node's own entries win, and the properties
    of both are merged key by key.

    :param dict node: a schema node.
    :param dict schema: the whole schema, for its ``definitions``.
    """
    if "$ref" not in node:
        return node
    target = resolve(schema["definitions"][node["$ref"].split("/")[-1]], schema)
    merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    if "properties" in target or "properties" in node:
        names = [
            *target.get("properties", {}),
            *(k for k in node.get("properties", {}) if k not in target.get("properties", {})),
        ]
        merged["properties"] = {
            k: {**target.get("properties", {}).get(k, {}), **node.get("properties", {}).get(k, {})}
            for k in names
        }
    return merged


def keys(schema: dict) -> dict[str, dict]:
    """Every key of the configuration, ``{"dotted.path": its resolved schema node}``, in the schema's order: the
    ``properties`` at any depth (the entries of free-form maps, such as ``variants``, are described by the map).
    A required key's node has ``"required": True``."""
    out = {}

    def walk(node: dict, prefix: str) -> None:
        node = resolve(node, schema)
        required = set(node.get("required", []))
        for name, child in node.get("properties", {}).items():
            child = resolve(child, schema)
            out[prefix + name] = {**child, "required": name in required}
            walk(child, prefix + name + ".")

    walk(schema, "")
    return out


def undescribed(schema: dict) -> list[str]:
    """The keys that have no description."""
    return [k for k, node in keys(schema).items() if not str(node.get("description", "")).strip()]


def _type(node: dict) -> str:
    if "enum" in node:
        return " | ".join(f"`{v}`" for v in node["enum"])
    if "oneOf" in node:
        return " or ".join(_type(n) if "type" in n else f"`{json.dumps(n['const'])}`" for n in node["oneOf"])
    kind = node.get("type", "")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if kind == "array" and node.get("minItems") == node.get("maxItems") == 2:
        return "array of 2 integers"
    return kind


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def reference(schema: dict) -> str:
    """The generated part of the page: a table of every key."""
    lines = ["| key | type | default | description |", "|:--|:--|:--|:--|"]
    for key, node in keys(schema).items():
        default = "required" if node["required"] else ""
        if "default" in node:
            default = f"`{json.dumps(node['default'])}`"
        lines.append(f"| `{key}` | {_cell(_type(node))} | {default} | {_cell(node.get('description', ''))} |")
    return "\n".join(lines) + "\n"


def render(page: str, schema: dict) -> str:
    """``page`` with the part between its markers replaced by :func:`reference`."""
    if BEGIN not in page or END not in page:
        raise SystemExit(f"{PAGE}: the markers {BEGIN!r} and {END!r} are missing")
    head, rest = page.split(BEGIN, 1)
    return f"{head}{BEGIN}\n{reference(schema)}{END}{rest.split(END, 1)[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the page is up to date")
    args = parser.parse_args()
    schema = yaml.safe_load(SCHEMA.read_text())
    if missing := undescribed(schema):
        sys.exit(f"keys without a description in {SCHEMA.relative_to(REPO)}: {', '.join(missing)}")
    page = PAGE.read_text()
    new = render(page, schema)
    if args.check:
        sys.exit(
            0
            if new == page
            else f"{PAGE.relative_to(REPO)} is out of date: python scripts/config_reference.py"
        )
    PAGE.write_text(new)


if __name__ == "__main__":
    main()
