"""Non-maximum suppression in numpy, with the semantics of Paddle's operators, so that a
detector exported without its NMS gives, after any runtime, what the Paddle model gave.

Boxes are x1, y1, x2, y2. ``normalized=True`` measures them as continuous coordinates;
``normalized=False`` as Paddle does pixel boxes: a box spans ``x2 - x1 + 1`` pixels and
boxes that merely touch overlap by one pixel. Every threshold is exclusive as in Paddle
(a score must be greater than ``score_threshold``; a box is suppressed by an IoU greater
than ``nms_threshold``). Ties in score keep the boxes' order.
"""

from __future__ import annotations

import numpy as np

from ..errors import PxError
from ..transforms.geometry import box_iou


def _iou(a: np.ndarray, b: np.ndarray, normalized: bool) -> np.ndarray:
    """IoU [N, M] as Paddle's JaccardOverlap computes it (for boxes with x1 <= x2, y1 <= y2)."""
    if normalized:
        return box_iou(a, b)
    apart = ((b[None, :, 0] > a[:, None, 2]) | (b[None, :, 2] < a[:, None, 0])
             | (b[None, :, 1] > a[:, None, 3]) | (b[None, :, 3] < a[:, None, 1]))
    pixel = np.array([0, 0, 1, 1], np.float64)
    return np.where(apart, 0.0, box_iou(a + pixel, b + pixel))


def _greedy(boxes: np.ndarray, iou_threshold: float, normalized: bool) -> np.ndarray:
    """Positions kept by greedy NMS among ``boxes`` sorted by descending score."""
    order = np.arange(len(boxes))
    keep = []
    while order.size:
        first, order = order[0], order[1:]
        keep.append(first)
        if order.size:
            order = order[_iou(boxes[first:first + 1], boxes[order], normalized)[0] <= iou_threshold]
    return np.asarray(keep, np.int64)


def _by_score(scores: np.ndarray, score_threshold: float, top_k: int) -> np.ndarray:
    """Indices of the scores above the threshold, highest first, at most ``top_k`` (-1: all)."""
    candidates = np.flatnonzero(scores > score_threshold)
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    return order if top_k < 0 else order[:top_k]


def nms(boxes_xyxy, scores, iou_threshold: float, normalized: bool = True) -> np.ndarray:
    """Greedy NMS: indices of the kept boxes, highest score first."""
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float32).reshape(-1)
    if len(boxes) != len(scores):
        raise PxError(f"nms: {len(boxes)} boxes but {len(scores)} scores; give one score per box")
    order = np.argsort(-scores, kind="stable")
    return order[_greedy(boxes[order], iou_threshold, normalized)]


def _check(name: str, boxes, scores) -> tuple[np.ndarray, np.ndarray]:
    boxes = np.asarray(boxes, np.float32)
    scores = np.asarray(scores, np.float32)
    if scores.ndim != 2 or boxes.ndim not in (2, 3) or boxes.shape[-1] != 4 \
            or boxes.shape[0] != scores.shape[0] \
            or (boxes.ndim == 3 and boxes.shape[1] != scores.shape[1]):
        raise PxError(f"{name}: boxes {list(boxes.shape)} and scores {list(scores.shape)} do not "
                      "fit; give boxes [N, 4] (or [N, C, 4], one per class) and scores [N, C]")
    return boxes, scores


def _detections(boxes: np.ndarray, classes: np.ndarray, scores: np.ndarray, index: np.ndarray,
                return_index: bool):
    rows = boxes[index, classes] if boxes.ndim == 3 else boxes[index]
    dets = np.concatenate([classes[:, None], scores[:, None], rows], axis=1).astype(np.float32)
    dets = dets.reshape(-1, 6)
    return (dets, index.astype(np.int64)) if return_index else dets


