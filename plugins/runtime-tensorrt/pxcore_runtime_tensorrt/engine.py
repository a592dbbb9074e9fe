"""Building TensorRT engines from ONNX, and caching them on disk.

An engine is specific to the TensorRT version, the GPU, the precision and the
optimisation profile, so all of them are in its cache key with the ONNX file's content.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pxcore.deploy.cache import atomic_write_bytes
from pxcore.deploy.runtime import RuntimeUnavailable

logger = logging.getLogger("pxcore")

WORKSPACE_BYTES = 1 << 30


def engine_cache_key(onnx_path: Path, *, trt_version: str, device: str, precision: str,
                     profile: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    with open(onnx_path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    digest.update(json.dumps({"tensorrt": trt_version, "device": device, "precision": precision,
                              "profile": {k: [list(s) for s in v] for k, v in sorted(profile.items())}},
                             sort_keys=True).encode())
    return digest.hexdigest()[:24]


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pxcore" / "tensorrt"


def build_engine(trt, onnx_path: Path, profile: dict[str, tuple], precision: str) -> bytes:
    """A serialized engine for the ONNX model (TensorRT 8.6 and 10 APIs)."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"):  # implicit in TensorRT 10
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeUnavailable(f"TensorRT's ONNX parser rejected {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if precision == "fp16":
        if not builder.platform_has_fast_fp16:
            raise RuntimeUnavailable("this GPU has no fast FP16; use precision='fp32'")
        config.set_flag(trt.BuilderFlag.FP16)
    trt_profile = builder.create_optimization_profile()
    for name, (low, best, high) in profile.items():
        trt_profile.set_shape(name, low, best, high)
    config.add_optimization_profile(trt_profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeUnavailable(f"TensorRT could not build an engine for {onnx_path} (see its log above)")
    return bytes(serialized)


def engine_path(trt, onnx_path: Path, profile: dict[str, tuple], precision: str, device: str) -> Path:
    key = engine_cache_key(onnx_path, trt_version=trt.__version__, device=device,
                           precision=precision, profile=profile)
    return cache_dir() / f"{key}.engine"


def _deserialize(deserialize: Callable[[bytes], Any], data: bytes) -> tuple[Any, str]:
    """(engine, "") or (None, why not): TensorRT returns None (and logs) for bytes it
    cannot read; some versions raise instead."""
    try:
        engine = deserialize(data)
    except Exception as exc:  # noqa: BLE001 - whatever TensorRT raises, say it
        return None, f"{type(exc).__name__}: {exc}"
    return engine, "" if engine is not None else "TensorRT could not deserialize it (see its log above)"


def load_engine(path: Path, build: Callable[[], bytes], deserialize: Callable[[bytes], Any]):
    """The engine cached at ``path``, or built by ``build()`` and cached there.

    A cached file that does not deserialize (truncated, corrupt, or written by another
    TensorRT) is deleted with a warning naming it and built again, once. An engine that
    does not deserialize right after it was built is an error naming the file."""
    if path.is_file():
        engine, why = _deserialize(deserialize, path.read_bytes())
        if engine is not None:
            return engine
        logger.warning("the cached TensorRT engine %s is unusable (%s); deleting it and building it "
                       "again", path, why)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise RuntimeUnavailable(f"the cached TensorRT engine {path} is unusable ({why}) and "
                                     f"cannot be deleted ({exc}); delete it, and it will be rebuilt") from exc
    data = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)  # processes building the same engine: either whole file stays
    engine, why = _deserialize(deserialize, data)
    if engine is None:
        path.unlink(missing_ok=True)
        raise RuntimeUnavailable(f"TensorRT built an engine it cannot deserialize ({why}); "
                                 f"it was not kept at {path}")
    return engine


def cached_engine(trt, onnx_path: Path, profile: dict[str, tuple], precision: str, device: str,
                  deserialize: Callable[[bytes], Any]):
    """The deserialized engine for the ONNX model, from the cache or built into it."""
    return load_engine(engine_path(trt, onnx_path, profile, precision, device),
                       lambda: build_engine(trt, onnx_path, profile, precision), deserialize)
