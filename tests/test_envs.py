"""The conda environments of the rules (envs/*.yaml).

- They hold registry packages only: no local path, which would break once Snakemake copies the file to
  ``.snakemake/conda/<hash>.yaml`` (the scripts import ``ddei`` from the workflow's folder instead).
- The conda part is pinned exactly, the pip part with exactly the pins of requirements.txt.
- Every third-party package that a rule's code imports (its script and the ``ddei`` modules it imports,
  transitively, from a static ``ast`` import graph) is pinned in that rule's env, and each pin is needed.
- Rules of each group run, through Snakemake, in a venv made from their env's pip part alone.

The venvs of the last check (``.venv-envs/<env>/``, about 1.5 GiB for ddei) take a minute to build, so
``make test`` builds them first, once per machine (``python tests/test_envs.py build [ROOT]``), and rebuilds one
only when its env file changes (the key is the file's SHA-256). This module builds any that is missing or stale.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
ENV_DIR = REPO / "envs"
ENVS = sorted(ENV_DIR.glob("*.yaml"))
SCRIPTS = REPO / "workflow" / "scripts"
VENV_ROOT = REPO / ".venv-envs"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*)==([A-Za-z0-9_.!+]+)$")
CONDA_PIN = re.compile(r"^([a-z0-9][a-z0-9_.\-]*)==?(\d[A-Za-z0-9_.!+]*)(=[A-Za-z0-9_.]+)?$")
FIRST_PARTY = {"ddei"}
#: The training stack, which the report rules must not need.
TRAINING_STACK = {"torch", "torchvision", "deepinv", "libcpab"}

#: Modules whose function-level imports the rules of an env never run, with the reason. For those rules only the
#: module-level imports of these modules are followed. test_rules_run_in_their_env_alone runs report rules in a
#: venv without torch, which checks the claim where it matters.
NOT_REACHED = {
    "report.yaml": {
        "ddei._compat": "ensure_torchvision_importable runs only when torchvision is imported, never in a report rule",
        "ddei.mri.losses": "the loss builders and generators() import torch and deepinv; training calls them, not reports",
        "ddei.mri.metrics": "metric_functions imports deepinv; the report reads only the metric names (METRICS)",
    },
}

#: Import names that are not a top-level module of an installed distribution of the project venv.
DISTRIBUTION = {"yaml": "PyYAML", "skimage": "scikit-image", "PIL": "pillow", "sklearn": "scikit-learn"}


def _name(package: str) -> str:
    return re.sub(r"[-_.]+", "-", package).lower()


# --------------------------------------------------------------------------------------------------------------
# Env files and requirements.txt


def requirements() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            match = PIN.match(line)
            assert match, f"requirements.txt: '{line}' is not an exact pin (name==version)"
            pins[_name(match[1])] = match[2]
    return pins


def load_env(path: Path) -> tuple[list[str], list[str]]:
    """The conda dependencies (strings) and the pip entries of an env file."""
    env = yaml.safe_load(path.read_text())
    conda, pip = [], []
    for dep in env.get("dependencies", []):
        if isinstance(dep, dict):
            assert set(dep) == {"pip"}, f"{path.name}: unknown dependency section {set(dep) - {'pip'}}"
            pip += [str(item) for item in dep["pip"]]
        else:
            conda.append(str(dep))
    return conda, pip


def env_pins(path: Path) -> dict[str, str]:
    """The pip part of an env file as {normalised name: version}; fails on anything but an exact pin."""
    pins = {}
    for item in load_env(path)[1]:
        match = PIN.match(item)
        assert match, f"{path.name}: pip entry '{item}' is not an exact pin from a registry (name==version)"
        pins[_name(match[1])] = match[2]
    return pins


def conda_pins(path: Path) -> dict[str, str]:
    pins = {}
    for dep in load_env(path)[0]:
        match = CONDA_PIN.match(dep)
        assert match, f"{path.name}: conda dependency '{dep}' is not an exact pin (name=version)"
        pins[match[1]] = match[2]
    return pins


def test_there_are_envs():
    assert ENVS


# --- registry packages only ---------------------------------------------------------------------------------

#: Options of a pip requirements line that take a path or URL (pip resolves them from the file's folder).
PATH_OPTIONS = ("-e", "--editable", "-r", "--requirement", "-c", "--constraint", "-f", "--find-links")


def local_paths(item: str) -> list[str]:
    """The paths that one pip or conda entry names, as written."""
    words = item.split()
    paths = [w for option, w in zip(words, words[1:]) if option in PATH_OPTIONS]
    paths += [w.split("=", 1)[1] for w in words if w.startswith("--") and "=" in w]
    for word in words:
        url = word.split("@", 1)[-1].strip()
        if url.startswith("file:"):
            paths.append(url.removeprefix("file://").removeprefix("file:"))
        elif word.startswith((".", "/", "~")) or "/" in word and "://" not in word:
            paths.append(word)
    return list(dict.fromkeys(paths))


def installable(path: Path) -> bool:
    return path.is_file() or (path / "pyproject.toml").is_file() or (path / "setup.py").is_file()


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_paths_resolve_from_snakemakes_copy(env, tmp_path):
    """Snakemake runs ``conda env create --file .snakemake/conda/<hash>.yaml`` on a copy, and conda runs pip in
    that copy's folder: every path the file names must still lead to something installable from there."""
    copy = tmp_path / ".snakemake" / "conda" / (hashlib.md5(env.read_bytes()).hexdigest() + ".yaml")
    copy.parent.mkdir(parents=True)
    shutil.copy(env, copy)
    conda, pip = load_env(copy)
    channels = yaml.safe_load(copy.read_text()).get("channels", [])
    broken = [
        f"'{entry}' -> {(copy.parent / p).resolve()}"
        for entry in conda + pip + channels
        for p in local_paths(str(entry))
        if not installable(copy.parent / Path(p).expanduser())
    ]
    assert not broken, (
        f"{env.name}: paths that break once Snakemake copies the file to .snakemake/conda/: {broken}"
    )


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_names_registry_packages_only(env):
    """No relative path, no URL, no editable install: each entry is a pinned package of a registry."""
    conda, pip = load_env(env)
    channels = yaml.safe_load(env.read_text()).get("channels", [])
    bad = [c for c in channels if not re.fullmatch(r"[A-Za-z0-9_\-]+", str(c))]
    assert not bad, f"{env.name}: channels must be registry names, not paths or URLs: {bad}"
    bad = [item for item in conda + pip if local_paths(item) or item.startswith("-")]
    assert not bad, (
        f"{env.name}: local paths or pip options (the scripts import ddei from the workflow): {bad}"
    )
    env_pins(env), conda_pins(env)  # each fails on an entry that is not an exact pin


