"""What a backbone reports about one output level (detectron2's ShapeSpec)."""

from __future__ import annotations

import attrs


@attrs.frozen
class FeatureInfo:
    """A feature map's name, channel count and stride relative to the input image."""

    name: str
    channels: int
    stride: int
