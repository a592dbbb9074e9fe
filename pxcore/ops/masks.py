"""Instance masks in numpy (with pycocotools and no paddle), for Mask R-CNN and its metric.

- ``polygons_to_roi_masks``: training targets, each instance's polygons rasterized into
  a ``resolution`` x ``resolution`` grid over its region of interest (the Detectron /
  PaddleDetection convention).
- ``paste_masks``: the mask head's ``M x M`` probabilities resized into their boxes and
  thresholded, as full-image binary masks (bilinear sampling at the image's pixel
  centres, as PaddleDetection's ``paste_mask`` does with ``grid_sample``; or the rule
  of PaddleDetection 0.x / PaddleX 1.x, which trained the zoo's archives).
- ``mask_to_rle`` / ``rle_to_mask``: COCO's compressed run-length encoding, with the
  counts as a ``str`` so that results are JSON.

Coordinates are continuous pixels: pixel ``(i, j)`` covers ``[j, j + 1) x [i, i + 1)``
and a box over the whole image is ``0, 0, width, height``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import PxError


def _polygon_list(polygons: Any, where: str) -> list[np.ndarray]:
    """Flat ``[x, y, x, y, ...]`` polygons as float64 arrays; ones with fewer than three
    points (which pycocotools would misread as boxes) are dropped."""
    if isinstance(polygons, np.ndarray) and polygons.ndim == 1:
        polygons = [polygons]
    if not isinstance(polygons, Sequence | np.ndarray) or isinstance(polygons, str | bytes | dict):
        raise PxError(f"{where}: expected a list of flat [x, y, x, y, ...] polygons, "
                      f"got {type(polygons).__name__}")
    out = []
    for k, polygon in enumerate(polygons):
        try:
            points = np.asarray(polygon, np.float64)
        except (TypeError, ValueError):
            raise PxError(f"{where}: polygon {k} is not a flat list of numbers") from None
        if points.ndim != 1:
            raise PxError(f"{where}: polygon {k} has shape {points.shape}; each polygon is a flat "
                          "[x, y, x, y, ...] list (a list of polygons per instance)")
        if points.size % 2:
            raise PxError(f"{where}: polygon {k} has {points.size} numbers; it needs x, y pairs")
        if not np.isfinite(points).all():
            raise PxError(f"{where}: polygon {k} has a non-finite coordinate")
        if points.size >= 6:
            out.append(points)
    return out


def _rasterize(polygons: list[np.ndarray], height: int, width: int) -> np.ndarray:
    from pycocotools import mask as mask_util

    if not polygons:
        return np.zeros((height, width), np.uint8)
    rle = mask_util.merge(mask_util.frPyObjects([p.tolist() for p in polygons], height, width))
    return np.ascontiguousarray(mask_util.decode(rle), dtype=np.uint8)


def _box_array(boxes: Any, what: str, count: str) -> np.ndarray:
    """``boxes`` as float64 ``[count, 4]`` (an empty input as ``[0, 4]``), or an error
    naming ``what`` and its shape."""
    boxes = np.asarray(boxes, np.float64)
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise PxError(f"{what} have shape {boxes.shape}; expected [{count}, 4] (x1, y1, x2, y2)")
    return boxes


def polygons_to_masks(polygons: Sequence[Any], height: int, width: int) -> np.ndarray:
    """``[M, H, W]`` uint8 masks, one per instance's list of flat polygons in pixels
    (an instance without polygons, a crowd region given as RLE, is left empty)."""
    masks = np.zeros((len(polygons), height, width), np.uint8)
    for k, instance in enumerate(polygons):
        masks[k] = _rasterize(_polygon_list(instance, f"polygons_to_masks: instance {k}"),
                              height, width)
    return masks


def _clip_polygon(xy: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Sutherland-Hodgman: the polygon ``[n, 2]`` cut to the square ``[lo, hi]^2``. Inside
    the square the filled region is unchanged (a concave polygon may gain edges along
    the square's sides, outside the grid that is rasterized); it bounds the work of
    rasterizing a polygon scaled up many times by a tiny roi."""
    for axis in (0, 1):
        for bound, keep in ((lo, np.greater_equal), (hi, np.less_equal)):
            if not len(xy):
                return xy
            prev = np.roll(xy, 1, axis=0)
            inside, prev_inside = keep(xy[:, axis], bound), keep(prev[:, axis], bound)
            crossing = inside != prev_inside
            delta = xy[:, axis] - prev[:, axis]
            t = np.divide(bound - prev[:, axis], delta, out=np.zeros(len(xy)), where=crossing)
            cut = prev + t[:, None] * (xy - prev)
            cut[:, axis] = bound
            points = np.stack([cut, xy], axis=1).reshape(-1, 2)
            xy = points[np.stack([crossing, inside], axis=1).reshape(-1)]
    return xy


