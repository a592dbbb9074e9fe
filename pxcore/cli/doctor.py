"""``px doctor``: the versions, devices and runtimes this environment has."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

from ..plugins import get_registry, plugin_records
from .table import format_table

# Distributions worth reporting; a missing one is shown as such, not as an error.
PACKAGES = ("pxcore", "paddlepaddle", "paddlepaddle-gpu", "pluggy", "attrs", "numpy", "PyYAML",
            "opencv-python-headless", "opencv-python", "pycocotools", "paddle2onnx",
            "onnxruntime", "onnxruntime-gpu", "tensorrt", "paddlelite", "visualdl")


def add_parser(sub, name):
    return sub.add_parser(name, help="show versions, devices and runtimes found here")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def paddle_report() -> list[tuple[str, str]]:
    """What Paddle says about itself and the devices it can use."""
    try:
        import paddle
    except Exception as exc:  # not installed, or a broken install
        return [("paddle", f"cannot import ({type(exc).__name__}: {exc}); "
                           "pip install 'pxcore[cpu]' or paddlepaddle-gpu")]
    rows = [("paddle", paddle.__version__),
            ("compiled with CUDA", str(paddle.device.is_compiled_with_cuda()))]
    if paddle.device.is_compiled_with_cuda():
        rows.append(("CUDA devices", str(paddle.device.cuda.device_count())))
    rows.append(("current device", paddle.device.get_device()))
    try:
        from paddle.base import core
        rows.append(("oneDNN (MKLDNN)", str(core.is_compiled_with_mkldnn())))
        rows.append(("TensorRT in Paddle Inference", str(core.is_compiled_with_tensorrt())))
    except Exception:  # internal API moved: leave the rows out
        pass
    return rows


def run(args) -> int:
    print(f"python  {sys.version.split()[0]} on {platform.platform()} ({platform.machine()})")
    print("\npackages")
    print(format_table(["distribution", "version"],
                       [[d, _version(d) or "not installed"] for d in PACKAGES], indent="  "))
    print("\npaddle")
    print(format_table(["what", "value"], [list(r) for r in paddle_report()], indent="  "))
    print("\nruntimes")
    runtimes = get_registry().specs("runtime")
    if runtimes:
        rows = []
        for spec in runtimes:
            reason = spec.unavailable_reason()
            rows.append([spec.name, spec.distribution, "usable" if reason is None else f"no: {reason}"])
        print(format_table(["runtime", "from", "status"], rows, indent="  "))
    else:
        print("  none registered yet")
    records = plugin_records()
    failed = [r for r in records if r.error]
    print(f"\nplugins: {len(records)} loaded, {len(failed)} failed"
          + (f" ({', '.join(r.name for r in failed)}; see `px plugins`)" if failed else ""))
    return 0
