"""Where ``runtime="auto"`` remembers its measured choices, and what they depend on.

A choice holds for one model on one machine with one set of runtimes: its key hashes
the model's content (program, weights, deploy.yml), each candidate runtime's version
(its distribution and the library it drives), the thread count, the device and
precision, and the CPU (model name and instruction-set flags). Change any of them and
the runtime is measured again. Each choice is one small JSON file,

    $XDG_CACHE_HOME/pxcore/runtime-choice/<key>.json     (~/.cache when unset)

written atomically, so that processes choosing at once never read half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from importlib import metadata
from pathlib import Path
from typing import Any

from .cache import atomic_write_bytes

FORMAT = "pxcore-runtime-choice/1"


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pxcore" / "runtime-choice"


_hashes: dict[tuple[str, int, int], str] = {}


def _file_hash(path: Path) -> str:
    """sha256 of a file, remembered for this process while its size and mtime stay."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _hashes:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _hashes[key] = digest.hexdigest()
    return _hashes[key]


def model_hash(model_dir: Path, info: dict[str, Any]) -> str:
    """One hash of the exported program, its weights and deploy.yml (every graph's
    program and weights, for an export of several)."""
    from .deploy_file import DEPLOY_FILE
    from .graphs import graph_files

    names = [*graph_files(info), DEPLOY_FILE]
    digest = hashlib.sha256()
    for name in names:
        path = Path(model_dir) / name
        digest.update(f"{name}:{_file_hash(path) if path.is_file() else 'missing'};".encode())
    return digest.hexdigest()[:32]


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except (metadata.PackageNotFoundError, ValueError):
        return None


def _plain_requirements(distribution: str) -> list[str]:
    """The names of a distribution's unconditional requirements (no extras, no markers)."""
    try:
        requires = metadata.requires(distribution) or []
    except (metadata.PackageNotFoundError, ValueError):
        return []
    return [re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0] for req in requires if ";" not in req]


def runtime_versions(spec) -> dict[str, str]:
    """What a runtime's speed depends on, read from package metadata (nothing imported):
    the version of the distribution that registered it and of the libraries it drives,
    its metadata ``libraries`` (e.g. paddlepaddle), else its distribution's plain
    requirements other than pxcore (e.g. onnxruntime and paddle2onnx)."""
    names = [spec.distribution] if spec.distribution else []
    libraries = spec.metadata.get("libraries")
    if libraries is None and spec.distribution:
        libraries = [name for name in _plain_requirements(spec.distribution) if name != "pxcore"]
    versions = {}
    for name in [*names, *(libraries or [])]:
        version = _version(name)
        if version is not None:
            versions[name] = version
    return versions


def cpu_identity() -> dict[str, str]:
    """The CPU's model name and a hash of its instruction-set flags (/proc/cpuinfo), or
    platform's machine and processor where there is no /proc/cpuinfo."""
    name = flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                field, _, value = line.partition(":")
                field = field.strip().lower()
                if field in ("model name", "hardware", "cpu model") and not name:
                    name = value.strip()
                elif field in ("flags", "features") and not flags:
                    flags = " ".join(sorted(value.split()))
                if name and flags:
                    break
    except OSError:
        pass
    name = name or f"{platform.machine()} {platform.processor()}".strip()
    return {"model": name, "machine": platform.machine(),
            "flags": hashlib.sha256(flags.encode()).hexdigest()[:16] if flags else ""}


def choice_key(model_dir: Path, info: dict[str, Any], specs, *, device: str, precision: str,
               threads: int) -> tuple[str, dict[str, Any]]:
    """(key, what it hashes) for choosing among ``specs`` for this model here."""
    depends = {"model": model_hash(model_dir, info),
               "runtimes": {spec.name: runtime_versions(spec) for spec in sorted(specs, key=lambda s: s.name)},
               "threads": int(threads), "device": device, "precision": precision, "cpu": cpu_identity()}
    text = json.dumps(depends, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32], depends


def load_choice(key: str) -> dict[str, Any] | None:
    """The choice stored under ``key``, or None (none stored, or unreadable)."""
    path = cache_dir() / f"{key}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT or not record.get("chosen"):
        return None
    return record


def store_choice(key: str, record: dict[str, Any]) -> Path | None:
    """Writes ``record`` under ``key``; None where the cache cannot be written (the
    choice then holds for this process only)."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return atomic_write_bytes(folder / f"{key}.json",
                                  json.dumps({"format": FORMAT, **record}, indent=1).encode())
    except OSError:
        return None