def multiclass_nms(boxes, scores, score_threshold: float = 0.05, nms_threshold: float = 0.5,
                   nms_top_k: int = -1, keep_top_k: int = 100, background_label: int = -1,
                   normalized: bool = True, return_index: bool = False):
    """Greedy NMS per class on one image, as Paddle's ``multiclass_nms3`` (PaddleDetection's
    MultiClassNMS; ``nms_eta`` 1).

    ``boxes`` [N, 4], or [N, C, 4] for a box per class; ``scores`` [N, C]. Per class, the
    ``nms_top_k`` best boxes above ``score_threshold`` (-1: all) go through NMS; of what
    all classes keep, the ``keep_top_k`` best (-1: all). Returns ``dets`` [K, 6] rows
    (class, score, x1, y1, x2, y2), ordered by class then by descending score as Paddle
    orders them; with ``return_index`` also ``index`` [K], each one's row in ``boxes``.
    """
    boxes, scores = _check("multiclass_nms", boxes, scores)
    coordinates = np.asarray(boxes, np.float64)
    kept, classes = [], []
    for c in range(scores.shape[1]):
        if c == background_label:
            continue
        order = _by_score(scores[:, c], score_threshold, nms_top_k)
        class_boxes = coordinates[:, c] if boxes.ndim == 3 else coordinates
        kept.append(order[_greedy(class_boxes[order], nms_threshold, normalized)])
        classes.append(np.full(len(kept[-1]), c, np.int64))
    index = np.concatenate(kept) if kept else np.zeros(0, np.int64)
    classes = np.concatenate(classes) if classes else np.zeros(0, np.int64)
    kept_scores = scores[index, classes]
    if -1 < keep_top_k < len(index):
        # the best overall, back in class-major order
        best = np.sort(np.argsort(-kept_scores, kind="stable")[:keep_top_k])
        index, classes, kept_scores = index[best], classes[best], kept_scores[best]
    return _detections(boxes, classes, kept_scores, index, return_index)


def matrix_nms(boxes, scores, score_threshold: float = 0.05, post_threshold: float = 0.05,
               nms_top_k: int = -1, keep_top_k: int = 100, use_gaussian: bool = False,
               gaussian_sigma: float = 2.0, background_label: int = -1,
               normalized: bool = False, return_index: bool = False):
    """Matrix NMS (SOLOv2) on one image, as Paddle's ``matrix_nms`` (PaddleDetection's
    MatrixNMS, whose default ``normalized`` is False; PP-YOLO's).

    Per class, the ``nms_top_k`` best boxes above ``score_threshold`` decay each other's
    scores instead of suppressing: box i's score is multiplied by the minimum over the
    better boxes j of ``(1 - iou_ij) / (1 - iou_max_j)`` (or, with ``use_gaussian``,
    ``exp((iou_max_j² - iou_ij²) * gaussian_sigma)``), where iou_max_j is j's largest IoU
    with a box better than j. Boxes whose decayed score exceeds ``post_threshold`` stay;
    of all classes' the ``keep_top_k`` best (-1: all). ``boxes`` [N, 4], ``scores`` [N, C].
    Returns ``dets`` [K, 6] (class, decayed score, x1, y1, x2, y2) by descending score;
    with ``return_index`` also ``index`` [K], each one's row in ``boxes``.
    """
    boxes, scores = _check("matrix_nms", boxes, scores)
    if boxes.ndim != 2:
        raise PxError(f"matrix_nms: boxes {list(boxes.shape)} must be [N, 4], shared by the "
                      "classes (Paddle's matrix_nms has no per-class boxes)")
    coordinates = np.asarray(boxes, np.float64)
    kept, classes, decayed = [], [], []
    for c in range(scores.shape[1]):
        if c == background_label:
            continue
        order = _by_score(scores[:, c], score_threshold, nms_top_k)
        if not order.size:
            continue
        # iou[i, j]: box i with the better box j (j < i); zero elsewhere
        iou = np.tril(_iou(coordinates[order], coordinates[order], normalized), k=-1)
        iou_max = iou.max(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            if use_gaussian:
                decay = np.exp((iou_max[None, :] ** 2 - iou ** 2) * gaussian_sigma)
            else:
                decay = (1.0 - iou) / (1.0 - iou_max[None, :])
        decay = np.where(np.tri(len(order), k=-1, dtype=bool) & ~np.isnan(decay), decay, 1.0)
        score = (decay.min(axis=1, initial=1.0) * scores[order, c]).astype(np.float32)
        alive = score > post_threshold
        kept.append(order[alive])
        classes.append(np.full(int(alive.sum()), c, np.int64))
        decayed.append(score[alive])
    if not kept:
        return _detections(boxes, np.zeros(0, np.int64), np.zeros(0, np.float32),
                           np.zeros(0, np.int64), return_index)
    index, classes, decayed = np.concatenate(kept), np.concatenate(classes), np.concatenate(decayed)
    best = np.argsort(-decayed, kind="stable")
    if keep_top_k > -1:
        best = best[:keep_top_k]
    return _detections(boxes, classes[best], decayed[best], index[best], return_index)
