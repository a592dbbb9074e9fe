"""The layers YOLOv3 and PP-YOLO build their necks from: ConvBNLayer, CoordConv, SPP,
DropBlock.

Parameter names are PaddleDetection 2.6's (``conv.weight``, ``batch_norm._mean``; a
CoordConv's or an SPP's conv is ``conv.conv.weight``...), so its weights map key for key.
Everything here exports to a static program and to ONNX with dynamic batch and image
size: CoordConv builds its grid from the input's runtime shape, and DropBlock is left out
of the traced program in eval mode.
"""

from __future__ import annotations

from collections.abc import Sequence

import paddle
import paddle.nn.functional as F
from paddle import nn

from pxcore.errors import PxError
from pxcore.nn.activations import leaky_relu

# The coordinate range PaddleDetection 2.6's add_coord computes: arange(w) / ((w - 1.) * 2.)
# - 1. runs from -1 to -0.5, not -1 to 1 (operator precedence). A PP-YOLO that is to give
# PaddleDetection's outputs from its weights passes this to CoordConv.
PADDLEDETECTION_COORD_RANGE = (-1.0, -0.5)


ACTIVATIONS = ("leaky", "mish", None)


class ConvBNLayer(nn.Layer):
    """Bias-free conv, BatchNorm, then ``act``: "leaky" (slope 0.1, YOLOv3's), "mish"
    (PP-YOLOv2's), or None. ``padding`` defaults to ``(kernel_size - 1) // 2``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, padding: int | None = None, groups: int = 1,
                 act: str | None = "leaky") -> None:
        super().__init__()
        if act not in ACTIVATIONS:
            raise PxError(f"ConvBNLayer: act {act!r} is not one of {ACTIVATIONS}")
        self.act = act
        self.conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                              padding=(kernel_size - 1) // 2 if padding is None else padding,
                              groups=groups, bias_attr=False)
        self.batch_norm = nn.BatchNorm2D(out_channels)

    def forward(self, x):
        x = self.batch_norm(self.conv(x))
        if self.act == "leaky":
            return leaky_relu(x)
        if self.act == "mish":
            return F.mish(x)
        return x


def coord_channels(x, low: float = -1.0, high: float = 1.0):
    """Two channels [N, 2, H, W] for ``x`` [N, C, H, W]: x then y, each running linearly
    from ``low`` (first column / row) to ``high`` (last). Built from ``paddle.shape(x)``
    so that an exported program keeps H and W dynamic."""
    shape = paddle.shape(x)
    base = paddle.zeros_like(x[:, :1])  # [N, 1, H, W]: broadcasting does the expanding

    def ramp(size):
        steps = paddle.cast(paddle.arange(size), x.dtype)
        span = paddle.cast(paddle.maximum(size - 1, paddle.ones_like(size)), x.dtype)
        return steps * ((high - low) / span) + low

    gx = base + paddle.reshape(ramp(shape[3]), [1, 1, 1, -1])
    gy = base + paddle.reshape(ramp(shape[2]), [1, 1, -1, 1])
    return paddle.concat([gx, gy], axis=1)


class CoordConv(nn.Layer):
    """CoordConv (Liu et al., 2018): the input gains normalised x and y coordinate
    channels, then a ConvBNLayer. ``coord_range`` is the coordinates' (first, last) value;
    ``PADDLEDETECTION_COORD_RANGE`` for PaddleDetection's PP-YOLO weights."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1,
                 stride: int = 1, padding: int | None = None,
                 coord_range: tuple[float, float] = (-1.0, 1.0), act: str | None = "leaky") -> None:
        super().__init__()
        self.coord_range = tuple(float(v) for v in coord_range)
        self.conv = ConvBNLayer(in_channels + 2, out_channels, kernel_size, stride, padding,
                                act=act)

    def forward(self, x):
        return self.conv(paddle.concat([x, coord_channels(x, *self.coord_range)], axis=1))


class SPP(nn.Layer):
    """Spatial pyramid pooling as in YOLOv3-SPP / PP-YOLO: the input and its stride-1 max
    pools (sizes ``pool_sizes``, SAME padding) concatenated, then a ConvBNLayer from
    ``in_channels * (1 + len(pool_sizes))`` to ``out_channels``. (PaddleDetection's
    ``SPP`` takes the concatenation's channels instead of the input's.)"""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1,
                 pool_sizes: Sequence[int] = (5, 9, 13), act: str | None = "leaky") -> None:
        super().__init__()
        self.pool_sizes = tuple(pool_sizes)
        if any(size % 2 == 0 for size in self.pool_sizes):
            raise PxError(f"SPP: pool_sizes {self.pool_sizes} must be odd, so that SAME "
                          "padding keeps the size")
        self.conv = ConvBNLayer(in_channels * (1 + len(self.pool_sizes)), out_channels,
                                kernel_size, act=act)

    def forward(self, x):
        pooled = [F.max_pool2d(x, size, stride=1, padding=size // 2) for size in self.pool_sizes]
        return self.conv(paddle.concat([x, *pooled], axis=1))


class DropBlock(nn.Layer):
    """DropBlock (Ghiasi et al., 2018), per channel: in training, seeds drawn with
    probability gamma where a ``block_size`` square fits inside the map, each zeroing its
    square, the survivors scaled by count / count_ones so that the mean is kept; gamma is
    the paper's, so about ``1 - keep_prob`` of the map is dropped. The identity in eval
    mode, decided in Python: an exported program has no trace of it."""

    def __init__(self, block_size: int = 3, keep_prob: float = 0.9) -> None:
        super().__init__()
        if block_size < 1 or block_size % 2 == 0:
            raise PxError(f"DropBlock: block_size {block_size} must be odd and positive "
                          "(a square centred on its seed)")
        if not 0.0 < keep_prob <= 1.0:
            raise PxError(f"DropBlock: keep_prob {keep_prob} must be in (0, 1]")
        self.block_size = block_size
        self.keep_prob = keep_prob

    def forward(self, x):
        if not self.training or self.keep_prob == 1.0:
            return x
        height, width = x.shape[2], x.shape[3]
        radius = self.block_size // 2
        valid_h, valid_w = height - 2 * radius, width - 2 * radius
        if valid_h <= 0 or valid_w <= 0:  # no block fits: nothing to drop
            return x
        gamma = ((1.0 - self.keep_prob) / self.block_size ** 2
                 * height * width / (valid_h * valid_w))
        seeds = paddle.cast(paddle.rand([x.shape[0], x.shape[1], valid_h, valid_w]) < gamma,
                            x.dtype)
        seeds = F.pad(seeds, [radius, radius, radius, radius])
        keep = 1.0 - F.max_pool2d(seeds, self.block_size, stride=1, padding=radius)
        scale = keep.numel().astype(x.dtype) / paddle.clip(keep.sum(), min=1.0)
        return x * keep * scale
