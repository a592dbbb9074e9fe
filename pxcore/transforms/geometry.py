"""Geometry that every transform shares, so boxes, polygons and label maps follow the
pixels the same way whichever transform moves them.

Two layers: numpy maths on boxes (``[N, 4]`` x1, y1, x2, y2 in pixels, continuous
coordinates: a W-wide image spans 0..W) and polygons (per instance, a list of flat
``[x, y, x, y, ...]`` lists); and sample-level moves (``resize_sample``,
``crop_sample``, ``pad_sample``, ``flip_sample``) that apply one change to the image and
to every aligned key a sample carries. Boxes that a move pushes out of the image or
makes degenerate are dropped together with their class, score, crowd, difficult and
polygon entries (``take_instances``).

Samples only gain ``im_shape``/``scale_factor`` updates when they already carry them, so
classification samples pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np

#: Per-instance keys, aligned with ``gt_bbox`` rows.
INSTANCE_KEYS = ("gt_bbox", "gt_class", "gt_score", "is_crowd", "difficult", "gt_poly")
#: Value of ignored pixels in a ``label_map``; also what padding writes there.
IGNORE_INDEX = 255


# -- boxes ---------------------------------------------------------------------------

def as_boxes(boxes: Any) -> np.ndarray:
    """``[N, 4]`` float32, also for an empty list."""
    return np.asarray(boxes, np.float32).reshape(-1, 4)


def box_area(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` ([N, 4]) with every box in ``b`` ([M, 4]): [N, M].

    The one IoU of the project: crops and the detection metrics both use it."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def clip_boxes(boxes: np.ndarray, height: float, width: float) -> np.ndarray:
    boxes = as_boxes(boxes).copy()
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, width)
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, height)
    return boxes


def valid_boxes(boxes: np.ndarray, min_size: float = 0.0) -> np.ndarray:
    """Mask of boxes wider and taller than ``min_size``."""
    boxes = as_boxes(boxes)
    return (boxes[:, 2] - boxes[:, 0] > min_size) & (boxes[:, 3] - boxes[:, 1] > min_size)


def scale_boxes(boxes: np.ndarray, sx: float, sy: float) -> np.ndarray:
    return as_boxes(boxes) * np.array([sx, sy, sx, sy], np.float32)


def shift_boxes(boxes: np.ndarray, dx: float, dy: float) -> np.ndarray:
    return as_boxes(boxes) + np.array([dx, dy, dx, dy], np.float32)


def flip_boxes(boxes: np.ndarray, size: float, axis: int) -> np.ndarray:
    """Mirror in an image ``size`` wide (axis 1, left-right) or tall (axis 0, up-down)."""
    boxes = as_boxes(boxes).copy()
    cols = [0, 2] if axis == 1 else [1, 3]
    boxes[:, cols] = size - boxes[:, cols[::-1]]
    return boxes


# -- polygons ------------------------------------------------------------------------

def map_polys(polys: Sequence, fn: Callable[[np.ndarray], np.ndarray]) -> list:
    """Apply ``fn`` to every polygon as a [K, 2] array; back to flat float lists."""
    return [[np.asarray(fn(np.asarray(p, np.float64).reshape(-1, 2)), np.float64).reshape(-1).tolist()
             for p in instance] for instance in polys]


def scale_polys(polys: Sequence, sx: float, sy: float) -> list:
    return map_polys(polys, lambda p: p * [sx, sy])


def shift_polys(polys: Sequence, dx: float, dy: float) -> list:
    return map_polys(polys, lambda p: p + [dx, dy])


def flip_polys(polys: Sequence, size: float, axis: int) -> list:
    column = 0 if axis == 1 else 1

    def flip(p):
        p = p.copy()
        p[:, column] = size - p[:, column]
        return p
    return map_polys(polys, flip)


def affine_polys(polys: Sequence, matrix: np.ndarray) -> list:
    """Apply a 2x3 affine matrix (as cv2.warpAffine takes) to every point."""
    matrix = np.asarray(matrix, np.float64)
    return map_polys(polys, lambda p: p @ matrix[:, :2].T + matrix[:, 2])


def _clip_polygon(points: np.ndarray, x1: float, y1: float, x2: float, y2: float) -> np.ndarray:
    """Sutherland-Hodgman against an axis-aligned rectangle (a convex window, so any
    polygon clips correctly, concave ones possibly with zero-width bridges)."""
    edges = [(0, x1, True), (0, x2, False), (1, y1, True), (1, y2, False)]
    for axis, bound, lower in edges:
        if len(points) == 0:
            break
        inside = points[:, axis] >= bound if lower else points[:, axis] <= bound
        out = []
        for i in range(len(points)):
            cur, prev = points[i], points[i - 1]
            if inside[i] != inside[i - 1]:
                t = (bound - prev[axis]) / (cur[axis] - prev[axis])
                out.append(prev + t * (cur - prev))
            if inside[i]:
                out.append(cur)
        points = np.array(out, np.float64).reshape(-1, 2)
    return points


def clip_polys(polys: Sequence, height: float, width: float) -> list:
    """Clip every polygon to the image; polygons left with under 3 points disappear
    (an instance may end with no polygon at all)."""
    out = []
    for instance in polys:
        kept = []
        for p in instance:
            clipped = _clip_polygon(np.asarray(p, np.float64).reshape(-1, 2), 0, 0, width, height)
            if len(clipped) >= 3:
                kept.append(clipped.reshape(-1).tolist())
        out.append(kept)
    return out


def polys_to_boxes(polys: Sequence) -> np.ndarray:
    """Tight box around each instance's polygons (zeros for an instance with none)."""
    boxes = np.zeros((len(polys), 4), np.float32)
    for i, instance in enumerate(polys):
        points = [np.asarray(p, np.float64).reshape(-1, 2) for p in instance if len(p) >= 2]
        if points:
            points = np.concatenate(points)
            boxes[i] = [*points.min(axis=0), *points.max(axis=0)]
    return boxes