def polygons_to_roi_masks(polygons: Sequence[Any], rois, resolution: int) -> np.ndarray:
    """Mask R-CNN's targets: ``float32 [R, resolution, resolution]`` of 0 and 1.

    ``polygons[r]`` is instance ``r``'s list of flat ``[x, y, x, y, ...]`` polygons and
    ``rois[r]`` its region (x1, y1, x2, y2), both in the same pixel frame. The polygons
    are shifted by (x1, y1), scaled by ``resolution / max(w, 1e-3)`` and
    ``resolution / max(h, 1e-3)`` and rasterized by pycocotools. An instance without
    polygons (a crowd RLE, whose ``gt_poly`` is ``[]``) gives an empty mask."""
    resolution = int(resolution)
    if resolution <= 0:
        raise PxError(f"polygons_to_roi_masks: resolution {resolution} must be positive")
    rois = _box_array(rois, "polygons_to_roi_masks: rois", "R")
    if len(polygons) != len(rois):
        raise PxError(f"polygons_to_roi_masks: {len(polygons)} instances' polygons but "
                      f"{len(rois)} rois; give the polygons of each roi's matched instance")
    out = np.zeros((len(rois), resolution, resolution), np.float32)
    # Polygons reaching further than this from the grid's centre are cut there first: the
    # rasterizer walks every edge at 1/5 px, so a 0.01 px roi on a 500 px polygon would
    # take seconds; nearer polygons rasterize exactly as in Detectron / PaddleDetection.
    far = 64.0 * resolution
    for r, (x1, y1, x2, y2) in enumerate(rois):
        if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
            raise PxError(f"polygons_to_roi_masks: roi {r} {rois[r].tolist()} has a non-finite "
                          "coordinate")
        scale = np.array([resolution / max(x2 - x1, 1e-3), resolution / max(y2 - y1, 1e-3)])
        shift = np.array([x1, y1])
        local = []
        for p in _polygon_list(polygons[r], f"polygons_to_roi_masks: instance {r}"):
            xy = (p.reshape(-1, 2) - shift) * scale
            if np.abs(xy - resolution / 2).max() > far:  # only a tiny roi on a big polygon
                xy = _clip_polygon(xy, -far + resolution / 2, far + resolution / 2)
            if len(xy) >= 3:
                local.append(xy.reshape(-1))
        out[r] = _rasterize(local, resolution, resolution)
    return out


def _interpolation(start: int, stop: int, lo: float, hi: float, cells: int) -> np.ndarray:
    """Bilinear weights ``[stop - start, cells]`` of the pixel centres ``start + 0.5 ..``
    in a row of ``cells`` mask cells spread over ``[lo, hi)``; cells beyond the edge
    count as zero (grid_sample with align_corners=False and zero padding)."""
    centres = np.arange(start, stop, dtype=np.float64) + 0.5
    u = (centres - lo) / (hi - lo) * cells - 0.5
    left = np.floor(u)
    frac = u - left
    left = left.astype(np.int64)
    weights = np.zeros((len(centres), cells + 2))  # cells -1 .. cells, padding dropped below
    rows = np.arange(len(centres))
    np.add.at(weights, (rows, np.clip(left + 1, 0, cells + 1)), 1.0 - frac)
    np.add.at(weights, (rows, np.clip(left + 2, 0, cells + 1)), frac)
    return weights[:, 1:-1]


def _paste_probabilities(mask: np.ndarray, box, height: int, width: int):
    """The mask's probabilities at the pixels its box may reach: ``(values, y0, x0)``
    with values ``[h, w]`` placed at row ``y0``, column ``x0``; None if none."""
    x1, y1, x2, y2 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)) or x2 <= x1 or y2 <= y1:
        return None
    cells_y, cells_x = mask.shape
    # pixels whose centre lies within half a cell of the box can be non-zero
    half_x, half_y = (x2 - x1) / cells_x / 2, (y2 - y1) / cells_y / 2
    c0 = max(0, math.floor(x1 - half_x - 0.5))
    c1 = min(width, math.ceil(x2 + half_x - 0.5) + 1)
    r0 = max(0, math.floor(y1 - half_y - 0.5))
    r1 = min(height, math.ceil(y2 + half_y - 0.5) + 1)
    if c1 <= c0 or r1 <= r0:
        return None
    wy = _interpolation(r0, r1, y1, y2, cells_y)
    wx = _interpolation(c0, c1, x1, x2, cells_x)
    return wy @ mask.astype(np.float64) @ wx.T, r0, c0


