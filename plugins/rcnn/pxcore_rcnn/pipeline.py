"""R-CNN's detector between and after its graphs, in numpy: the one implementation that
``model.predict``, ``model.evaluate`` and every runtime run.

paddle2onnx cannot convert the proposal and NMS operators (``generate_proposals``,
``distribute_fpn_proposals``, ``collect_fpn_proposals``, ``multiclass_nms3``), so an
export is three graphs with this module between them (deploy.yml's ``graphs`` and
``pipeline``; see ``RCNN.deploy_graphs``):

    rpn   image -> the feature maps RoIAlign reads (L levels), then the RPN's
          objectness [1, A, H, W] and deltas [1, 4A, H, W] per RPN level
    (numpy) anchors, decoding, per level the best ``pre_nms_top_n`` through NMS, the
          best ``post_nms_top_n`` of all levels, and each RoI's level
    box   the L feature maps and each level's RoIs -> class probabilities [R, C + 1]
          (the last is background) and per-class deltas [R, 4C]
    (numpy) decoding, clipping, per-class NMS
    mask  the L feature maps and each level's final boxes -> mask logits [K, C, M, M]
    (numpy) each box's class map through a sigmoid

The rules are Paddle's operators': by default PaddleDetection 2.x's (``pixel_offset=False``):
proposals clipped to the input, boxes under a pixel dropped, a level with nothing left
gives one empty box; a RoI of scale s reads level floor(4 + log2(s / 224 + 1e-6)),
clamped to the levels there are. With ``box_convention="pixel"`` those of Paddle 1.x's
operators that PaddleDetection 0.x and PaddleX 1.x ran (``generate_proposals``,
``distribute_fpn_proposals``, ``box_coder`` with ``box_normalized=False``, ``box_clip``,
``multiclass_nms`` with ``normalized=False``): a box covers x2 - x1 + 1 pixels in its
coding, its area, its IoU and its level, and is clipped to the last pixel
(``boxes.py``). A level with no RoIs gets one placeholder box in the
graph's input (graphs are not asked to take empty inputs) whose row is dropped again.

With ``im_info`` (per image the resized height and width, before any padding, and the
resize factor: Paddle 1.x's ``im_info``) proposals are clipped to the resized image, not
its padding, as both generations did; and in the pixel convention the final boxes are
decoded, clipped (to the original image, round(height / scale) by round(width / scale),
``box_clip``'s rule) and suppressed at the original image's scale, as PaddleDetection
0.x's ``bbox_head.get_prediction`` did, then given back in input pixels (the mask
graph's RoIs are those, as 0.x's ``bbox * im_scale``). Without it the input is the
image (scale 1, no padding).

``run(graph, inputs)`` is the caller's: eager Paddle for the Python model, a runtime
per graph for an export (pxcore.inference.graphs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pxcore.errors import PxError
from pxcore.ops.nms import multiclass_nms, nms

from .boxes import (
    MAX_LOG_SCALE,
    box_offset,
    cell_anchors,
    check_conventions,
    clip_to_image,
    decode,
    level_anchors,
)

BOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
REFER_LEVEL, REFER_SCALE = 4, 224
PLACEHOLDER = np.array([[0.0, 0.0, 1.0, 1.0]], np.float32)

RunGraph = Callable[[str, list[np.ndarray]], list[np.ndarray]]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """float32 logistic function, without overflow for large negative logits."""
    x = np.asarray(x, np.float32)
    e = np.exp(-np.abs(x))
    one = np.float32(1)
    return np.where(x >= 0, one / (one + e), e / (one + e)).astype(np.float32)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores (all where ``k`` <= 0 or beyond), highest
    first, ties in index order."""
    if 0 < k < len(scores):
        part = np.argpartition(-scores, k - 1)[:k]
        # the k-th score may tie with scores left out: take the lowest indices of those
        kth = scores[part].min()
        above = np.flatnonzero(scores > kth)
        tied = np.flatnonzero(scores == kth)[:k - len(above)]
        candidates = np.concatenate([above, tied])
    else:
        candidates = np.arange(len(scores))
    return candidates[np.lexsort((candidates, -scores[candidates]))]


