"""Anchors and the box coder R-CNN's two stages share, in numpy (no paddle: the
inference pipeline, ``pipeline.py``, runs them beside any runtime).

Boxes are (x1, y1, x2, y2) in input pixels. Two conventions, one per generation of the
code that trained a checkpoint (``box_convention``):

- ``"corner"`` (PaddleDetection 2.x, ``pixel_offset=False``): coordinates are points, a
  box is x2 - x1 wide, boxes are clipped to [0, width];
- ``"pixel"`` (PaddleDetection 0.x, PaddleX 1.x: the zoo's archives): coordinates index
  pixels, a box covers x2 - x1 + 1 of them, boxes are clipped to [0, width - 1].

Anchors likewise (``anchor_convention``): ``"exact"`` sizes centred on each cell's corner
(2.x), or ``"rounded"``, Paddle 1.x's ``anchor_generator``. Training builds the same
anchors from its feature maps with Paddle ops (``rpn.grid_anchors``); ``level_anchors``
is their numpy twin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from pxcore.errors import PxError

BOX_CONVENTIONS = ("corner", "pixel")
ANCHOR_CONVENTIONS = ("exact", "rounded")

# Deltas larger than this (log of 1000/16) would overflow exp() when decoded.
MAX_LOG_SCALE = math.log(1000.0 / 16)


def check_conventions(box_convention: str, anchor_convention: str) -> None:
    if box_convention not in BOX_CONVENTIONS:
        raise PxError(f"R-CNN: box_convention must be one of {', '.join(BOX_CONVENTIONS)} "
                      f"('pixel' for PaddleDetection 0.x / PaddleX 1.x weights), got {box_convention!r}")
    if anchor_convention not in ANCHOR_CONVENTIONS:
        raise PxError(f"R-CNN: anchor_convention must be one of {', '.join(ANCHOR_CONVENTIONS)} "
                      f"('rounded' for PaddleDetection 0.x / PaddleX 1.x weights), "
                      f"got {anchor_convention!r}")


def box_offset(box_convention: str) -> np.float32:
    """What a box's extent adds to x2 - x1: one pixel in the pixel convention."""
    return np.float32(1.0 if box_convention == "pixel" else 0.0)


def cell_anchors(sizes: Sequence[float], ratios: Sequence[float], stride: float = 1.0,
                 convention: str = "exact") -> np.ndarray:
    """``[len(sizes) * len(ratios), 4]`` anchors of the cell at the origin, size-major
    (the order pxcore's RPN output channels follow); ratio is height / width.

    ``"exact"``: ``size``**2 in area, centred on the cell's corner (PaddleDetection 2.x).
    ``"rounded"``: Paddle 1.x's ``anchor_generator`` (paddle/phi/kernels/cpu/
    anchor_generator_kernel.cc, as PaddleX 1.3's rpn_head.py lines 115 and 473 call it
    with offset 0.5): a base of round(sqrt(stride**2 / ratio)) by round(that * ratio)
    pixels scaled by size / stride, centred (stride - 1) / 2 px into the cell, as
    pixel boxes (x2 = x1 + width - 1)."""
    cells = []
    for size in sizes:
        for ratio in ratios:
            if convention == "rounded":
                base_w = math.floor(math.sqrt(stride * stride / ratio) + 0.5)  # C's round()
                base_h = math.floor(base_w * ratio + 0.5)
                width, height = size / stride * base_w, size / stride * base_h
                centre = 0.5 * (stride - 1)
                cells.append([centre - 0.5 * (width - 1), centre - 0.5 * (height - 1),
                              centre + 0.5 * (width - 1), centre + 0.5 * (height - 1)])
            else:
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


def encode(boxes: np.ndarray, anchors: np.ndarray, weights: Sequence[float],
           box_convention: str = "corner") -> np.ndarray:
    """Regression targets taking ``anchors`` to ``boxes`` (both [N, 4])."""
    wx, wy, ww, wh = weights
    one = box_offset(box_convention)
    aw = np.maximum(anchors[:, 2] - anchors[:, 0] + one, 1e-3)
    ah = np.maximum(anchors[:, 3] - anchors[:, 1] + one, 1e-3)
    ax, ay = anchors[:, 0] + 0.5 * aw, anchors[:, 1] + 0.5 * ah
    bw = np.maximum(boxes[:, 2] - boxes[:, 0] + one, 1e-3)
    bh = np.maximum(boxes[:, 3] - boxes[:, 1] + one, 1e-3)
    bx, by = boxes[:, 0] + 0.5 * bw, boxes[:, 1] + 0.5 * bh
    return np.stack([wx * (bx - ax) / aw, wy * (by - ay) / ah,
                     ww * np.log(bw / aw), wh * np.log(bh / ah)], axis=1).astype(np.float32)


def decode(deltas: np.ndarray, rois: np.ndarray, weights: Sequence[float],
           max_log_scale: float | None = MAX_LOG_SCALE,
           box_convention: str = "corner") -> np.ndarray:
    """Boxes from ``deltas`` ([R, K, 4], K sets per RoI, e.g. one per class) applied to
    ``rois`` ([R, 4]): ``[R, K, 4]`` float32. Width and height scales are clipped at
    ``max_log_scale`` (None: not clipped) before exp(), as Paddle's box coders do.

    In the pixel convention a RoI is x2 - x1 + 1 wide, centred at x1 + width / 2, and a
    box's x2 is its x1 + width - 1 (Paddle 1.x's ``generate_proposals`` and ``box_coder``
    with ``box_normalized=False``)."""
    deltas = np.asarray(deltas, np.float32)
    rois = np.asarray(rois, np.float32)
    one = box_offset(box_convention)
    wx, wy, ww, wh = (np.float32(w) for w in weights)
    widths = (rois[:, 2] - rois[:, 0] + one)[:, None]
    heights = (rois[:, 3] - rois[:, 1] + one)[:, None]
    cx = rois[:, 0][:, None] + np.float32(0.5) * widths
    cy = rois[:, 1][:, None] + np.float32(0.5) * heights
    dx, dy = deltas[..., 0] / wx, deltas[..., 1] / wy
    dw, dh = deltas[..., 2] / ww, deltas[..., 3] / wh
    if max_log_scale is not None:
        limit = np.float32(max_log_scale)
        dw, dh = np.minimum(dw, limit), np.minimum(dh, limit)
    px, py = dx * widths + cx, dy * heights + cy
    pw, ph = np.exp(dw) * widths, np.exp(dh) * heights
    half_w, half_h = np.float32(0.5) * pw, np.float32(0.5) * ph
    return np.stack([px - half_w, py - half_h, px + half_w - one, py + half_h - one], axis=-1)


def clip_to_image(boxes: np.ndarray, height: float, width: float,
                  box_convention: str = "corner") -> np.ndarray:
    """``boxes`` [..., 4] clipped to an image of ``height`` x ``width`` (its last pixel,
    in the pixel convention)."""
    one = box_offset(box_convention)
    limits = np.array([width - one, height - one, width - one, height - one], np.float32)
    return np.clip(boxes, np.float32(0), limits).astype(np.float32)
