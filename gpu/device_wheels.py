"""The wheelhouse for a GPU host without a package index: the project's runtime distributions that its image lacks.

The GPU image (:data:`IMAGE`: a generic CUDA image, CPython 3.12 with a CUDA torch) cannot reach a package index,
and its Python differs from the project venv's (3.11). ``gpu/device_env.sh`` installs whatever ``.whl/`` holds
there (``pip install --no-deps --target``), so that folder must hold, for CPython 3.12 on manylinux x86-64, every
distribution that the workflow needs and the image does not have, with their own needs, and nothing twice. This
module works that set out beforehand, on a machine with a package index, so that no GPU time goes on a missing
wheel:

1. :func:`plan`: from the runtime pins of ``requirements.txt`` (not the test and lint tools), through the
   ``Requires-Dist`` of the distributions installed in this venv, evaluated for the GPU host's Python, every
   distribution that the image does not provide, at the version installed here, the one the suite tests;
2. :func:`download`: ``pip download --no-deps --only-binary=:all:`` of exactly those, for the GPU host's Python
   and platform;
3. :func:`check`: every wheel installs there (its tags), no name comes twice, every ``Requires-Dist`` of a
   wheel is met by another wheel (name and version) or by the image (name), and the folder stays under
   :data:`MAX_BYTES`.

In the repository root (``.whl/`` is git-ignored; copy it beside the checkout on the GPU host)::

    python gpu/device_wheels.py            # plan, download into .whl/, check
    python gpu/device_wheels.py --plan     # print the plan only (no network)
"""

from __future__ import annotations

import argparse
import importlib.metadata
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

REPO = Path(__file__).resolve().parents[1]
#: The GPU image's distributions: ``name`` or ``name==version`` lines.
IMAGE = Path(__file__).with_name("device_image.txt")
REQUIREMENTS = REPO / "requirements.txt"
#: Pins of requirements.txt that the GPU scripts do not run: the test and lint tools, the SLURM executor.
NOT_ON_DEVICE = frozenset({"pytest", "pytest-xdist", "ruff", "snakemake-executor-plugin-slurm"})
#: The device's Python, for ``Requires-Dist`` markers (``packaging.markers``' environment keys).
DEVICE_PYTHON = {
    "python_version": "3.12",
    "python_full_version": "3.12.3",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
}
#: ``pip download``'s target: the device's interpreter and the manylinux tags its pip accepts.
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")  # fmt: skip
#: The largest wheelhouse accepted, so that the checkout and its wheels copy to a GPU host in one small transfer.
MAX_BYTES = 48 * 2**20


def _listed(path: Path) -> dict[str, str | None]:
    """``{canonical name: version}`` of a file of ``name`` or ``name==version`` lines (``#`` starts a comment);
    ``None`` where no version is given."""
    out = {}
    for line in path.read_text().splitlines():
        if line := line.split("#")[0].strip():
            req = Requirement(line)
            out[canonicalize_name(req.name)] = next(iter(req.specifier)).version if req.specifier else None
    return out


def device_image(path: Path = IMAGE) -> dict[str, str | None]:
    """What the device image provides, ``{name: version}``; the version is ``None`` where none was read off the
    device."""
    return _listed(path)


def runtime_pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    """``{name: version}`` of the ``==`` pins of ``requirements.txt`` that the GPU scripts run."""
    return {name: version for name, version in _listed(path).items() if name not in NOT_ON_DEVICE}


def needs(requires: list[str] | None, extras: frozenset[str] = frozenset()) -> list[Requirement]:
    """The ``Requires-Dist`` entries that apply on the device's Python, with ``extras`` of the distribution asked for."""
    out = []
    for line in requires or []:
        req = Requirement(line)
        if req.marker is None or any(
            req.marker.evaluate(DEVICE_PYTHON | {"extra": extra}) for extra in (extras or {""})
        ):
            out.append(req)
    return out


def plan(
    pins: dict[str, str], image: Mapping[str, str | None], metadata=importlib.metadata
) -> dict[str, str]:
    """The distributions to carry, ``{name: version}``: ``pins`` and, through their ``Requires-Dist``, everything
    they need that ``image`` lacks, at the version installed here.

    :param pins: the runtime pins (:func:`runtime_pins`).
    :param image: what the device image provides (:func:`device_image`).
    :param metadata: where installed distributions are looked up (:mod:`importlib.metadata`).
    :raises LookupError: a distribution is needed on the device but installed neither here nor there (a
        requirement of Python 3.12 only): it must be added to requirements.txt or to the image list.
    """
    carry: dict[str, str] = {}
    todo = [(name, frozenset()) for name in pins if name not in image]
    seen = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as e:
            raise LookupError(f"{name} is needed on the device but not installed here: pin it") from e
        carry[name] = dist.version
        if name in pins and pins[name] != dist.version:
            raise LookupError(f"{name}: {dist.version} installed here, {pins[name]} pinned: run `make venv`")
        for req in needs(dist.requires, extras):
            dep = canonicalize_name(req.name)
            if dep not in image:
                todo.append((dep, frozenset(req.extras)))
    return dict(sorted(carry.items()))


