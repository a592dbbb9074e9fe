"""An out-of-tree plugin is pip-installed and found through its entry point, with no
change to the core; a plugin that raises on import is reported and harms nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "third_party_plugin"
BROKEN = ROOT / "tests" / "fixtures" / "broken_plugin"

pytestmark = pytest.mark.slow


def _pip_install(source: Path, target: Path) -> None:
    # Build from a copy: setuptools leaves build/ and .egg-info/ beside the sources.
    copy = target.with_name(target.name + "-src")
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    # Offline and without build isolation: the test environment's setuptools builds it.
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--target", str(target), str(copy)],
        capture_output=True, text=True)
    assert result.returncode == 0, f"pip install {source} failed:\n{result.stderr}"


def _run(code: str, *paths: Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PXCORE_")}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)


LIST_PLUGINS = ("import json, pxcore\n"
                "print(json.dumps({r.name: r.as_dict() for r in pxcore.plugin_records()}))")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("site")
    _pip_install(EXAMPLE, base / "tinynet")
    _pip_install(BROKEN, base / "broken")
    return base / "tinynet", base / "broken"


def test_not_found_before_it_is_installed():
    records = json.loads(_run(LIST_PLUGINS).stdout)
    assert "px-tinynet" not in records, "px-tinynet is installed in this environment already"


def test_found_after_pip_install_with_the_broken_one_beside_it(installed):
    tinynet, broken = installed
    result = _run(LIST_PLUGINS, tinynet, broken)
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert records["px-tinynet"]["error"] is None
    assert records["px-tinynet"]["source"] == "entry-point"
    assert records["px-tinynet"]["version"] == "0.1.0"
    assert records["px-tinynet"]["provides"] == {"backbone": ["TinyNet"], "model": ["TinyNet_x1_0"]}
    assert records["px-tinynet"]["zoo"] == ["TinyNet_x1_0.digits"]
    assert "RuntimeError: px-broken-fixture is broken on purpose" in records["px-broken-fixture"]["error"]
    assert records["pxcore"]["error"] is None


def test_the_plugin_builds_and_the_cli_reports_both(installed):
    tinynet, broken = installed
    code = ("import pxcore\n"
            "m = pxcore.create_model('TinyNet_x1_0', num_classes=10)\n"
            "print(m.spec.distribution, m.num_classes, 'TinyNet_x1_0' in pxcore.list_models(installed=True))\n")
    result = _run(code, tinynet, broken)
    assert result.stdout.split() == ["px-tinynet", "10", "True"], result.stderr
    cli = _run("from pxcore.cli import main; main(['plugins'])", tinynet, broken)
    assert "px-broken-fixture" in cli.stdout and "FAILED" in cli.stdout
    assert "1 plugin(s) failed; the others work" in cli.stdout
    assert "1 zoo row: TinyNet_x1_0.digits" in cli.stdout


def test_px_models_lists_the_plugins_zoo_row(installed):
    tinynet, broken = installed
    cli = _run("from pxcore.cli import main; main(['models', '--dataset', 'digits'])", tinynet, broken)
    assert cli.returncode == 0, cli.stderr
    assert "classification: 1 rows, 1 installed" in cli.stdout
    row = next(line for line in cli.stdout.splitlines() if "TinyNet_x1_0.digits" in line)
    for figure in ("4.5 MB", "0.18 ms (CPU)", "top1=97.8", "top5=100.0", "yes (px-tinynet)"):
        assert figure in row, row
    code = ("import json, pxcore\n"
            "m = pxcore.create_model('TinyNet_x1_0')\n"
            "print(json.dumps([m.entry.id, m.num_classes, pxcore.model_info('TinyNet_x1_0')]))")
    result = _run(code, tinynet, broken)
    assert result.returncode == 0, result.stderr
    entry_id, num_classes, info = json.loads(result.stdout.splitlines()[-1])
    assert entry_id == "TinyNet_x1_0.digits" and num_classes == 10  # the row's class count
    assert info["dataset"] == "digits" and info["metrics"] == {"top1": 97.8, "top5": 100.0}
    assert info["installed"] and info["provided_by"] == "px-tinynet"


def test_the_plugin_passes_its_own_conformance_tests(installed, tmp_path):
    tinynet, broken = installed
    code = ("import sys, pytest\n"
            f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', {str(EXAMPLE / 'tests')!r}]))")
    result = _run(code, tinynet, broken, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout


def test_autoload_switch_turns_entry_points_off(installed):
    tinynet, broken = installed
    code = ("import os; os.environ['PXCORE_DISABLE_PLUGIN_AUTOLOAD'] = '1'\n" + LIST_PLUGINS)
    assert list(json.loads(_run(code, tinynet, broken).stdout)) == ["pxcore"]
    code = ("import os; os.environ['PXCORE_DISABLE_PLUGINS'] = 'px-broken-fixture'\n" + LIST_PLUGINS)
    records = json.loads(_run(code, tinynet, broken).stdout)
    assert records["px-broken-fixture"]["disabled"] and records["px-broken-fixture"]["error"] is None
