"""Repository habits that packaging depends on (issue 24 item 6): the licence every
pyproject states is the one the repository holds and the core's wheel carries; every
distribution ships ``py.typed`` (PEP 561); the files CONTRIBUTING.md tells a newcomer to
open exist; the pre-commit hook runs the linter CI runs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
PYPROJECTS = [ROOT / "pyproject.toml", *sorted((ROOT / "plugins").glob("*/pyproject.toml"))]


def _packages(pyproject: Path) -> list[Path]:
    """The import packages a pyproject builds (explicit ``packages`` or the core's find)."""
    setuptools = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]
    names = setuptools.get("packages")
    if not isinstance(names, list):  # the core's [tool.setuptools.packages.find]
        names = ["pxcore"]
    return [pyproject.parent / name for name in names]


def test_license_file_is_apache_2_as_every_pyproject_states():
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License")
    assert "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    for pyproject in PYPROJECTS:
        license_ = tomllib.loads(pyproject.read_text())["project"].get("license")
        assert license_ == "Apache-2.0", f"{pyproject.relative_to(ROOT)} states {license_!r}"


@pytest.mark.parametrize("pyproject", PYPROJECTS, ids=lambda p: str(p.parent.relative_to(ROOT)))
def test_every_distribution_declares_and_has_py_typed(pyproject):
    data = tomllib.loads(pyproject.read_text())
    package_data = data["tool"]["setuptools"].get("package-data", {})
    for package in _packages(pyproject):
        assert (package / "py.typed").is_file(), f"{package.relative_to(ROOT)} has no py.typed"
        assert "py.typed" in package_data.get(package.name, []), (
            f"{pyproject.relative_to(ROOT)}: [tool.setuptools.package-data] does not list "
            f"{package.name}'s py.typed, so its wheel would not carry it")


def test_core_wheel_carries_license_py_typed_and_page(tmp_path):
    # Built from a copy: setuptools writes build/ and pxcore.egg-info beside the sources,
    # and an egg-info left in the checkout shadows the installed metadata (entry points)
    # for anything run from the repository root.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "pxcore", source / "pxcore",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("pxcore-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "pxcore/py.typed" in names
    assert "pxcore/serve/page.html" in names
    assert any(re.fullmatch(r"pxcore-[^/]+\.dist-info/licenses/LICENSE", n) for n in names), names


def test_contributing_names_only_paths_that_exist():
    text = (ROOT / "CONTRIBUTING.md").read_text()
    named = set(re.findall(r"`((?:plugins|reference|examples|pxcore|\.ci)/[\w./-]*\w)`", text))
    named |= set(re.findall(r"`(\w[\w-]*\.(?:md|txt|toml|yaml))`", text))
    assert len(named) >= 5, named  # the guide keeps pointing at real files
    missing = sorted(p for p in named if "<" not in p and not (ROOT / p).exists())
    assert not missing, f"CONTRIBUTING.md names paths that do not exist: {missing}"


def test_pre_commit_hook_runs_ruff_check_like_ci():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    entries = [hook["entry"] for repo in config["repos"] for hook in repo["hooks"]]
    assert any(entry.split()[:2] == ["ruff", "check"] for entry in entries), entries
    assert "ruff check ." in (ROOT / ".ci" / "run").read_text()
