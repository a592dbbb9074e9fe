"""Anchors and the box coder R-CNN's two stages share.

Boxes are (x1, y1, x2, y2) in input pixels with width x2 - x1 (PaddleDetection 2.x,
``pixel_offset=False``). Anchors are built with Paddle ops from the feature map's
shape, so the exported graph makes them for any image size; the training targets
read the same anchors back as numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import paddle

# Deltas larger than this (log of 1000/16) would overflow exp() when decoded.
MAX_LOG_SCALE = math.log(1000.0 / 16)


def cell_anchors(sizes: Sequence[float], ratios: Sequence[float]) -> np.ndarray:
    """``[len(sizes) * len(ratios), 4]`` anchors centred on 0, size-major (the order
    PaddleDetection's RPN output channels follow); ratio is height / width."""
    cells = []
    for size in sizes:
        for ratio in ratios:
            width = math.sqrt(size * size / ratio)
            height = ratio * width
            cells.append([-width / 2, -height / 2, width / 2, height / 2])
    return np.asarray(cells, np.float32)


def grid_anchors(feature, stride: int, cells: np.ndarray):
    """Anchors for every cell of ``feature`` ([B, C, H, W]), ordered (y, x, anchor) as
    ``generate_proposals`` reads the scores: ``[H * W * A, 4]``."""
    height, width = paddle.shape(feature)[2], paddle.shape(feature)[3]
    ys = paddle.arange(0, height, dtype="float32") * float(stride)
    xs = paddle.arange(0, width, dtype="float32") * float(stride)
    yy, xx = paddle.meshgrid(ys, xs)
    shifts = paddle.stack([xx, yy, xx, yy], axis=-1).reshape([-1, 1, 4])
    return (shifts + paddle.to_tensor(cells)).reshape([-1, 4])


def encode(boxes: np.ndarray, anchors: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    """Regression targets taking ``anchors`` to ``boxes`` (both [N, 4])."""
    wx, wy, ww, wh = weights
    aw = np.maximum(anchors[:, 2] - anchors[:, 0], 1e-3)
    ah = np.maximum(anchors[:, 3] - anchors[:, 1], 1e-3)
    ax, ay = anchors[:, 0] + 0.5 * aw, anchors[:, 1] + 0.5 * ah
    bw = np.maximum(boxes[:, 2] - boxes[:, 0], 1e-3)
    bh = np.maximum(boxes[:, 3] - boxes[:, 1], 1e-3)
    bx, by = boxes[:, 0] + 0.5 * bw, boxes[:, 1] + 0.5 * bh
    return np.stack([wx * (bx - ax) / aw, wy * (by - ay) / ah,
                     ww * np.log(bw / aw), wh * np.log(bh / ah)], axis=1).astype(np.float32)


def decode(deltas, rois, weights: Sequence[float]):
    """Boxes from ``deltas`` ([R, K, 4], one set per class) applied to ``rois`` ([R, 4]),
    in Paddle ops (the exported graph decodes too): ``[R, K, 4]``."""
    wx, wy, ww, wh = weights
    widths = (rois[:, 2] - rois[:, 0]).unsqueeze(1)
    heights = (rois[:, 3] - rois[:, 1]).unsqueeze(1)
    cx = rois[:, 0].unsqueeze(1) + 0.5 * widths
    cy = rois[:, 1].unsqueeze(1) + 0.5 * heights
    dx, dy = deltas[:, :, 0] / wx, deltas[:, :, 1] / wy
    dw = paddle.clip(deltas[:, :, 2] / ww, max=MAX_LOG_SCALE)
    dh = paddle.clip(deltas[:, :, 3] / wh, max=MAX_LOG_SCALE)
    px, py = dx * widths + cx, dy * heights + cy
    pw, ph = paddle.exp(dw) * widths, paddle.exp(dh) * heights
    return paddle.stack([px - 0.5 * pw, py - 0.5 * ph, px + 0.5 * pw, py + 0.5 * ph], axis=-1)


def clip_to_image(boxes, height, width):
    """``boxes`` [..., 4] clipped to an image of ``height`` x ``width`` (tensors)."""
    x1 = paddle.minimum(paddle.maximum(boxes[..., 0], paddle.zeros_like(boxes[..., 0])), width)
    y1 = paddle.minimum(paddle.maximum(boxes[..., 1], paddle.zeros_like(boxes[..., 1])), height)
    x2 = paddle.minimum(paddle.maximum(boxes[..., 2], paddle.zeros_like(boxes[..., 2])), width)
    y2 = paddle.minimum(paddle.maximum(boxes[..., 3], paddle.zeros_like(boxes[..., 3])), height)
    return paddle.stack([x1, y1, x2, y2], axis=-1)