# --- exact pins -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_pins_match_requirements(env):
    reqs, pins = requirements(), env_pins(env)
    assert pins, f"{env.name} pins nothing"
    mismatched = {k: (v, reqs.get(k)) for k, v in pins.items() if reqs.get(k) != v}
    assert not mismatched, f"{env.name}: pin differs from requirements.txt (env, requirements): {mismatched}"


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_conda_part_is_python_and_pip_pinned_exactly(env):
    pins = conda_pins(env)
    assert set(pins) == {"python", "pip"}, (
        f"{env.name}: the conda part is python and pip only, got {sorted(pins)}"
    )
    assert re.fullmatch(r"\d+\.\d+\.\d+", pins["python"]), f"{env.name}: pin python exactly (X.Y.Z)"
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", pins["pip"]), f"{env.name}: pin pip exactly"
    major_minor = ".".join(pins["python"].split(".")[:2])
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert major_minor == here, f"{env.name}: python {pins['python']}, but the project venv runs {here}"


def test_report_env_has_no_training_stack():
    pins = env_pins(ENV_DIR / "report.yaml")
    assert not set(pins) & TRAINING_STACK, f"report.yaml pins {sorted(set(pins) & TRAINING_STACK)}"


def test_requirements_pin_torch_cpu_wheel_version():
    assert requirements()["torch"] == "2.13.0"


# --------------------------------------------------------------------------------------------------------------
# Rules, their scripts and the static import graph of their code

