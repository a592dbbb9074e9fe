"""Paddle Lite's tests, run where Lite runs: a Python 3.10 environment beside this one.

The main suite runs under the README's Python; Lite's wheels stop at 3.10. When a
Python 3.10 is found (PXCORE_PYTHON310, python3.10 on PATH, or pyenv's), this builds
(once, in .venv-lite) the environment of requirements-lite.txt and runs the Lite
plugin's tests in it; otherwise it skips, saying so. It also skips, with pip's words,
where pip cannot reach the package index to build that environment (offline). Runs at
the same time take turns on .venv-lite through a lock file beside it
(.venv-lite.lock): one builds while the others wait, and none rebuilds it while
another's tests run in it. Every subprocess has a time limit. Its every-classifier
parity runs once per distinct network (classifier_families.py: a row that is another's network at
another depth or width has no operator the other lacks); `tox -e lite` runs every row.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from classifier_families import representatives

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-lite"
LITE_PARITY = ("plugins/runtime-lite/tests/test_runtime_lite.py::"
               "test_every_installed_classifier_runs_in_lite_with_parity")
# rows whose network another row's covers (computed at collection, seeing every plugin)
STOOD_FOR = [name for names in representatives().values() for name in names]
# seconds: creating the venv; pip installing paddlepaddle and the plugins (a few
# hundred MB); the Lite plugin's tests
VENV_TIMEOUT, PIP_TIMEOUT, TESTS_TIMEOUT = 300, 1800, 1800
# pip's own limits per request. With no retries pip says nothing of a failed connection
# ("No matching distribution found" only); a retry makes it warn with the cause, which
# network_failure() reads.
PIP_RETRIES = ["--timeout", "30", "--retries", "2"]
# What pip (urllib3, requests) says when it cannot reach an index: no network, no DNS,
# a refused or timed out connection, a proxy that does not answer.
NETWORK_ERRORS = ("NewConnectionError", "Failed to establish a new connection",
                  "Temporary failure in name resolution", "Name or service not known",
                  "nodename nor servname", "Network is unreachable", "No route to host",
                  "Connection refused", "ConnectTimeoutError", "ReadTimeoutError",
                  "Max retries exceeded", "ProxyError", "Could not fetch URL")


def find_python310() -> str | None:
    candidates = [os.environ.get("PXCORE_PYTHON310"), shutil.which("python3.10"),
                  *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python3.10"))),
                  "/usr/bin/python3.10", "/usr/local/bin/python3.10"]
    for candidate in filter(None, candidates):
        try:
            version = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                                     capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if version.returncode == 0 and version.stdout.strip() == "(3, 10)":
            return candidate
    return None


def network_failure(output: str) -> str | None:
    """The first line of pip's output saying it could not reach an index, or None."""
    for line in output.splitlines():
        if any(marker in line for marker in NETWORK_ERRORS):
            return line.strip()
    return None


def _text(stream: str | bytes | None) -> str:
    return stream.decode(errors="replace") if isinstance(stream, bytes) else stream or ""


def _build(python: str, wanted: str) -> None:
    """.venv-lite afresh with requirements-lite.txt; the stamp last, so that a build
    cut short (killed, timed out, offline) is rebuilt by the next run."""
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(VENV)], check=True, timeout=VENV_TIMEOUT)
    command = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", *PIP_RETRIES, "-r",
               "requirements-lite.txt"]
    try:
        pip = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=PIP_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        output = _text(exc.stdout) + _text(exc.stderr)
        if (line := network_failure(output)) is not None:
            pytest.skip(f"pip cannot reach the package index to build {VENV.name} (offline?): {line}")
        raise AssertionError(f"installing the Lite environment took over {PIP_TIMEOUT} s:\n"
                             f"{output[-3000:]}") from None
    if pip.returncode != 0:
        if (line := network_failure(pip.stdout + pip.stderr)) is not None:
            pytest.skip(f"pip cannot reach the package index to build {VENV.name} (offline?): {line}")
        raise AssertionError(f"installing the Lite environment failed:\n{pip.stderr[-3000:]}")
    (VENV / "requirements-lite.txt").write_text(wanted)


