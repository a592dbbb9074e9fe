"""The feature pyramid (Lin et al., 2017) R-CNN's FPN rows use, built from whatever
levels a backbone reports: a 1x1 lateral conv per level, a top-down path adding each
coarser level upsampled, a 3x3 output conv per level, and one more level (P6) by
subsampling the coarsest output, which only the RPN reads."""

from __future__ import annotations

from collections.abc import Sequence

import paddle.nn.functional as F
from paddle import nn

from pxcore.errors import PxError
from pxcore.nn.features import FeatureInfo
from pxcore.nn.resize import upsample_nearest


class FPN(nn.Layer):
    """``input_shapes``: the backbone's levels, shallow to deep. ``out_features`` are
    P2.. (one per input) plus P(n+1) when ``extra_level``; all ``channels`` wide."""

    def __init__(self, input_shapes: Sequence[FeatureInfo], channels: int = 256,
                 extra_level: bool = True) -> None:
        super().__init__()
        if not input_shapes:
            raise PxError("FPN needs at least one input level from the backbone")
        if not isinstance(channels, int) or channels < 1:
            raise PxError(f"FPN: channels must be a positive integer, got {channels!r}")
        self.lateral_convs = nn.LayerList(
            [nn.Conv2D(f.channels, channels, 1) for f in input_shapes])
        self.output_convs = nn.LayerList(
            [nn.Conv2D(channels, channels, 3, padding=1) for _ in input_shapes])
        for conv in [*self.lateral_convs, *self.output_convs]:
            fan_out = conv.weight.shape[0] * conv.weight.shape[2] * conv.weight.shape[3]
            nn.initializer.XavierUniform(fan_out=fan_out)(conv.weight)
        self.extra_level = extra_level
        self.out_features = [FeatureInfo(f"P{i + 2}", channels, f.stride)
                             for i, f in enumerate(input_shapes)]
        if extra_level:
            last = input_shapes[-1].stride * 2
            self.out_features.append(FeatureInfo(f"P{len(input_shapes) + 2}", channels, last))

    def forward(self, features):
        laterals = [conv(f) for conv, f in zip(self.lateral_convs, features)]  # noqa: B905
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + upsample_nearest(laterals[i], 2, laterals[i - 1])
        outputs = [conv(x) for conv, x in zip(self.output_convs, laterals)]  # noqa: B905
        if self.extra_level:
            outputs.append(F.max_pool2d(outputs[-1], kernel_size=1, stride=2))
        return outputs