RULES_JSON = """
import json, sys, tempfile
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings
repo = Path(sys.argv[1])
with tempfile.TemporaryDirectory() as workdir, SnakemakeApi(OutputSettings()) as api:
    workflow = api.workflow(
        resource_settings=ResourceSettings(),
        config_settings=ConfigSettings(configfiles=[repo / "config" / "config.yaml"]),
        snakefile=repo / "Snakefile",
        workdir=Path(workdir),
    )._workflow
    rules = {
        rule.name: {
            "script": str((Path(rule.basedir) / rule.script).resolve()) if rule.script else None,
            "conda": str((Path(rule.basedir) / rule.conda_env).resolve()) if rule.conda_env else None,
            "code": bool(rule.script or rule.shellcmd or rule.wrapper or rule.notebook or not rule.norun),
        }
        for rule in workflow.rules
    }
print("RULES" + json.dumps(rules))
"""


@cache
def rules() -> dict[str, dict]:
    """Every rule of the workflow, as Snakemake parses it: {name: {script, conda, code}} (absolute paths)."""
    out = subprocess.run(
        [sys.executable, "-c", RULES_JSON, str(REPO)], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.split("RULES", 1)[1])


def script_rules() -> list[str]:
    return [name for name, rule in rules().items() if rule["script"]]


def test_every_rule_with_code_names_an_existing_env():
    for name, rule in rules().items():
        if rule["code"]:
            assert rule["conda"], f"rule {name} names no conda env"
            assert Path(rule["conda"]).resolve().parent == ENV_DIR, (
                f"rule {name}: {rule['conda']} is not in envs/"
            )
            assert Path(rule["conda"]).is_file(), f"rule {name}: {rule['conda']} missing"
    assert script_rules(), "no rule runs a script"