def level_proposals(score: np.ndarray, delta: np.ndarray, anchors: np.ndarray,
                    image_hw: tuple[int, int], pre_nms_top_n: int, post_nms_top_n: int,
                    nms_thresh: float, min_size: float = 0.0,
                    box_convention: str = "corner") -> tuple[np.ndarray, np.ndarray]:
    """One image's proposals from one level (Paddle's ``generate_proposals``):
    ``score`` [A, H, W] logits and ``delta`` [4A, H, W] against ``anchors`` [H*W*A, 4];
    returns (boxes [K, 4], probabilities [K]), best first."""
    probs = sigmoid(score).transpose(1, 2, 0).reshape(-1)
    deltas = np.asarray(delta, np.float32).transpose(1, 2, 0).reshape(-1, 4)
    order = _top(probs, pre_nms_top_n)
    boxes = decode(deltas[order][:, None], anchors[order], (1.0, 1.0, 1.0, 1.0),
                   box_convention=box_convention)[:, 0]
    boxes = clip_to_image(boxes, *image_hw, box_convention=box_convention)
    smallest = np.float32(max(min_size, 1.0))
    one = box_offset(box_convention)
    # (Paddle 1.x also keeps only centres inside the image: after clipping, all are.)
    keep = (((boxes[:, 2] - boxes[:, 0] + one) >= smallest)
            & ((boxes[:, 3] - boxes[:, 1] + one) >= smallest))
    if not keep.any():
        return np.zeros((1, 4), np.float32), np.zeros(1, np.float32)
    boxes, probs = boxes[keep], probs[order][keep]
    if nms_thresh > 0:
        kept = nms(boxes, probs, nms_thresh, normalized=box_convention != "pixel")
        boxes, probs = boxes[kept], probs[kept]
    return boxes[:post_nms_top_n], probs[:post_nms_top_n]


def propose(scores: Sequence[np.ndarray], deltas: Sequence[np.ndarray],
            anchors: Sequence[np.ndarray], image_hw: tuple[int, int], pre_nms_top_n: int,
            post_nms_top_n: int, nms_thresh: float, min_size: float = 0.0,
            box_convention: str = "corner") -> np.ndarray:
    """One image's RoIs [R, 4] from every RPN level (``scores`` [A, H, W] and ``deltas``
    per level), best first: with one level its ``post_nms_top_n`` best; with several,
    ``pre_nms_top_n`` per level and the ``post_nms_top_n`` best of them all."""
    per_level = post_nms_top_n if len(scores) == 1 else pre_nms_top_n
    found = [level_proposals(s, d, a, image_hw, pre_nms_top_n, per_level, nms_thresh, min_size,
                             box_convention) for s, d, a in zip(scores, deltas, anchors, strict=True)]
    if len(found) == 1:
        return found[0][0]
    boxes = np.concatenate([b for b, _ in found])
    probs = np.concatenate([p for _, p in found])
    return boxes[_top(probs, post_nms_top_n)]


def roi_levels(rois: np.ndarray, min_level: int, max_level: int,
               box_convention: str = "corner") -> np.ndarray:
    """The pyramid level each RoI reads (Paddle's ``distribute_fpn_proposals``)."""
    rois = np.asarray(rois, np.float32).reshape(-1, 4)
    width, height = rois[:, 2] - rois[:, 0], rois[:, 3] - rois[:, 1]
    one = box_offset(box_convention)
    area = np.where((width < 0) | (height < 0), np.float32(0), (width + one) * (height + one))
    scale = np.sqrt(area)
    level = np.floor(np.log2(scale / np.float32(REFER_SCALE) + np.float32(1e-6)) + REFER_LEVEL)
    return np.clip(level, min_level, max_level).astype(np.int64)


