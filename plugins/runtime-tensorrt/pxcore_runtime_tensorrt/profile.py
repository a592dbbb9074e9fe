"""The optimisation profile TensorRT needs for dynamic inputs, from deploy.yml."""

from __future__ import annotations

from typing import Any

from pxcore.deploy.shapes import NoShapeRule, derived_range

DEFAULT_INPUT_SIZE = (224, 224)  # where deploy.yml names none: the zoo's classifiers'


def optimization_profile(info: dict[str, Any], max_batch: int = 8,
                         max_scale: float = 2.0) -> dict[str, tuple[tuple[int, ...], ...]]:
    """{input name: (min shape, opt shape, max shape)}, by the core's rule for shape
    ranges (``pxcore.deploy.shapes.derived_range``, which Paddle-TensorRT uses too), with
    224x224 as the nominal size where deploy.yml names none."""
    nominal = info.get("input_size") or DEFAULT_INPUT_SIZE
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
