"""Conda environments per rule (envs/*.yaml) agree with the pip pins of the project venv (requirements.txt)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)$")


def _name(package: str) -> str:
    return re.sub(r"[-_.]+", "-", package).lower()


def requirements() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            match = PIN.match(line)
            assert match, f"requirements.txt: '{line}' is not an exact pin (name==version)"
            pins[_name(match[1])] = match[2]
    return pins


def env_pins(path: Path) -> dict[str, str]:
    env = yaml.safe_load(path.read_text())
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for item in dep.get("pip", []):
                if item.startswith("-e"):
                    continue
                match = PIN.match(item)
                assert match, f"{path.name}: pip entry '{item}' is not an exact pin"
                pins[_name(match[1])] = match[2]
    return pins


ENVS = sorted((REPO / "envs").glob("*.yaml"))


def test_there_are_envs():
    assert ENVS


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_pins_match_requirements(env):
    reqs, pins = requirements(), env_pins(env)
    assert pins, f"{env.name} pins nothing"
    mismatched = {k: (v, reqs.get(k)) for k, v in pins.items() if reqs.get(k) != v}
    assert not mismatched, f"{env.name}: pin differs from requirements.txt (env, requirements): {mismatched}"
    python = [
        d
        for d in yaml.safe_load(env.read_text())["dependencies"]
        if isinstance(d, str) and d.startswith("python")
    ]
    assert python == ["python=3.11"], f"{env.name}: python must be pinned like the venv's (3.11)"


def test_requirements_pin_torch_cpu_wheel_version():
    assert requirements()["torch"] == "2.13.0"


def test_every_rule_names_an_existing_env():
    rules_dir = REPO / "workflow" / "rules"
    for smk in sorted(rules_dir.glob("*.smk")):
        for rule, body in re.findall(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", smk.read_text(), re.M):
            if rule == "all":
                continue
            conda = re.search(r"conda:\s*\n\s*\"([^\"]+)\"", body)
            assert conda, f"{smk.name}: rule {rule} names no conda env"
            assert (rules_dir / conda[1]).resolve().is_file(), f"{smk.name}: rule {rule}: {conda[1]} missing"


def test_pip_pins_cover_every_import_of_the_package():
    """Each third-party package that ddei/ imports is pinned in requirements.txt."""
    imports = set()
    for py in (REPO / "ddei").rglob("*.py"):
        for node in ast.walk(ast.parse(py.read_text())):
            if isinstance(node, ast.Import):
                imports |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imports.add(node.module.split(".")[0])
    distribution = {"yaml": "pyyaml"}
    third_party = imports - set(sys.stdlib_module_names) - {"ddei"}
    missing = {m for m in third_party if _name(distribution.get(m, m)) not in requirements()}
    assert not missing, f"imported but not pinned: {missing}"
