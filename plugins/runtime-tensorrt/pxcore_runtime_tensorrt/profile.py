"""The optimisation profile TensorRT needs for dynamic inputs, from deploy.yml."""

from __future__ import annotations

from typing import Any

from pxcore.deploy.shapes import NoShapeRule, derived_range, nominal_input_size


def optimization_profile(info: dict[str, Any], max_batch: int = 8,
                         max_scale: float = 2.0) -> dict[str, tuple[tuple[int, ...], ...]]:
    """{input name: (min shape, opt shape, max shape)}, by the core's rule for shape
    ranges (``pxcore.deploy.shapes.derived_range``, which Paddle-TensorRT uses too),
    around the nominal size: deploy.yml's ``input_size``, else what the export's
    pre-processing makes of a 640x480 photo (R-CNN: 800x1088)."""
    nominal = nominal_input_size(info)
    profile = {}
    for spec in info["inputs"]:
        try:
            low, best, high = derived_range(spec, nominal, max_batch=max_batch, max_scale=max_scale)
        except NoShapeRule as exc:
            raise ValueError(str(exc)) from None
        profile[spec["name"]] = (tuple(low), tuple(best), tuple(high))
    return profile


def fits(profile: dict[str, tuple], name: str, shape: tuple[int, ...]) -> bool:
    low, _, high = profile[name]
    return len(shape) == len(low) and all(lo <= d <= hi for lo, d, hi in zip(low, shape, high, strict=True))
