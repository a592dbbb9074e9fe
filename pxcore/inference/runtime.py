"""What an inference runtime is, which are registered, and which can run a model.

A runtime is registered as a RuntimeSpec whose factory is a Runtime subclass, whose
``probe`` says whether it can run here, and whose metadata gives the devices it serves,
its ``priority`` per device (the order ``PXCORE_RUNTIME_CHOICE=priority`` takes them
in) and the graph ops it cannot run. Choosing one for a model (by name, or "auto" by
measuring) is runtime_choice's ``select_runtime``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PxError
from ..specs import PRECISIONS

logger = logging.getLogger("pxcore")

DEVICES = ("cpu", "gpu")


class RuntimeUnavailable(PxError):
    """A runtime that cannot run here, or cannot run this model; says why."""


class Runtime:
    """Loads an exported model directory and runs batches: arrays in, arrays out.

    ``thread_safe`` runtimes share one instance between threads; the others are
    ``clone()``d per thread by the Predictor.
    """

    name = "runtime"
    thread_safe = False

    def __init__(self, model_dir: Path, info: dict[str, Any], *, device: str = "cpu",
                 precision: str = "fp32", threads: int | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.info = info
        self.device = device  # as given ("gpu:1"), so that clone() keeps it
        self.device_type, self.device_id = parse_device(device)
        self.precision = precision
        self.threads = threads or default_threads()

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def clone(self) -> Runtime:
        """An instance for another thread (shares weights where the runtime can)."""
        return self if self.thread_safe else type(self)(
            self.model_dir, self.info, device=self.device, precision=self.precision, threads=self.threads)


ENV_THREADS = "PXCORE_NUM_THREADS"


def default_threads() -> int:
    """CPU threads a runtime uses when not told: ``PXCORE_NUM_THREADS``, else every core.

    Not OMP_NUM_THREADS: importing paddle sets that to 1 in its own process, so it would
    make every runtime single-threaded once paddle is loaded.
    """
    value = os.environ.get(ENV_THREADS)
    if not value:
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise PxError(f"{ENV_THREADS}={value!r} is not a positive whole number of threads; "
                      f"set it to e.g. 2, or unset it to use every core")
    return int(value)


def parse_device(device: str) -> tuple[str, int]:
    """``("cpu", 0)`` for "cpu", ``("gpu", 0)`` for "gpu", ``("gpu", 1)`` for "gpu:1"."""
    kind, sep, index = str(device).partition(":")
    if kind in DEVICES and not sep:
        return kind, 0
    if kind == "gpu" and index.isdigit():
        return kind, int(index)
    raise PxError(f"device {device!r} is not one of {', '.join(DEVICES)} (or gpu:N, the N-th GPU)")


def check_device(device: str, precision: str) -> None:
    """Raises PxError for a device or precision name that is not one."""
    parse_device(device)
    if precision not in PRECISIONS:
        raise PxError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")


def runtime_specs(device: str | None = None):
    from ..plugins import get_registry

    specs = get_registry().specs("runtime")
    kind = parse_device(device)[0] if device is not None else "cpu"
    if device is not None:
        specs = [s for s in specs if kind in s.metadata.get("devices", DEVICES)]
    return sorted(specs, key=lambda s: -float(s.metadata.get("priority", {}).get(kind, 0)))


def runtime_report(device: str | None = None) -> list[dict[str, Any]]:
    """Every registered runtime: devices, priority, usable here or why not."""
    rows = []
    for spec in runtime_specs(device):
        reason = spec.unavailable_reason()
        rows.append({"name": spec.name, "distribution": spec.distribution,
                     "devices": list(spec.metadata.get("devices", DEVICES)),
                     "priority": dict(spec.metadata.get("priority", {})),
                     "precisions": list(spec.metadata.get("precisions", ["fp32"])),
                     "usable": reason is None, "reason": reason, "summary": spec.summary,
                     "unsupported_ops": dict(spec.metadata.get("unsupported_ops", {}))})
    return rows


def unsupported_ops(spec, info: dict) -> dict[str, str]:
    """The ops of an exported graph (deploy.yml's ``graph_ops``) this runtime cannot
    run, each with why (the runtime spec's metadata ``unsupported_ops``)."""
    known = dict(spec.metadata.get("unsupported_ops", {}))
    used = (info.get("postprocess") or {}).get("graph_ops", [])
    return {op: known[op] for op in used if op in known}


def model_refusal(spec, info: dict, model_dir: Path) -> str | None:
    """Why this runtime cannot run this model (graph ops it cannot convert), or None."""
    missing = unsupported_ops(spec, info)
    if not missing:
        return None
    why = "; ".join(f"{op}: {reason}" for op, reason in missing.items())
    return (f"runtime {spec.name!r} cannot run {info.get('model', model_dir)}: its graph uses "
            f"ops it cannot convert ({why}). Use runtime='paddle' (Paddle Inference runs it whole)")
