"""Converting an exported model to ONNX, safely and once.

paddle2onnx aborts the process (SIGABRT) on an operator it cannot convert, so it runs
in a child process; its log is searched for the operators it named. The ONNX file is
cached beside the export (or in the user cache if that is read-only) as
``model-CONTENT-CONVERTER.onnx``: CONTENT a hash of the program and the weights,
CONVERTER one of the converter's version and the opset.

``export`` converts where this plugin is installed, so the export carries its ONNX
file. A deploy-only machine (no paddle, so no working paddle2onnx) runs that file as it
is: without the converter it takes any conversion of the same content.
"""

from __future__ import annotations

import hashlib
import importlib.util
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

OPSET = 13


def content_key(model_dir: Path, info: dict[str, Any]) -> str:
    """A hash of the exported program and weights."""
    digest = hashlib.sha256()
    for name in (info["files"]["program"], info["files"]["params"]):
        with open(model_dir / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def converter_available() -> str | None:
    """None when paddle2onnx can convert here, else why not (it imports paddle)."""
    missing = [m for m in ("paddle2onnx", "paddle") if importlib.util.find_spec(m) is None]
    if missing:
        return f"{' and '.join(missing)} is not installed"
    return None


def converter_key(opset: int = OPSET) -> str:
    """A hash of the converter's version and the opset (the converter must be installed)."""
    version = f"paddle2onnx={metadata.version('paddle2onnx')};opset={opset}"
    return hashlib.sha256(version.encode()).hexdigest()[:8]


def required_opset(info: dict[str, Any]) -> int:
    """The opset a graph converts at: ours, or the graph's own where it needs a later one
    (deploy.yml's ``onnx_opset``; R-CNN's RoIAlign needs 16)."""
    return max(OPSET, int(info.get("onnx_opset") or OPSET))


def cache_key(model_dir: Path, info: dict[str, Any], opset: int | None = None) -> str:
    opset = required_opset(info) if opset is None else opset
    return f"{content_key(model_dir, info)}-{converter_key(opset)}"


def _cache_dirs(model_dir: Path) -> list[Path]:
    user_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pxcore" / "onnx"
    return [model_dir / "onnx", user_cache]


def onnx_model(model_dir: Path, info: dict[str, Any], opset: int | None = None) -> Path:
    """The ONNX file for an exported model (or one graph of it: ``info["files"]`` names
    the program), converting it if no cached one fits. Where the converter cannot run,
    any cached conversion of this program and these weights fits (the export's own,
    typically)."""
    opset = required_opset(info) if opset is None else opset
    why_not = converter_available()
    if why_not is not None:
        content = content_key(model_dir, info)
        for folder in _cache_dirs(model_dir):
            found = sorted(folder.glob(f"model-{content}-*.onnx")) if folder.is_dir() else []
            if found:
                return found[-1]
        raise RuntimeUnavailable(
            f"{model_dir} carries no ONNX conversion of its model, and none can be made here "
            f"({why_not}; paddle2onnx needs paddle). Export it where pxcore-runtime-onnx is "
            "installed (the export then carries model-*.onnx under onnx/) and copy that, or "
            "pip install paddle2onnx paddlepaddle here")
    key = cache_key(model_dir, info, opset)
    for folder in _cache_dirs(model_dir):
        candidate = folder / f"model-{key}.onnx"
        if candidate.is_file():
            return candidate
    errors = []
    for folder in _cache_dirs(model_dir):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"model-{key}.onnx"
            convert(model_dir / info["files"]["program"], model_dir / info["files"]["params"],
                    target, opset)
            return target
        except OSError as exc:  # a read-only export: try the user cache
            errors.append(f"{folder}: {exc}")
    raise RuntimeUnavailable(f"nowhere to write the ONNX model: {'; '.join(errors)}")


_CHILD = """
import sys, paddle2onnx
paddle2onnx.export(sys.argv[1], sys.argv[2], sys.argv[3], opset_version=int(sys.argv[4]),
                   enable_onnx_checker=True, optimize_tool="None")
"""
_UNSUPPORTED = re.compile(r"not supported yet, including ([\w, ]+)")


def convert(program: Path, params: Path, target: Path, opset: int = OPSET) -> None:
    """paddle2onnx in a child process; the ONNX file appears only if it succeeded, whole
    (written under a name of its own and renamed: processes may convert at once)."""
    with atomic_output(target) as partial:
        result = subprocess.run([sys.executable, "-c", _CHILD, str(program), str(params),
                                 str(partial), str(opset)], capture_output=True, text=True)
        log = result.stdout + result.stderr
        if result.returncode != 0 or not partial.is_file():
            ops = sorted({op.strip() for match in _UNSUPPORTED.findall(log)
                          for op in match.split(",") if op.strip()})
            how = (f"it aborted ({signal.Signals(-result.returncode).name})" if result.returncode < 0
                   else f"it exited with {result.returncode}")
            what = f" on operators it does not support: {', '.join(ops)}" if ops else ""
            raise RuntimeUnavailable(
                f"paddle2onnx cannot convert {program.parent}: {how}{what}. Use another runtime "
                f"(runtime='paddle').\nLast lines of its log:\n{log.strip()[-1500:]}")