# -- samples -------------------------------------------------------------------------

def take_instances(sample: dict[str, Any], keep: np.ndarray) -> dict[str, Any]:
    """Keep the instances ``keep`` (a mask or indices) in every per-instance key."""
    keep = np.asarray(keep)
    index = np.flatnonzero(keep) if keep.dtype == bool else keep.astype(np.int64)
    for key in INSTANCE_KEYS:
        if key not in sample:
            continue
        if key == "gt_poly":
            sample[key] = [sample[key][i] for i in index]
        else:
            sample[key] = np.asarray(sample[key])[index]
    return sample


def _set_shape(sample: dict[str, Any]) -> None:
    if "im_shape" in sample:
        sample["im_shape"] = np.array(sample["image"].shape[:2], np.float32)


def _drop_degenerate(sample: dict[str, Any]) -> dict[str, Any]:
    keep = valid_boxes(sample["gt_bbox"]) if "gt_bbox" in sample else None
    if "gt_poly" in sample:
        has_poly = np.array([len(instance) > 0 for instance in sample["gt_poly"]], bool)
        keep = has_poly if keep is None else keep & has_poly
    if keep is not None and not keep.all():
        take_instances(sample, keep)
    return sample


def resize_sample(sample: dict[str, Any], width: int, height: int, interp: int) -> dict[str, Any]:
    """Resize to ``width`` x ``height``; labels by nearest neighbour; boxes, polygons and
    ``scale_factor`` (``[sy, sx]``) scaled by what this resize applied."""
    image = sample["image"]
    h, w = image.shape[:2]
    sx, sy = width / w, height / h
    sample["image"] = cv2.resize(image, (width, height), interpolation=interp)
    if "label_map" in sample:
        sample["label_map"] = cv2.resize(np.ascontiguousarray(sample["label_map"]), (width, height),
                                         interpolation=cv2.INTER_NEAREST)
    if "gt_bbox" in sample:
        sample["gt_bbox"] = scale_boxes(sample["gt_bbox"], sx, sy)
    if "gt_poly" in sample:
        sample["gt_poly"] = scale_polys(sample["gt_poly"], sx, sy)
    if "scale_factor" in sample:
        sample["scale_factor"] = (np.asarray(sample["scale_factor"], np.float32)
                                  * np.array([sy, sx], np.float32))
    _set_shape(sample)
    return sample


def crop_sample(sample: dict[str, Any], x: int, y: int, width: int, height: int,
                keep: np.ndarray | None = None) -> dict[str, Any]:
    """Cut ``[y:y+height, x:x+width]``. Boxes are clipped to the crop; those left empty,
    and those outside ``keep`` when given (e.g. a centre constraint), are dropped."""
    sample["image"] = sample["image"][y:y + height, x:x + width]
    if "label_map" in sample:
        sample["label_map"] = sample["label_map"][y:y + height, x:x + width]
    if keep is not None:
        take_instances(sample, keep)
    if "gt_bbox" in sample:
        sample["gt_bbox"] = clip_boxes(shift_boxes(sample["gt_bbox"], -x, -y), height, width)
    if "gt_poly" in sample:
        sample["gt_poly"] = clip_polys(shift_polys(sample["gt_poly"], -x, -y), height, width)
    _set_shape(sample)
    return _drop_degenerate(sample)


def pad_sample(sample: dict[str, Any], height: int, width: int, x: int = 0, y: int = 0,
               im_value: Any = 0, label_value: int = IGNORE_INDEX,
               update_im_shape: bool = True) -> dict[str, Any]:
    """Place the image at (``x``, ``y``) in a ``width`` x ``height`` canvas of ``im_value``
    (per channel); the label map's new pixels get ``label_value``."""
    image = sample["image"]
    h, w = image.shape[:2]
    canvas = np.empty((height, width, *image.shape[2:]), image.dtype)
    canvas[...] = np.asarray(im_value, np.float64).astype(image.dtype)
    canvas[y:y + h, x:x + w] = image
    sample["image"] = canvas
    if "label_map" in sample:
        label = np.asarray(sample["label_map"])
        padded = np.full((height, width), label_value, label.dtype)
        padded[y:y + h, x:x + w] = label
        sample["label_map"] = padded
    if "gt_bbox" in sample:
        sample["gt_bbox"] = shift_boxes(sample["gt_bbox"], x, y)
    if "gt_poly" in sample:
        sample["gt_poly"] = shift_polys(sample["gt_poly"], x, y)
    if update_im_shape:
        _set_shape(sample)
    return sample


def flip_sample(sample: dict[str, Any], axis: int) -> dict[str, Any]:
    """Mirror left-right (``axis`` 1) or up-down (0), with everything aligned."""
    image = sample["image"]
    size = image.shape[1] if axis == 1 else image.shape[0]
    sample["image"] = np.ascontiguousarray(np.flip(image, axis))
    if "label_map" in sample:
        sample["label_map"] = np.ascontiguousarray(np.flip(sample["label_map"], axis))
    if "gt_bbox" in sample:
        sample["gt_bbox"] = flip_boxes(sample["gt_bbox"], size, axis)
    if "gt_poly" in sample:
        sample["gt_poly"] = flip_polys(sample["gt_poly"], size, axis)
    return sample