def download(carry: dict[str, str], dest: Path) -> None:
    """``pip download`` of exactly ``carry`` (no dependencies, wheels where there are) for the device into
    ``dest``; a distribution published as source only (``connection_pool``) is built into a wheel here
    (:func:`check` refuses it if that wheel is not pure Python)."""
    dest.mkdir(parents=True, exist_ok=True)
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "download", "--quiet", "--no-deps", "--prefer-binary", "--python-version",
                    DEVICE_PYTHON["python_version"], "--implementation", "cp", *platforms, "--dest", str(dest),
                    *(f"{n}=={v}" for n, v in carry.items())], check=True)  # fmt: skip
    for sdist in [*dest.glob("*.tar.gz"), *dest.glob("*.zip")]:
        subprocess.run(
            [*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dest), str(sdist)], check=True
        )
        sdist.unlink()


def unmet(
    requires: dict[str, list[str]],
    versions: dict[str, str],
    image: Mapping[str, str | None],
) -> list[str]:
    """The ``Requires-Dist`` entries of carried distributions that the device would lack, one line each.

    :param requires: ``{name: Requires-Dist lines}`` of each carried distribution.
    :param versions: ``{name: version}`` of each carried distribution.
    :param image: what the device image provides (:func:`device_image`); a version not known is not checked.
    """
    problems = []
    for name, lines in sorted(requires.items()):
        for req in needs(lines):
            dep = canonicalize_name(req.name)
            have, where = (versions[dep], "carried") if dep in versions else (image.get(dep), "image's")
            if dep not in versions and dep not in image:
                problems.append(f"{name} needs {req}: neither carried nor in the image")
            elif have is not None and not req.specifier.contains(have, prereleases=True):
                problems.append(f"{name} needs {req}, the {where} {dep} is {have}")
    return problems


def device_tags() -> set[Tag]:
    """The wheel tags the device's pip installs (CPython 3.12 on manylinux x86-64; pure-Python wheels too), as
    :mod:`packaging.tags` derives them for that interpreter and those platforms."""
    version = tuple(int(n) for n in DEVICE_PYTHON["python_version"].split("."))
    interpreter = "cp" + "".join(map(str, version))
    return set(cpython_tags(version, platforms=PLATFORMS)) | set(
        compatible_tags(version, interpreter, PLATFORMS)
    )


def check(
    dest: Path,
    image: Mapping[str, str | None],
    carry: dict[str, str] | None = None,
) -> list[str]:
    """What is wrong with the wheels in ``dest`` for the device, one line each (empty: nothing).

    :param dest: the folder of wheels (``.whl/``).
    :param image: what the device image provides (:func:`device_image`).
    :param carry: the plan, if the folder must hold exactly it.
    """
    problems, found, requires = [], {}, {}
    tags = device_tags()
    for wheel in sorted(dest.glob("*.whl")):
        name, version, _, wheel_tags = parse_wheel_filename(wheel.name)
        if name in found:
            problems.append(
                f"{name}: two wheels ({found[name]} and {version}); the install stops at the second"
            )
        found[name] = str(version)
        if not wheel_tags & tags:
            problems.append(f"{wheel.name}: does not install on the device (CPython 3.12, manylinux x86-64)")
        with zipfile.ZipFile(wheel) as z:
            meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
            requires[name] = Parser().parsestr(z.read(meta).decode()).get_all("Requires-Dist") or []
    problems += unmet(requires, found, image)
    if carry is not None:
        for name in sorted(set(carry) - set(found)):
            problems.append(f"{name}=={carry[name]}: planned, not in {dest}")
        for name in sorted(set(found) - set(carry)):
            problems.append(f"{name}=={found[name]}: in {dest}, not planned")
    size = sum(w.stat().st_size for w in dest.glob("*.whl"))
    if size > MAX_BYTES:
        problems.append(f"{size / 2**20:.1f} MiB of wheels: over the {MAX_BYTES / 2**20:.0f} MiB limit")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=REPO / ".whl")
    parser.add_argument("--plan", action="store_true", help="print the plan only (no download)")
    args = parser.parse_args()
    image = device_image()
    carry = plan(runtime_pins(), image)
    print(f"{len(carry)} distributions to carry (the image has the rest):")
    print("  " + " ".join(f"{n}=={v}" for n, v in carry.items()))
    if args.plan:
        return
    from ddei.io.folders import atomic_folder

    # built afresh beside it (a stale wheel would stop the install) and put in place only once it checks out
    with atomic_folder(args.dest) as tmp:
        download(carry, tmp)
        problems = check(tmp, image, carry)
        size = sum(w.stat().st_size for w in tmp.glob("*.whl")) / 2**20
        print(f"{len(list(tmp.glob('*.whl')))} wheels, {size:.1f} MiB")
        if problems:
            sys.exit(f"not ready for the device, {args.dest} left as it was:\n  " + "\n  ".join(problems))
    print(f"ready in {args.dest}: copy it beside the checkout on the GPU host")


if __name__ == "__main__":
    main()
