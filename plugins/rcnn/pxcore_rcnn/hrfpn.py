"""HRNetV2p's pyramid (Sun et al., 2019), the neck of the zoo's HRNet_W18-FPN rows: every
branch upsampled bilinearly to the finest (``upsample_bilinear``: exactly
``F.interpolate``, in ops every runtime runs) and concatenated, a 1x1 reduction, then
average pooling to each pyramid level and a 3x3 conv per level (no biases), as
PaddleDetection builds it."""

from __future__ import annotations

from collections.abc import Sequence

import paddle
import paddle.nn.functional as F
from paddle import nn

from pxcore.errors import PxError
from pxcore.nn.features import FeatureInfo
from pxcore.nn.resize import fit_to, upsample_bilinear


class HRFPN(nn.Layer):
    """``input_shapes``: the branches, finest first, each half the previous
    resolution. ``out_features``: one more level than inputs (for the RPN)."""

    def __init__(self, input_shapes: Sequence[FeatureInfo], channels: int = 256,
                 extra_levels: int = 1) -> None:
        super().__init__()
        strides = [f.stride for f in input_shapes]
        if not strides or any(b != a * 2 for a, b in zip(strides, strides[1:])):  # noqa: B905
            raise PxError(f"HRFPN needs branches each at twice the previous stride, got {strides}")
        self.reduction = nn.Conv2D(sum(f.channels for f in input_shapes), channels, 1, bias_attr=False)
        count = len(input_shapes) + extra_levels
        self.fpn_convs = nn.LayerList(
            [nn.Conv2D(channels, channels, 3, padding=1, bias_attr=False) for _ in range(count)])
        self.out_features = [FeatureInfo(f"P{i + 2}", channels, strides[0] * 2 ** i)
                             for i in range(count)]

    def forward(self, features):
        joined = [features[0]] + [fit_to(upsample_bilinear(f, 2 ** i), features[0], 2 ** i - 1)
                                  for i, f in enumerate(features[1:], 1)]
        x = self.reduction(paddle.concat(joined, axis=1))
        levels = [x] + [F.avg_pool2d(x, 2 ** i, 2 ** i) for i in range(1, len(self.fpn_convs))]
        return [conv(level) for conv, level in zip(self.fpn_convs, levels)]  # noqa: B905
