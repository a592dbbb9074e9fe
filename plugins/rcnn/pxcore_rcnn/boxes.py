"""Anchors and the box coder R-CNN's two stages share, in numpy (no paddle: the
inference pipeline, ``pipeline.py``, runs them beside any runtime).

Boxes are (x1, y1, x2, y2) in input pixels with width x2 - x1 (PaddleDetection 2.x,
``pixel_offset=False``). Training builds the same anchors from its feature maps with
Paddle ops (``rpn.grid_anchors``); ``level_anchors`` is their numpy twin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

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


def level_anchors(height: int, width: int, stride: int, cells: np.ndarray) -> np.ndarray:
    """Anchors for every cell of a ``height`` x ``width`` feature map, ordered (y, x,
    anchor) as the RPN's outputs are read: ``[H * W * A, 4]`` float32."""
    ys = np.arange(height, dtype=np.float32) * np.float32(stride)
    xs = np.arange(width, dtype=np.float32) * np.float32(stride)
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    shifts = np.stack([xx, yy, xx, yy], axis=-1).reshape(-1, 1, 4)
    return (shifts + cells[None].astype(np.float32)).reshape(-1, 4)


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


def decode(deltas: np.ndarray, rois: np.ndarray, weights: Sequence[float],
           max_log_scale: float = MAX_LOG_SCALE) -> np.ndarray:
    """Boxes from ``deltas`` ([R, K, 4], K sets per RoI, e.g. one per class) applied to
    ``rois`` ([R, 4]): ``[R, K, 4]`` float32. Width and height scales are clipped at
    ``max_log_scale`` before exp(), as Paddle's box coder does."""
    deltas = np.asarray(deltas, np.float32)
    rois = np.asarray(rois, np.float32)
    wx, wy, ww, wh = (np.float32(w) for w in weights)
    widths = (rois[:, 2] - rois[:, 0])[:, None]
    heights = (rois[:, 3] - rois[:, 1])[:, None]
    cx = rois[:, 0][:, None] + np.float32(0.5) * widths
    cy = rois[:, 1][:, None] + np.float32(0.5) * heights
    dx, dy = deltas[..., 0] / wx, deltas[..., 1] / wy
    limit = np.float32(max_log_scale)
    dw = np.minimum(deltas[..., 2] / ww, limit)
    dh = np.minimum(deltas[..., 3] / wh, limit)
    px, py = dx * widths + cx, dy * heights + cy
    pw, ph = np.exp(dw) * widths, np.exp(dh) * heights
    half_w, half_h = np.float32(0.5) * pw, np.float32(0.5) * ph
    return np.stack([px - half_w, py - half_h, px + half_w, py + half_h], axis=-1)


def clip_to_image(boxes: np.ndarray, height: float, width: float) -> np.ndarray:
    """``boxes`` [..., 4] clipped to an image of ``height`` x ``width``."""
    limits = np.array([width, height, width, height], np.float32)
    return np.clip(boxes, np.float32(0), limits).astype(np.float32)