@contextlib.contextmanager
def locked(lock: Path, fresh: Callable[[], bool], build: Callable[[], None]) -> Iterator[None]:
    """Hold ``lock`` (a file, fcntl.flock) shared while what it guards is in use, and
    exclusively to ``build()`` it when not ``fresh()``: concurrent runs build it once,
    one at a time, and none removes it while another uses it."""
    import fcntl  # POSIX, as the environment's bin/python is

    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            if not fresh():
                fcntl.flock(handle, fcntl.LOCK_EX)  # waits for the users to finish
                if not fresh():  # unless a run that held it first built it meanwhile
                    build()
                fcntl.flock(handle, fcntl.LOCK_SH)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def lite_environment(python: str) -> Iterator[Path]:
    """.venv-lite's python, built with requirements-lite.txt when that changed, kept
    from being rebuilt by another run until the block ends."""
    stamp = VENV / "requirements-lite.txt"
    wanted = (ROOT / "requirements-lite.txt").read_text()
    with locked(VENV.with_name(VENV.name + ".lock"),
                fresh=lambda: stamp.is_file() and stamp.read_text() == wanted,
                build=lambda: _build(python, wanted)):
        yield VENV / "bin" / "python"


@pytest.mark.slow
def test_lite_under_python310():
    python = find_python310()
    if python is None:
        pytest.skip("no Python 3.10 here (set PXCORE_PYTHON310): Paddle Lite's wheels need it")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PXCORE_")}
    deselect = [arg for name in STOOD_FOR for arg in ("--deselect", f"{LITE_PARITY}[{name}]")]
    with lite_environment(python) as venv_python:
        result = subprocess.run([str(venv_python), "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                                 *deselect, "plugins/runtime-lite"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=TESTS_TIMEOUT)
    print(result.stdout[-3000:])
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    assert "Paddle Lite cannot run here" not in result.stdout, "Lite did not run in its environment"
    assert f"{len(STOOD_FOR)} deselected" in result.stdout, (
        f"the Lite environment's classifiers differ from these: {STOOD_FOR} were to be deselected")


# The pieces above, checked without Python 3.10 or a network.

def test_pip_offline_is_recognised_from_its_own_output(tmp_path):
    """Real pip output (-q, with the retries _build asks for), from an index that refuses
    connections: no network is used."""
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-cache-dir", "-d", str(tmp_path),
         "--isolated", "--index-url", "http://127.0.0.1:9/simple", *PIP_RETRIES, "--timeout", "5",
         "pxcore-no-such-package-anywhere"],
        capture_output=True, text=True, timeout=120)
    assert pip.returncode != 0
    assert network_failure(pip.stdout + pip.stderr) is not None, pip.stdout + pip.stderr


def test_a_failure_that_is_not_the_network_is_not_taken_for_one():
    output = ("ERROR: Could not find a version that satisfies the requirement paddlelite==9.9 "
              "(from versions: 2.12, 2.13rc0)\nERROR: No matching distribution found for paddlelite==9.9\n")
    assert network_failure(output) is None


def test_concurrent_runs_build_once_and_never_under_a_user(tmp_path):
    lock, stamp = tmp_path / "env.lock", tmp_path / "env" / "stamp"
    events: list[str] = []
    guard = threading.Lock()

    def note(event: str) -> None:
        with guard:
            events.append(event)

    def build() -> None:  # what _build does: remove, write slowly, stamp last
        note("build start")
        shutil.rmtree(stamp.parent, ignore_errors=True)
        time.sleep(0.3)
        stamp.parent.mkdir()
        stamp.write_text("v1")
        note("build end")

    def run() -> None:
        with locked(lock, fresh=stamp.is_file, build=build):
            note(f"use start, stamp {stamp.read_text() if stamp.is_file() else 'missing'}")
            time.sleep(0.2)
            note("use end")

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert events.count("build start") == 1 and events.count("use end") == 3, events
    # the build is alone: no use between its start and end, none before it, and every
    # use saw it whole
    start = events.index("build start")
    assert events[start + 1] == "build end" and not any(e.startswith("use") for e in events[:start])
    assert [e for e in events if e.startswith("use start")] == ["use start, stamp v1"] * 3, events

    # a rebuild (the stamp removed) waits for the run using it
    stamp.unlink()
    events.clear()
    using, release = threading.Event(), threading.Event()

    def user() -> None:
        with locked(lock, fresh=lambda: True, build=build):
            note("hold start")
            using.set()
            release.wait(30)
            note("hold end")

    holder = threading.Thread(target=user)
    holder.start()
    using.wait(30)
    rebuild = threading.Thread(target=run)
    rebuild.start()
    time.sleep(0.3)
    assert "build start" not in events, events  # still waiting for the user
    release.set()
    holder.join(30), rebuild.join(30)
    assert events == ["hold start", "hold end", "build start", "build end", "use start, stamp v1",
                      "use end"], events