def module_path(name: str) -> Path | None:
    """The file of a first-party module: ``ddei...`` in the repo, or a helper beside the scripts (``_preamble``)."""
    parts = name.split(".")
    base = REPO if parts[0] in FIRST_PARTY else SCRIPTS
    for candidate in (base.joinpath(*parts).with_suffix(".py"), base.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


@cache
def module_imports(path: Path, name: str) -> tuple[tuple, tuple]:
    """The imports of one module: (module level, function level), each as (imported module, line) pairs.

    Module level: what runs when the module is imported (class bodies and ``if``/``try`` blocks included,
    ``if TYPE_CHECKING:`` blocks left out). ``from a import b`` yields ``a`` and, if it is a module, ``a.b``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = ([], [])

    def add(module: str, line: int, lazy: bool):
        found[lazy].append((module, line))

    def visit(node, lazy: bool):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child, lazy)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno, lazy)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            add(module, node.lineno, lazy)
            for alias in node.names:
                if module_path(f"{module}.{alias.name}"):
                    add(f"{module}.{alias.name}", node.lineno, lazy)
        lazy = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, lazy)

    visit(ast.parse(path.read_text(), str(path)), False)
    return tuple(found[0]), tuple(found[1])


def third_party_imports(script: Path, env: str) -> dict[str, list[str]]:
    """The third-party top-level modules that a rule's script imports, directly or through first-party modules
    (transitively), each with where: {module: ["ddei/x.py:12", ...]}."""
    skip = NOT_REACHED.get(env, {})
    found: dict[str, list[str]] = {}
    seen: set[str] = set()
    todo = [("__main__", script)]
    while todo:
        name, path = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        eager, lazy = module_imports(path, name)
        for module, line in eager + (() if name in skip else lazy):
            top = module.split(".")[0]
            first = module_path(module) if top in FIRST_PARTY or module_path(top) else None
            if first:
                parts = module.split(".")  # importing a.b.c runs a, a.b and a.b.c
                todo += [
                    (".".join(parts[:i]), module_path(".".join(parts[:i]))) for i in range(1, len(parts) + 1)
                ]
            elif top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                where = path.relative_to(REPO)
                found.setdefault(top, []).append(f"{where}:{line}")
    return found


@cache
def _import_to_distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def distributions(module: str) -> set[str]:
    """The distributions (normalised) that can provide a top-level import name."""
    names = set(_import_to_distributions().get(module, []))
    return {_name(n) for n in names} or {_name(DISTRIBUTION.get(module, module))}


def pytest_generate_tests(metafunc):
    if "rule" in metafunc.fixturenames:  # each rule that runs a script (parsed at collection, not at import)
        metafunc.parametrize("rule", script_rules())


def test_rule_imports_are_pinned_in_its_env(rule):
    info = rules()[rule]
    if not info["conda"]:
        pytest.fail(f"rule {rule} names no conda env")
    env = Path(info["conda"])
    pins = env_pins(env)
    imports = third_party_imports(Path(info["script"]), env.name)
    missing = {
        module: f"{'/'.join(sorted(distributions(module)))}, imported at {', '.join(where[:3])}"
        for module, where in imports.items()
        if not distributions(module) & set(pins)
    }
    assert not missing, f"rule {rule}: {env.name} does not pin what its code imports: {missing}"


def _requires(dist: str) -> set[str]:
    """The distributions that an installed distribution depends on (no extras)."""
    from packaging.requirements import Requirement

    out = set()
    for line in importlib.metadata.requires(dist) or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            out.add(_name(req.name))
    return out


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_pins_only_what_its_rules_need(env):
    """Each pin is imported by one of the env's rules, or a dependency of such a package (pinned so that the
    env gets the version of the project venv)."""
    used = set()
    for rule in script_rules():
        if rules()[rule]["conda"] and Path(rules()[rule]["conda"]) == env:
            for module in third_party_imports(Path(rules()[rule]["script"]), env.name):
                used |= distributions(module)
    needed, todo = set(), list(used)
    while todo:
        dist = todo.pop()
        if dist not in needed:
            needed.add(dist)
            try:
                todo += _requires(dist)
            except importlib.metadata.PackageNotFoundError:
                pass
    unused = sorted(set(env_pins(env)) - needed)
    assert not unused, f"{env.name} pins packages that none of its rules imports or needs: {unused}"


def test_requirements_cover_every_import_of_the_code():
    """Each third-party package that ddei/ or a workflow script imports is pinned in requirements.txt."""
    missing = {}
    files = list((REPO / "ddei").rglob("*.py")) + list(SCRIPTS.glob("*.py"))
    for path in files:
        name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        eager, lazy = module_imports(path, name)
        for module, line in eager + lazy:
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top in FIRST_PARTY or module_path(top):
                continue
            if not distributions(top) & set(requirements()):
                missing[top] = f"{path.relative_to(REPO)}:{line}"
    assert not missing, f"imported but not pinned in requirements.txt: {missing}"


# --------------------------------------------------------------------------------------------------------------
# One venv per env file, from its pip part alone

BUILDER_VERSION = "2"


def venv_key(env: Path) -> str:
    """What a venv is built from: the env file, the interpreter, this builder."""
    h = hashlib.sha256(env.read_bytes())
    h.update(f"{sys.version}|{BUILDER_VERSION}".encode())
    return h.hexdigest()


def venv_python(env: Path, root: Path = VENV_ROOT) -> Path:
    return root / env.stem / "bin" / "python"


def build_venv(env: Path, root: Path = VENV_ROOT) -> Path:
    """Build ``root/<env>/``, a venv holding only the env file's pip part (with the pip version of its conda
    part), installed the way conda does it: pip run in the folder of Snakemake's copy of the file, on a
    requirements file written there. Does nothing if the venv was built from the same file.

    :return: the venv's python."""
    target = root / env.stem
    stamp = target / ".env-sha256"
    key = venv_key(env)
    python = venv_python(env, root)
    if stamp.is_file() and stamp.read_text() == key and python.exists():
        return python
    print(f"building {target} from {env.relative_to(REPO)}", file=sys.stderr, flush=True)
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
    copy = target / "snakemake-conda" / (hashlib.md5(env.read_bytes()).hexdigest() + ".yaml")
    copy.parent.mkdir()
    shutil.copy(env, copy)
    _, pip = load_env(copy)
    requirements_file = copy.parent / "condaenv.requirements.txt"
    requirements_file.write_text("\n".join(pip) + "\n")
    # -qq: the machine's pip config names index folders that do not all exist (a warning each). --no-compile:
    # byte-compiling all of torch costs three times the install; what the rules import compiles on first use.
    quiet = ["-qq", "--no-input", "--no-compile"]
    pip_version = conda_pins(env)["pip"]
    subprocess.run([python, "-m", "pip", "install", *quiet, f"pip=={pip_version}"], check=True)
    subprocess.run(
        [python, "-m", "pip", "install", *quiet, "-U", "-r", requirements_file.name],
        check=True,
        cwd=copy.parent,
    )
    stamp.write_text(key)
    return python


