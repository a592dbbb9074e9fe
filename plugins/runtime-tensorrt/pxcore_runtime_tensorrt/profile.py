"""The optimisation profile TensorRT needs for dynamic inputs, from deploy.yml."""

from __future__ import annotations

from typing import Any

MIN_SIZE = 32


def optimization_profile(info: dict[str, Any], max_batch: int = 8,
                         max_scale: float = 2.0) -> dict[str, tuple[tuple[int, ...], ...]]:
    """{input name: (min shape, opt shape, max shape)}. Fixed dimensions stay fixed; a
    dynamic batch runs 1..max_batch (optimal at 1, the latency case); a dynamic height
    or width runs from MIN_SIZE to ``max_scale`` times the nominal input size, optimal
    at the nominal size."""
    nominal = info.get("input_size") or [224, 224]
    profile = {}
    for spec in info["inputs"]:
        shape = list(spec["shape"])
        low, best, high = [], [], []
        for axis, dim in enumerate(shape):
            if dim != -1:
                low.append(dim), best.append(dim), high.append(dim)
            elif axis == 0:
                low.append(1), best.append(1), high.append(max_batch)
            elif axis in (2, 3):
                size = int(nominal[axis - 2])
                low.append(MIN_SIZE), best.append(size), high.append(max(size, int(size * max_scale)))
            else:
                raise ValueError(f"input {spec['name']!r}: no profile rule for dynamic axis {axis} of {shape}")
        profile[spec["name"]] = (tuple(low), tuple(best), tuple(high))
    return profile


def fits(profile: dict[str, tuple], name: str, shape: tuple[int, ...]) -> bool:
    low, _, high = profile[name]
    return len(shape) == len(low) and all(lo <= d <= hi for lo, d, hi in zip(low, shape, high, strict=True))
