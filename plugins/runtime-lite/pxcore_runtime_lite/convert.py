"""Paddle Lite's optimizer, run where a crash cannot take the caller down.

The optimizer segfaults on some operators instead of refusing them (measured:
``flatten_contiguous_range`` crashed FlattenContiguousRangeOp::InferType), so each
step runs in a child process: first its own support check, whose table lists the
model's operators, then the conversion.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from pxcore.deploy.cache import atomic_output
from pxcore.deploy.runtime import RuntimeUnavailable

# Operators Lite's optimizer crashes on although its check accepts them, and the fix.
KNOWN_CRASHES = {
    "flatten_contiguous_range": "paddle.flatten in the model; use paddle.reshape instead",
}

_CHECK = """
import sys
from paddlelite.lite import Opt
opt = Opt()
opt.set_model_file(sys.argv[1]); opt.set_param_file(sys.argv[2]); opt.set_valid_places("x86")
opt.check_if_model_supported(True)
"""
_CONVERT = """
import sys
from paddlelite.lite import Opt
opt = Opt()
opt.set_model_file(sys.argv[1]); opt.set_param_file(sys.argv[2]); opt.set_valid_places("x86")
opt.set_model_type("naive_buffer"); opt.set_optimize_out(sys.argv[3])
opt.run()
"""
_OP_ROW = re.compile(r"^\s*([a-z][a-z0-9_]*)\s+Y[\sY]*$", re.M)


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True)


def _how(result: subprocess.CompletedProcess) -> str:
    if result.returncode < 0:
        return f"crashed ({signal.Signals(-result.returncode).name})"
    return f"exited with {result.returncode}"


def model_ops(program: Path, params: Path) -> list[str]:
    """The operators of a program, from the table Lite's support check prints."""
    result = _run(_CHECK, str(program), str(params))
    log = result.stdout + result.stderr
    # The check ends the process itself (exit status 1 even for a good model), so its
    # verdict is read from what it printed.
    if "OPs in the input model" not in log:
        raise RuntimeUnavailable(f"Paddle Lite's check of {program} {_how(result)}:\n{log.strip()[-1500:]}")
    if "supports this model" not in log:
        raise RuntimeUnavailable(f"Paddle Lite does not support {program}:\n{log.strip()[-1500:]}")
    table = log.split("OPs in the input model", 1)[1]
    return sorted({match.group(1) for match in _OP_ROW.finditer(table)})


def convert(program: Path, params: Path, target_prefix: Path) -> Path:
    """``target_prefix``.nb from the program, or a RuntimeUnavailable naming the problem."""
    ops = model_ops(program, params)
    crashing = [op for op in ops if op in KNOWN_CRASHES]
    if crashing:
        why = "; ".join(f"{op} ({KNOWN_CRASHES[op]})" for op in crashing)
        raise RuntimeUnavailable(f"Paddle Lite's optimizer crashes on {why}; re-export the model "
                                 "without it, or use another runtime")
    target = target_prefix.with_name(target_prefix.name + ".nb")
    # The optimizer writes <prefix>.nb: it gets a prefix in a folder of its own, and the
    # file is renamed into place whole (processes may convert the same model at once).
    with atomic_output(target) as produced:
        result = _run(_CONVERT, str(program), str(params), str(produced.parent / target_prefix.name))
        if result.returncode != 0 or not produced.is_file():
            raise RuntimeUnavailable(
                f"Paddle Lite's optimizer {_how(result)} converting {program} (its operators: "
                f"{', '.join(ops)}); use another runtime.\n{(result.stdout + result.stderr).strip()[-1500:]}")
    return target


def cache_key(model_dir: Path, files: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    for name in (files["legacy_program"], files["legacy_params"]):
        with open(model_dir / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    digest.update(f"paddlelite={metadata.version('paddlelite')}".encode())
    return digest.hexdigest()[:24]


def lite_model(model_dir: Path, info: dict[str, Any]) -> Path:
    """The .nb file for an exported model, converted once and cached."""
    files = info["files"]
    if "legacy_program" not in files:
        raise RuntimeUnavailable(
            f"{model_dir} has no pre-PIR program, which Paddle Lite's optimizer needs; export with "
            "legacy=True (px export ... --legacy)")
    key = cache_key(model_dir, files)
    user_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pxcore" / "lite"
    folders = [model_dir / "lite", user_cache]
    for folder in folders:
        if (folder / f"model-{key}.nb").is_file():
            return folder / f"model-{key}.nb"
    errors = []
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return convert(model_dir / files["legacy_program"], model_dir / files["legacy_params"],
                           folder / f"model-{key}")
        except OSError as exc:
            errors.append(f"{folder}: {exc}")
    raise RuntimeUnavailable(f"nowhere to write the Lite model: {'; '.join(errors)}")