@pytest.fixture(scope="session")
def env_pythons() -> dict[str, Path]:
    """{env file name: python of its venv}, building those missing or stale (``make test`` builds them first)."""
    return {env.name: build_venv(env) for env in ENVS}


INSTALLED = """
import importlib.metadata as m, importlib.util as u, json
print(json.dumps({
    "dists": {d.metadata["Name"]: d.version for d in m.distributions()},
    "ddei": u.find_spec("ddei") is not None,
    "snakemake": u.find_spec("snakemake") is not None,
}))
"""


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_venv_holds_the_pinned_versions_and_not_the_project(env, env_pythons):
    """Any package of requirements.txt that the venv holds (pinned, or pulled in by a pinned one) has the
    version of requirements.txt; neither the project nor snakemake is installed."""
    from packaging.version import Version

    out = subprocess.run(
        [env_pythons[env.name], "-I", "-c", INSTALLED], capture_output=True, text=True, check=True
    )
    installed = json.loads(out.stdout)
    assert not installed["ddei"], f"{env.name}'s venv can import ddei: the project must not be installed"
    assert not installed["snakemake"], f"{env.name}'s venv holds snakemake"
    versions = {_name(k): Version(v).public for k, v in installed["dists"].items()}
    drift = {k: (versions[k], v) for k, v in requirements().items() if k in versions and versions[k] != v}
    assert not drift, f"{env.name}'s venv: versions (installed, requirements.txt) differ, pin them: {drift}"


# --- rules of every group, run by Snakemake in those venvs ----------------------------------------------------

#: Runs the file that Snakemake wrote for a script job (its preamble + the rule's script) as `python FILE` would,
#: except that the sys.path entries the preamble appends (the snakemake process's own path, which holds the
#: project venv) are taken off again once the preamble has unpickled the `snakemake` object: the rule's code
#: sees only this interpreter's environment, the workflow's folder and the script folder.
RUNNER = r"""
import os
import sys

#: What Snakemake's preamble needs from the snakemake process's path: snakemake, to unpickle `snakemake` (and
#: the object's methods may import more of it).
PREAMBLE_NEEDS = {"snakemake", "snakemake_interface_common", "snakemake_interface_logger_plugins",
                  "snakemake_interface_storage_plugins"}


def entry(module, paths):
    # The sys.path entry a loaded module comes from (the longest one holding its file), or None.
    file = getattr(module, "__file__", None)
    if not file:
        return None
    file = os.path.realpath(file)
    held = [p for p in paths if p and file.startswith(os.path.realpath(p).rstrip(os.sep) + os.sep)]
    return max(held, key=lambda p: len(os.path.realpath(p)), default=None)


def run():
    fname = os.path.abspath(sys.argv[1])
    sys.argv[:] = [fname]
    own = list(sys.path)
    here = os.path.dirname(fname)
    sys.path.insert(0, here)  # as `python FILE` does
    preamble, marker, body = open(fname).read().partition("######## snakemake preamble end #########\n")
    assert marker, f"{fname}: no snakemake preamble"
    scope = sys.modules["__main__"].__dict__
    scope["__file__"] = fname
    exec(compile(preamble, fname, "exec"), scope)
    scriptdir = scope["snakemake"].scriptdir
    host = [p for p in sys.path if p not in own and p not in (here, scriptdir)]
    sys.path[:] = [p for p in sys.path if p not in host]
    every = host + sys.path
    from_host = {n for n, m in list(sys.modules.items()) if n != "__main__" and entry(m, every) in host}
    odd = sorted({n.split(".")[0] for n in from_host} - PREAMBLE_NEEDS)
    assert not odd, f"snakemake's preamble loaded {odd} from the snakemake process's path {host}"
    exec(compile("\n" * (preamble.count("\n") + 1) + body, fname, "exec"), scope)
    every = host + sys.path  # the script puts the workflow's root first
    leaked = {n: m.__file__ for n, m in list(sys.modules.items())
              if n.split(".")[0] not in PREAMBLE_NEEDS and n != "__main__"
              and entry(m, every) in set(every) - set(sys.path)}
    if leaked:
        print(f"the rule's code imported from outside its interpreter's path: {leaked}", file=sys.__stderr__)
        sys.exit(3)


run()
"""

