"""Shape ranges for engines compiled per range of input shapes (TensorRT, directly or
through Paddle Inference): one rule, derived from deploy.yml."""

from __future__ import annotations

from typing import Any

MIN_SIZE = 32  # the smallest height and width a derived range admits
MAX_SCALE = 2.0  # the largest, as a multiple of deploy.yml's input_size
MAX_BATCH = 8


class NoShapeRule(ValueError):
    """A dynamic dimension with nothing to derive its range from."""


def derived_range(spec: dict[str, Any], input_size: Any, *, max_batch: int = MAX_BATCH,
                  max_scale: float = MAX_SCALE, min_size: int = MIN_SIZE,
                  ) -> tuple[list[int], list[int], list[int]]:
    """(min, opt, max) shapes of one deploy.yml input. Fixed dimensions stay fixed; a
    dynamic batch runs 1..``max_batch`` (optimal at 1, the latency case); a dynamic
    height or width runs from ``min_size`` (or the nominal size, when smaller) to
    ``max_scale`` times deploy.yml's ``input_size`` (height, width), optimal at it. NoShapeRule names the input and axis that has no rule."""
    shape = list(spec["shape"])
    low, best, high = [], [], []
    for axis, dim in enumerate(shape):
        if dim != -1:
            low.append(dim), best.append(dim), high.append(dim)
        elif axis == 0:
            low.append(1), best.append(1), high.append(max_batch)
        elif axis in (2, 3) and input_size:
            size = int(input_size[axis - 2])
            low.append(min(min_size, size)), best.append(size)
            high.append(max(size, int(size * max_scale)))
        else:
            raise NoShapeRule(f"input {spec['name']!r} of shape {shape}: dynamic axis {axis} has no "
                              "range rule (deploy.yml gives no input_size)")
    return low, best, high