class RoIsByLevel:
    """RoIs grouped by the level each reads: ``inputs`` (per level, in level order, a
    placeholder box where a level has none) for a graph, ``order`` (the RoIs' indices
    in that grouping) and ``take`` (the graph's output rows that are real RoIs)."""

    def __init__(self, rois: np.ndarray, levels: Sequence[int],
                 box_convention: str = "corner") -> None:
        rois = np.asarray(rois, np.float32).reshape(-1, 4)
        assigned = (roi_levels(rois, levels[0], levels[-1], box_convention) if len(levels) > 1
                    else np.full(len(rois), levels[0], np.int64))
        self.order = np.argsort(assigned, kind="stable")
        self.inputs, take, start = [], [], 0
        for level in levels:
            mine = self.order[assigned[self.order] == level]
            self.inputs.append(np.ascontiguousarray(rois[mine]) if len(mine) else PLACEHOLDER.copy())
            take.append(np.arange(start, start + len(mine)))
            start += max(len(mine), 1)
        self.take = np.concatenate(take).astype(np.int64)

    def restore(self, rows: np.ndarray) -> np.ndarray:
        """The graph's output rows back in the RoIs' own order."""
        real = rows[self.take]
        out = np.empty_like(real)
        out[self.order] = real
        return out


class RCNNPipeline:
    """Runs an R-CNN's graphs through ``run(graph, inputs)`` with the numpy stages
    between them; ``__call__`` returns what the graph of one piece did: ``bbox`` [N, 6]
    (class, score, x1, y1, x2, y2 in input pixels), ``bbox_num`` [B] and, with masks,
    ``mask`` [N, M, M] (each box's class probabilities), which ``RCNNPostprocess``
    takes to the image. ``box_convention`` and ``anchor_convention`` are the network's
    (``boxes.py``): what its weights were trained with."""

    def __init__(self, num_classes: int, anchor_sizes: Sequence[Sequence[float]],
                 anchor_ratios: Sequence[float], rpn_strides: Sequence[int],
                 roi_strides: Sequence[int], pre_nms_top_n: int, post_nms_top_n: int,
                 rpn_nms_thresh: float = 0.7, min_size: float = 0.0,
                 box_weights: Sequence[float] = BOX_WEIGHTS, score_threshold: float = 0.05,
                 nms_threshold: float = 0.5, keep_top_k: int = 100, with_mask: bool = False,
                 mask_resolution: int = 28, box_convention: str = "corner",
                 anchor_convention: str = "exact") -> None:
        check_conventions(box_convention, anchor_convention)
        self.box_convention, self.anchor_convention = box_convention, anchor_convention
        self.num_classes = int(num_classes)
        self.anchor_sizes = [list(map(float, s)) for s in anchor_sizes]
        self.anchor_ratios = [float(r) for r in anchor_ratios]
        self.rpn_strides = [int(s) for s in rpn_strides]
        self.roi_strides = [int(s) for s in roi_strides]
        self.levels = [int(round(np.log2(s))) for s in self.roi_strides]
        self.pre_nms_top_n, self.post_nms_top_n = int(pre_nms_top_n), int(post_nms_top_n)
        self.rpn_nms_thresh, self.min_size = float(rpn_nms_thresh), float(min_size)
        self.box_weights = [float(w) for w in box_weights]
        self.score_threshold, self.nms_threshold = float(score_threshold), float(nms_threshold)
        self.keep_top_k = int(keep_top_k)
        self.with_mask = bool(with_mask)
        self.mask_resolution = int(mask_resolution)
        self._cells = [cell_anchors(s, self.anchor_ratios, stride, anchor_convention)
                       for s, stride in zip(self.anchor_sizes, self.rpn_strides, strict=True)]
        self._anchors: dict[tuple, np.ndarray] = {}

    def to_config(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes, "anchor_sizes": self.anchor_sizes,
                "anchor_ratios": self.anchor_ratios, "rpn_strides": self.rpn_strides,
                "roi_strides": self.roi_strides, "pre_nms_top_n": self.pre_nms_top_n,
                "post_nms_top_n": self.post_nms_top_n, "rpn_nms_thresh": self.rpn_nms_thresh,
                "min_size": self.min_size, "box_weights": self.box_weights,
                "score_threshold": self.score_threshold, "nms_threshold": self.nms_threshold,
                "keep_top_k": self.keep_top_k, "with_mask": self.with_mask,
                "mask_resolution": self.mask_resolution, "box_convention": self.box_convention,
                "anchor_convention": self.anchor_convention}

    def anchors(self, level: int, height: int, width: int) -> np.ndarray:
        key = (level, height, width)
        found = self._anchors.get(key)  # the same image size, again and again: kept
        if found is None:
            if len(self._anchors) > 64:
                self._anchors = {}
            found = self._anchors[key] = level_anchors(height, width, self.rpn_strides[level],
                                                       self._cells[level])
        return found

    def __call__(self, run: RunGraph, images: np.ndarray,
                 im_info: np.ndarray | None = None) -> list[np.ndarray]:
        images = np.asarray(images, np.float32)
        if im_info is not None:
            im_info = np.asarray(im_info, np.float32).reshape(-1, 3)
            if len(im_info) != images.shape[0]:
                raise PxError(f"R-CNN: im_info has {len(im_info)} rows for {images.shape[0]} "
                              "images; give one (height, width, scale) per image")
        rows, counts, masks = [], [], []
        for i in range(images.shape[0]):
            found, mask = self.detect(run, images[i:i + 1], None if im_info is None else im_info[i])
            rows.append(found)
            counts.append(len(found))
            masks.append(mask)
        outputs = [np.concatenate(rows).astype(np.float32).reshape(-1, 6),
                   np.asarray(counts, np.int32)]
        if self.with_mask:
            outputs.append(np.concatenate(masks).astype(np.float32))
        return outputs

    def detect(self, run: RunGraph, image: np.ndarray,
               im_info: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """One image [1, 3, H, W] (and its im_info: resized height, width, scale): its
        rows [K, 6] and, with masks, [K, M, M]."""
        height, width = (int(d) for d in image.shape[2:4])
        scale = np.float32(1)
        if im_info is not None:  # the resized image without its padding
            height, width = min(height, int(round(float(im_info[0])))), min(width, int(round(float(im_info[1]))))
            scale = np.float32(im_info[2])
            if not scale > 0:
                raise PxError(f"R-CNN: im_info's scale must be positive, got {scale}")
        count, levels = len(self.roi_strides), len(self.rpn_strides)
        outputs = run("rpn", [image])
        features = outputs[:count]
        scores = [s[0] for s in outputs[count:count + levels]]
        deltas = [d[0] for d in outputs[count + levels:count + 2 * levels]]
        anchors = [self.anchors(k, s.shape[1], s.shape[2]) for k, s in enumerate(scores)]
        pixel = self.box_convention == "pixel"
        rois = propose(scores, deltas, anchors, (height, width), self.pre_nms_top_n,
                       self.post_nms_top_n, self.rpn_nms_thresh, self.min_size, self.box_convention)
        groups = RoIsByLevel(rois, self.levels, self.box_convention)
        probs, box_deltas = run("box", [*features, *groups.inputs])[:2]
        probs, box_deltas = groups.restore(np.asarray(probs)), groups.restore(np.asarray(box_deltas))
        # 0.x: the final boxes at the original image's scale (a box's +1 pixel is the
        # original image's pixel); 2.x: at the input's.
        original = pixel and scale != 1
        if original:
            rois = rois / scale
            height, width = round(height / float(scale)), round(width / float(scale))
        # Paddle 1.x's box_coder did not clip the scales (its generate_proposals did).
        boxes = decode(box_deltas.reshape(len(rois), self.num_classes, 4), rois, self.box_weights,
                       max_log_scale=None if pixel else MAX_LOG_SCALE,
                       box_convention=self.box_convention)
        boxes = clip_to_image(boxes, height, width, self.box_convention)
        found = multiclass_nms(boxes, probs[:, :self.num_classes], self.score_threshold,
                               self.nms_threshold, -1, self.keep_top_k, -1, not pixel)
        if original:
            found[:, 2:6] *= scale
        if not self.with_mask:
            return found, None
        return found, self.masks(run, features, found)

    def masks(self, run: RunGraph, features: list[np.ndarray], found: np.ndarray) -> np.ndarray:
        """Each detection's mask probabilities [K, M, M], its class's map."""
        if not len(found):
            return np.zeros((0, self.mask_resolution, self.mask_resolution), np.float32)
        groups = RoIsByLevel(found[:, 2:6], self.levels, self.box_convention)
        logits = groups.restore(np.asarray(run("mask", [*features, *groups.inputs])[0]))
        picked = logits[np.arange(len(found)), found[:, 0].astype(np.int64)]
        return sigmoid(picked)