#: Snakemake itself, with each script job's interpreter swapped for the python of its env's venv: what
#: `--use-conda` does (it runs `python FILE` with the env activated), with RUNNER in between.
SNAKEMAKE_IN_VENVS = """
import json, sys
from snakemake.script import PythonScript

pythons, runner = json.loads(sys.argv[1]), sys.argv[2]


def execute_script(self, fname, edit=False):
    cmd = "{py:q} -I {runner:q} {fname:q}"
    self._execute_cmd(cmd, py=pythons[self.rulename], runner=runner, fname=fname, is_python_script=True)


PythonScript.execute_script = execute_script
from snakemake.cli import main

main(sys.argv[3:])
"""


@pytest.mark.slow
@pytest.mark.extended
def test_rules_run_in_their_env_alone(env_pythons, tmp_path):
    """The whole workflow on a tiny configuration (DDEI only: deepinv, libcpab), run by Snakemake, the script of
    each rule run in the venv of its rule's env: data, training, evaluation and report rules; then the same on
    acquired undersampled scans (config/undersampled.yaml), for the reconstruct rules."""
    import test_workflow

    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    pythons = {rule: str(env_pythons[Path(rules()[rule]["conda"]).name]) for rule in script_rules()}
    undersampled = yaml.safe_load((REPO / "config" / "undersampled.yaml").read_text())
    ran = set()
    for name in ("default", "undersampled"):
        results = tmp_path / name / "results"
        config = test_workflow.tiny_config(results)
        if name == "undersampled":
            config["data"] |= {k: undersampled["data"][k] for k in ("measurements", "set")}
            config["masks"]["accelerations"] = undersampled["masks"]["accelerations"]
            config["normalisation"], config["reconstruct"] = (
                undersampled["normalisation"],
                undersampled["reconstruct"],
            )
        config["methods"] = ["ddei"]
        config["evaluation"]["reference"] = "ddei"
        configfile = tmp_path / name / "config.yaml"
        configfile.parent.mkdir()
        configfile.write_text(yaml.safe_dump(config))
        cmd = [sys.executable, "-c", SNAKEMAKE_IN_VENVS, json.dumps(pythons), str(runner)]
        cmd += ["--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path / name)]
        cmd += ["--configfile", str(configfile), "--cores", "2"]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        logs = "".join(
            f"\n--- {p.relative_to(results)}:\n{p.read_text()[-1500:]}"
            for p in (results / "logs").rglob("*.log")
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-4000:] + logs
        ran |= set(re.findall(r"^(?:local)?rule (\w+):", result.stdout + result.stderr, re.M)) - {"all"}
        for path in [results / "metrics" / "all.csv", results / "tables" / "results.md"]:
            assert path.stat().st_size > 0, path
    assert ran == set(script_rules()), f"rules not run: {sorted(set(script_rules()) - ran)}"


if __name__ == "__main__":
    # python tests/test_envs.py build [ROOT]: build (or keep) the venv of every env file under ROOT.
    if sys.argv[1:2] != ["build"] or len(sys.argv) > 3:
        sys.exit("usage: python tests/test_envs.py build [ROOT]")
    root = Path(sys.argv[2]).resolve() if len(sys.argv) == 3 else VENV_ROOT
    for env in ENVS:
        print(f"{env.relative_to(REPO)}: {build_venv(env, root)}")
