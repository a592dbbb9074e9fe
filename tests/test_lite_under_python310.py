"""Paddle Lite's tests, run where Lite runs: a Python 3.10 environment beside this one.

The main suite runs under the README's Python; Lite's wheels stop at 3.10. When a
Python 3.10 is found (PXCORE_PYTHON310, python3.10 on PATH, or pyenv's), this builds
(once, in .venv-lite) the environment of requirements-lite.txt and runs the Lite
plugin's tests in it; otherwise it skips, saying so. Its every-classifier parity runs
once per distinct network (classifier_families.py: a row that is another's network at
another depth or width has no operator the other lacks); `tox -e lite` runs every row.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from classifier_families import representatives

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-lite"
LITE_PARITY = ("plugins/runtime-lite/tests/test_runtime_lite.py::"
               "test_every_installed_classifier_runs_in_lite_with_parity")
# rows whose network another row's covers (computed at collection, seeing every plugin)
STOOD_FOR = [name for names in representatives().values() for name in names]

pytestmark = pytest.mark.slow


def find_python310() -> str | None:
    candidates = [os.environ.get("PXCORE_PYTHON310"), shutil.which("python3.10"),
                  *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python3.10"))),
                  "/usr/bin/python3.10", "/usr/local/bin/python3.10"]
    for candidate in filter(None, candidates):
        try:
            version = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                                     capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if version.returncode == 0 and version.stdout.strip() == "(3, 10)":
            return candidate
    return None


def _environment(python: str) -> Path:
    """.venv-lite with requirements-lite.txt, rebuilt when that file changes."""
    stamp = VENV / "requirements-lite.txt"
    wanted = (ROOT / "requirements-lite.txt").read_text()
    if stamp.is_file() and stamp.read_text() == wanted:
        return VENV / "bin" / "python"
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(VENV)], check=True)
    pip = subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", "-r",
                          "requirements-lite.txt"], cwd=ROOT, capture_output=True, text=True)
    assert pip.returncode == 0, f"installing the Lite environment failed:\n{pip.stderr[-3000:]}"
    stamp.write_text(wanted)
    return VENV / "bin" / "python"


def test_lite_under_python310():
    python = find_python310()
    if python is None:
        pytest.skip("no Python 3.10 here (set PXCORE_PYTHON310): Paddle Lite's wheels need it")
    venv_python = _environment(python)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PXCORE_")}
    deselect = [arg for name in STOOD_FOR for arg in ("--deselect", f"{LITE_PARITY}[{name}]")]
    result = subprocess.run([str(venv_python), "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                             *deselect, "plugins/runtime-lite"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=1800)
    print(result.stdout[-3000:])
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    assert "Paddle Lite cannot run here" not in result.stdout, "Lite did not run in its environment"
    assert f"{len(STOOD_FOR)} deselected" in result.stdout, (
        f"the Lite environment's classifiers differ from these: {STOOD_FOR} were to be deselected")
