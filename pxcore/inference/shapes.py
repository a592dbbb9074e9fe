"""An export's input shapes, derived from deploy.yml: the nominal size it runs at
(timing it, as ``runtime="auto"`` and ``px bench`` do), and the ranges for engines
compiled per range of input shapes (TensorRT, directly or through Paddle Inference)."""

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
    ``max_scale`` times deploy.yml's ``input_size`` (height, width), optimal at it.

    An input of a graph inside a split export (pxcore.inference.graphs) may carry its
    own rule: ``stride: s``, a feature map whose height and width are the image's
    range divided by ``s`` (rounded up); ``max_count: n``, rows (RoIs) from 1 to ``n``,
    optimal at ``n``. NoShapeRule names the input and axis that has no rule."""
    shape = list(spec["shape"])
    stride = int(spec.get("stride", 1))
    low, best, high = [], [], []
    for axis, dim in enumerate(shape):
        if dim != -1:
            low.append(dim), best.append(dim), high.append(dim)
        elif axis == 0 and "max_count" in spec:
            count = int(spec["max_count"])
            low.append(1), best.append(count), high.append(count)
        elif axis == 0:
            low.append(1), best.append(1), high.append(max_batch)
        elif axis in (2, 3) and input_size:
            size = int(input_size[axis - 2])
            sizes = (min(min_size, size), size, max(size, int(size * max_scale)))
            for ends, value in zip((low, best, high), sizes, strict=True):
                ends.append(-(-value // stride))
        else:
            raise NoShapeRule(f"input {spec['name']!r} of shape {shape}: dynamic axis {axis} has no "
                              "range rule (deploy.yml gives no input_size)")
    return low, best, high


def typical_input_size(transforms) -> tuple[int, int]:
    """The network input a 640x480 photo becomes through ``transforms`` (a Compose), for
    models whose input size follows the image (R-CNN's short side 800, padded: 800x1088)."""
    import numpy as np

    sample = {"image": np.zeros((480, 640, 3), np.uint8), "im_shape": np.array([480, 640], np.float32),
              "scale_factor": np.ones(2, np.float32)}
    height, width = np.asarray(transforms(sample, np.random.default_rng(0))["image"]).shape[:2]
    return int(height), int(width)


def nominal_input_size(info: dict[str, Any]) -> tuple[int, int]:
    """(height, width) an export runs at: deploy.yml's ``input_size``, else what its
    pre-processing makes of a 640x480 photo."""
    if info.get("input_size"):
        height, width = info["input_size"]
        return int(height), int(width)
    from ..transforms import compose

    return typical_input_size(compose(info["transforms"]))
