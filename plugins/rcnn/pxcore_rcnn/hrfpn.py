"""HRNetV2p's pyramid (Sun et al., 2019), the neck of the zoo's HRNet_W18-FPN rows: every
branch upsampled bilinearly to the finest and concatenated, a 1x1 reduction, then
average pooling to each pyramid level and a 3x3 conv per level (no biases), as
PaddleDetection builds it.

How the branches are upsampled (``upsample``, one of ``UPSAMPLING``), by whose code:
"bilinear": PaddleDetection 2.x (``F.interpolate(scale_factor=2**i, mode="bilinear")``,
half-pixel centres; ``upsample_bilinear``); "bilinear_align_corners": PaddleDetection
0.x and PaddleX 1.x, which trained the zoo's archives (fluid ``resize_bilinear`` to the
finest branch's size with its default ``align_corners=True``; ``resize_bilinear``).
Both are written in ops every runtime runs, ONNX included."""

from __future__ import annotations

from collections.abc import Sequence

import paddle
import paddle.nn.functional as F
from paddle import nn

from pxcore.errors import PxError
from pxcore.nn.features import FeatureInfo
from pxcore.nn.resize import fit_to, resize_bilinear, upsample_bilinear

UPSAMPLING = ("bilinear", "bilinear_align_corners")


class HRFPN(nn.Layer):
    """``input_shapes``: the branches, finest first, each half the previous
    resolution. ``out_features``: one more level than inputs (for the RPN).
    ``upsample`` changes no tensor."""

    def __init__(self, input_shapes: Sequence[FeatureInfo], channels: int = 256,
                 extra_levels: int = 1, upsample: str = "bilinear") -> None:
        super().__init__()
        strides = [f.stride for f in input_shapes]
        if not strides or any(b != a * 2 for a, b in zip(strides, strides[1:])):  # noqa: B905
            raise PxError(f"HRFPN needs branches each at twice the previous stride, got {strides}")
        if upsample not in UPSAMPLING:
            raise PxError(f"HRFPN: upsample must be one of {', '.join(UPSAMPLING)}, got {upsample!r}")
        self.upsample = upsample
        self.reduction = nn.Conv2D(sum(f.channels for f in input_shapes), channels, 1, bias_attr=False)
        count = len(input_shapes) + extra_levels
        self.fpn_convs = nn.LayerList(
            [nn.Conv2D(channels, channels, 3, padding=1, bias_attr=False) for _ in range(count)])
        self.out_features = [FeatureInfo(f"P{i + 2}", channels, strides[0] * 2 ** i)
                             for i in range(count)]

    def _to_finest(self, x, factor: int, finest):
        if self.upsample == "bilinear_align_corners":
            return resize_bilinear(x, finest, align_corners=True)
        return fit_to(upsample_bilinear(x, factor), finest, factor - 1)

    def forward(self, features):
        joined = [features[0]] + [self._to_finest(f, 2 ** i, features[0])
                                  for i, f in enumerate(features[1:], 1)]
        x = self.reduction(paddle.concat(joined, axis=1))
        levels = [x] + [F.avg_pool2d(x, 2 ** i, 2 ** i) for i in range(1, len(self.fpn_convs))]
        return [conv(level) for conv, level in zip(self.fpn_convs, levels)]  # noqa: B905
