"""The wheelhouse for a GPU host without a package index (gpu/device_wheels.py):
the plan holds what the device image lacks and all it needs, for the device's Python, and the check refuses a
folder that would not install there. Offline: the download itself is not run here."""

from __future__ import annotations

import importlib.metadata
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gpu"))
import device_wheels as dw  # noqa: E402

IMAGE = dw.device_image()


@pytest.fixture(scope="module")
def carry() -> dict[str, str]:
    return dw.plan(dw.runtime_pins(), IMAGE)


def test_the_plan_carries_what_the_image_lacks_and_nothing_it_has(carry):
    assert {"deepinv", "libcpab", "snakemake", "mat73"} <= set(carry)
    assert not set(carry) & set(IMAGE)  # the image's torch (a CUDA build), numpy, ... are used as they are
    assert {"torch", "torchvision", "numpy", "h5py"} <= set(IMAGE)
    for name, version in dw.runtime_pins().items():  # every runtime pin is carried at its version, or there
        assert carry.get(name, version) == version and (name in carry or name in IMAGE)
    assert not {"pytest", "ruff", "pytest-xdist"} & set(carry)


def test_everything_the_carried_distributions_need_on_the_device_is_there(carry):
    requires = {name: importlib.metadata.distribution(name).requires or [] for name in carry}
    assert dw.unmet(requires, carry, IMAGE) == []  # deepinv's torch>=2.2 against 2.11, ...
    assert IMAGE["torch"] == "2.11.0" and IMAGE["h5py"] is None


def test_the_plan_follows_the_image(carry):
    """A distribution the image does not have is carried, with what it needs that the image lacks."""
    without = {name: v for name, v in IMAGE.items() if name not in ("pyyaml", "jinja2")}
    more = dw.plan(dw.runtime_pins(), without)
    assert set(more) - set(carry) >= {"pyyaml", "jinja2"}
    requires = {name: importlib.metadata.distribution(name).requires or [] for name in carry}
    assert any("pyyaml" in line for line in dw.unmet(requires, carry, without))


def test_markers_are_read_for_the_device_python():
    lines = ['tomli; python_version < "3.11"', 'exceptiongroup; python_version < "3.12"',
             'typing-extensions; python_version >= "3.12"', 'pywin32; sys_platform == "win32"',
             'rich; extra == "cli"']  # fmt: skip
    assert [r.name for r in dw.needs(lines)] == ["typing-extensions"]
    assert [r.name for r in dw.needs(lines, frozenset({"cli"}))] == ["typing-extensions", "rich"]


def test_a_needed_distribution_installed_nowhere_is_an_error():
    class Metadata:
        PackageNotFoundError = importlib.metadata.PackageNotFoundError

        @staticmethod
        def distribution(name):
            if name == "deepinv":
                return importlib.metadata.distribution(name)
            raise importlib.metadata.PackageNotFoundError(name)

    with pytest.raises(LookupError, match="not installed here"):
        dw.plan({"deepinv": importlib.metadata.version("deepinv")}, {}, Metadata)


def _wheel(folder: Path, filename: str, requires: list[str] = ()) -> None:
    name, version = filename.split("-")[:2]
    meta = "Metadata-Version: 2.1\nName: {}\nVersion: {}\n{}".format(
        name, version, "".join(f"Requires-Dist: {r}\n" for r in requires)
    )
    with zipfile.ZipFile(folder / filename, "w") as z:
        z.writestr(f"{name}-{version}.dist-info/METADATA", meta)


def test_the_check_refuses_a_folder_that_would_not_install_on_the_device(tmp_path):
    _wheel(tmp_path, "alpha-1.0-py3-none-any.whl", ["beta>=2", "numpy>=3", "gamma"])
    _wheel(tmp_path, "beta-1.5-cp312-cp312-manylinux_2_17_x86_64.whl")
    _wheel(tmp_path, "delta-1.0-cp311-cp311-manylinux_2_17_x86_64.whl")
    _wheel(tmp_path, "eps-1.0-py3-none-any.whl")
    _wheel(tmp_path, "eps-2.0-py3-none-any.whl")
    problems = "\n".join(dw.check(tmp_path, {"numpy": "2.5.2"}, {"alpha": "1.0", "beta": "1.5", "zeta": "1"}))
    assert "alpha needs beta>=2, the carried beta is 1.5" in problems
    assert "alpha needs gamma: neither carried nor in the image" in problems
    assert "alpha needs numpy>=3, the image's numpy is 2.5.2" in problems
    assert "delta-1.0-cp311-cp311-manylinux_2_17_x86_64.whl: does not install on the device" in problems
    assert "eps: two wheels" in problems
    assert "zeta==1: planned, not in" in problems and "delta==1.0: in" in problems
    assert len(problems.splitlines()) == 8, problems


def test_the_check_passes_a_folder_that_installs(tmp_path):
    _wheel(tmp_path, "alpha-1.0-py3-none-any.whl", ["beta>=1", 'tomli; python_version < "3.11"'])
    _wheel(tmp_path, "beta-1.5-cp312-cp312-manylinux2014_x86_64.manylinux_2_17_x86_64.whl")
    _wheel(tmp_path, "gamma-3.0-cp39-abi3-manylinux_2_28_x86_64.whl")
    _wheel(tmp_path, "delta-1.0-py3-none-any.whl", ["numpy>=2", "h5py"])
    image = {"numpy": "2.5.2", "h5py": None}
    assert dw.check(tmp_path, image, {"alpha": "1.0", "beta": "1.5", "gamma": "3.0", "delta": "1.0"}) == []