PASTE_RULES = ("sample", "padded")


def _linear_weights(source: int, target: int) -> np.ndarray:
    """``float32 [target, source]``: OpenCV's ``INTER_LINEAR`` resize along one axis
    (pixel centres matched, ``(i + 0.5) * source / target - 0.5``, edges replicated)."""
    x = ((np.arange(target, dtype=np.float64) + 0.5) * (source / target) - 0.5).astype(np.float32)
    left = np.floor(x)
    frac = x - left
    left = left.astype(np.int64)
    outside = (left < 0) | (left >= source - 1)
    frac[outside] = 0
    left = np.clip(left, 0, source - 1)
    weights = np.zeros((target, source), np.float32)
    rows = np.arange(target)
    np.add.at(weights, (rows, left), np.float32(1) - frac)
    np.add.at(weights, (rows, np.minimum(left + 1, source - 1)), frac)
    return weights


def _paste_padded(mask: np.ndarray, box, height: int, width: int, threshold: float) -> np.ndarray:
    """One mask pasted by the ``"padded"`` rule (see ``paste_masks``)."""
    cells = mask.shape[0]
    padded = np.zeros((cells + 2, cells + 2), np.float32)
    padded[1:-1, 1:-1] = mask
    box = np.asarray(box, np.float32)
    if not np.isfinite(box).all():
        return np.zeros((height, width), np.uint8)
    # float32 as the reference computed it, then truncated toward zero
    scale = (cells + 2.0) / cells
    half = (box[2:] - box[:2]) * np.float32(0.5) * np.float32(scale)
    centre = (box[2:] + box[:2]) * np.float32(0.5)
    x1, y1 = (centre - half).astype(np.int32).tolist()
    x2, y2 = (centre + half).astype(np.int32).tolist()
    w, h = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)
    resized = _linear_weights(cells + 2, h) @ padded @ _linear_weights(cells + 2, w).T
    out = np.zeros((height, width), np.uint8)
    c0, c1 = min(max(x1, 0), width), min(max(x2 + 1, 0), width)
    r0, r1 = min(max(y1, 0), height), min(max(y2 + 1, 0), height)
    if c1 > c0 and r1 > r0:
        out[r0:r1, c0:c1] = resized[r0 - y1:r1 - y1, c0 - x1:c1 - x1] > threshold
    return out


def paste_masks(masks, boxes, height: int, width: int, threshold: float = 0.5,
                rule: str = "sample") -> np.ndarray:
    """Full-image binary masks ``uint8 [N, height, width]`` from Mask R-CNN's
    probabilities ``masks [N, M, M]`` (or ``[N, 1, M, M]``) and their boxes ``[N, 4]``
    (x1, y1, x2, y2 in the output image's pixels).

    ``rule="sample"`` (PaddleDetection 2.x's ``paste_mask``): each mask is stretched
    over its box and sampled bilinearly at the pixel centres (``grid_sample``,
    ``align_corners=False``, zero padding), and a pixel is in the mask when its value
    is at least ``threshold``. ``rule="padded"`` (PaddleDetection 0.x / PaddleX 1.x's
    ``mask2out``, Detectron's): the mask gets a border of zero cells, its box grows by
    (M + 2) / M about its centre and is cut to whole pixels (toward zero), the padded
    mask is resized onto that box's x2 - x1 + 1 by y2 - y1 + 1 pixels by OpenCV's
    bilinear rule, and a pixel is in the mask when its value is above ``threshold``.
    Parts outside the image are cut off; a box that is outside the image or not finite
    gives an empty mask (with ``"sample"`` also an empty one, x2 <= x1 or y2 <= y1)."""
    if rule not in PASTE_RULES:
        raise PxError(f"paste_masks: rule {rule!r} is not one of {', '.join(PASTE_RULES)} "
                      "('padded' for PaddleDetection 0.x / PaddleX 1.x weights)")
    height, width = int(height), int(width)
    if height <= 0 or width <= 0:
        raise PxError(f"paste_masks: the image size {height}x{width} (height x width) must be "
                      "positive")
    if not 0.0 < threshold <= 1.0:
        raise PxError(f"paste_masks: threshold {threshold} must be in (0, 1]; the masks are "
                      "probabilities")
    masks = np.asarray(masks)
    if masks.ndim == 4 and masks.shape[1] == 1:
        masks = masks[:, 0]
    if masks.ndim != 3:
        raise PxError(f"paste_masks: masks have shape {masks.shape}; expected [N, M, M] "
                      "(one channel per box: pick each box's class channel first)")
    boxes = _box_array(boxes, "paste_masks: boxes", "N")
    if len(masks) != len(boxes):
        raise PxError(f"paste_masks: {len(masks)} masks but {len(boxes)} boxes; give one box "
                      "per mask")
    out = np.zeros((len(masks), height, width), np.uint8)
    if rule == "padded":
        for i in range(len(masks)):
            out[i] = _paste_padded(np.asarray(masks[i], np.float32), boxes[i], height, width,
                                   threshold)
        return out
    for i in range(len(masks)):
        pasted = _paste_probabilities(masks[i], boxes[i], height, width)
        if pasted is not None:
            values, r0, c0 = pasted
            out[i, r0:r0 + values.shape[0], c0:c0 + values.shape[1]] = values >= threshold
    return out


def _binary(mask, where: str) -> np.ndarray:
    """A 2-D mask as uint8 0/1; probabilities and labels are refused, not guessed at."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise PxError(f"{where}: the mask has shape {mask.shape}; expected one HxW mask")
    if mask.dtype != bool and ((mask != 0) & (mask != 1)).any():
        bad = mask[(mask != 0) & (mask != 1)].reshape(-1)[0]
        raise PxError(f"{where}: the mask has values other than 0 and 1 (e.g. {bad}); "
                      "threshold probabilities first (paste_masks does)")
    return mask.astype(np.uint8)


def mask_to_rle(mask) -> dict[str, Any]:
    """A binary ``HxW`` mask as COCO's compressed RLE ``{"size": [h, w], "counts": str}``
    (pycocotools' encoding, JSON-serialisable)."""
    from pycocotools import mask as mask_util

    binary = _binary(mask, "mask_to_rle")
    rle = mask_util.encode(np.asfortranarray(binary))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _size(size, where: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise PxError(f"{where}: size {size!r} should be [height, width]") from None
    if h < 0 or w < 0:
        raise PxError(f"{where}: size {[h, w]} (height, width) must not be negative")
    return h, w


def rle_to_mask(rle, size: Sequence[int] | None = None) -> np.ndarray:
    """``uint8 HxW`` from a COCO segmentation: an RLE dict (``counts`` compressed as
    ``str`` or ``bytes``, or uncompressed as a list of ints) or a list of flat polygons,
    which need ``size`` = (height, width). A ``size`` given with an RLE must match it."""
    from pycocotools import mask as mask_util

    where = "rle_to_mask"
    if isinstance(rle, dict):
        if "counts" not in rle or "size" not in rle:
            raise PxError(f"{where}: an RLE needs 'size' and 'counts', got keys {sorted(rle)}")
        h, w = _size(rle["size"], where)
        if size is not None and _size(size, where) != (h, w):
            sh, sw = _size(size, where)
            raise PxError(f"{where}: the RLE is {h}x{w} (height x width) but {sh}x{sw} was "
                          "asked for; resize the image or the mask to match")
        counts = rle["counts"]
        if isinstance(counts, str):
            counts = counts.encode("ascii")
        if isinstance(counts, bytes):
            encoded = {"size": [h, w], "counts": counts}
        elif isinstance(counts, list | tuple | np.ndarray):
            if int(np.sum(counts)) != h * w:
                raise PxError(f"{where}: the uncompressed counts add up to {int(np.sum(counts))} "
                              f"pixels but the size {h}x{w} has {h * w}")
            encoded = mask_util.frPyObjects({"size": [h, w], "counts": list(map(int, counts))}, h, w)
        else:
            raise PxError(f"{where}: counts should be a str, bytes or a list of ints, got "
                          f"{type(counts).__name__}")
        try:
            return np.ascontiguousarray(mask_util.decode(encoded), dtype=np.uint8)
        except Exception as exc:  # pycocotools raises bare errors on corrupt strings
            raise PxError(f"{where}: the RLE counts cannot be decoded ({exc})") from None
    if size is None:
        raise PxError(f"{where}: polygons need the image size; call rle_to_mask(polygons, "
                      "size=(height, width))")
    h, w = _size(size, where)
    return _rasterize(_polygon_list(rle, where), h, w)
