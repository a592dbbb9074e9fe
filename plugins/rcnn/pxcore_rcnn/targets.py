"""Training targets for both stages, in numpy (they are labels, not part of the
graph): which anchors the RPN should call objects, which proposals the box head
learns from, and the mask each foreground proposal should predict.

The rules are Faster R-CNN's (Ren et al., 2015) with PaddleDetection's defaults: an
anchor is positive at IoU >= 0.7 with a ground-truth box (and each box's best anchors
are positive), negative below 0.3, 256 sampled per image, at most half positive; a
proposal is foreground at IoU >= 0.5, 512 sampled per image, at most a quarter
foreground, and the ground-truth boxes join the proposals.
"""

from __future__ import annotations

import cv2
import numpy as np

from pxcore.transforms.geometry import box_iou

from .boxes import encode


def _iou(a: np.ndarray, b: np.ndarray, box_convention: str) -> np.ndarray:
    """IoU; in the pixel convention of boxes one pixel larger on each axis (Paddle 1.x's
    target assigners measured x2 - x1 + 1)."""
    if box_convention != "pixel":
        return box_iou(a, b)
    grow = np.array([0, 0, 1, 1], np.float32)
    return box_iou(np.asarray(a, np.float32) + grow, np.asarray(b, np.float32) + grow)


def valid_gt(boxes: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The rows of a padded ``[M, 4]`` box array that are real boxes."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return np.flatnonzero(keep & (np.asarray(classes).reshape(-1) >= 0))


def _sample(positive: np.ndarray, negative: np.ndarray, total: int, fraction: float,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    num_pos = min(len(positive), int(total * fraction))
    positive = rng.permutation(positive)[:num_pos]
    negative = rng.permutation(negative)[:max(total - num_pos, 0)]
    return positive, negative


def rpn_targets(anchors: np.ndarray, gt_boxes: np.ndarray, rng: np.random.Generator,
                batch_size: int = 256, positive_fraction: float = 0.5,
                positive_overlap: float = 0.7, negative_overlap: float = 0.3,
                weights=(1.0, 1.0, 1.0, 1.0), box_convention: str = "corner"):
    """For one image: the sampled anchor indices, their objectness labels (1/0), and
    the regression targets of the positive ones (``[P, 4]``, P = labels.sum(),
    in the order the positives appear in ``index``)."""
    if len(gt_boxes) == 0:
        negative = np.arange(len(anchors))
        _, negative = _sample(np.zeros(0, np.int64), negative, batch_size, positive_fraction, rng)
        return negative, np.zeros(len(negative), np.float32), np.zeros((0, 4), np.float32)
    iou = _iou(anchors, gt_boxes, box_convention)  # [A, G]
    best_gt = iou.argmax(axis=1)
    best_iou = iou.max(axis=1)
    labels = np.full(len(anchors), -1, np.int64)
    labels[best_iou < negative_overlap] = 0
    # Every box's best anchors are positive, however low their IoU (small objects).
    gt_best = iou.max(axis=0)
    anchor_is_best = (iou == gt_best[None]) & (gt_best[None] > 0)
    labels[anchor_is_best.any(axis=1)] = 1
    labels[best_iou >= positive_overlap] = 1
    positive, negative = _sample(np.flatnonzero(labels == 1), np.flatnonzero(labels == 0),
                                 batch_size, positive_fraction, rng)
    index = np.concatenate([positive, negative])
    label = np.concatenate([np.ones(len(positive)), np.zeros(len(negative))]).astype(np.float32)
    deltas = encode(gt_boxes[best_gt[positive]], anchors[positive], weights, box_convention)
    return index, label, deltas


def sample_rois(proposals: np.ndarray, gt_boxes: np.ndarray, gt_classes: np.ndarray,
                num_classes: int, rng: np.random.Generator, batch_size: int = 512,
                fg_fraction: float = 0.25, fg_overlap: float = 0.5,
                weights=(10.0, 10.0, 5.0, 5.0), box_convention: str = "corner"):
    """For one image: sampled RoIs ``[S, 4]``, their class (``num_classes`` is
    background), regression targets ``[S, 4]`` (zero for background), and the index of
    the matched ground-truth box (-1 for background)."""
    rois = np.concatenate([proposals.reshape(-1, 4), gt_boxes.reshape(-1, 4)]).astype(np.float32)
    if len(gt_boxes) == 0:
        _, bg = _sample(np.zeros(0, np.int64), np.arange(len(rois)), batch_size, fg_fraction, rng)
        return (rois[bg], np.full(len(bg), num_classes, np.int64), np.zeros((len(bg), 4), np.float32),
                np.full(len(bg), -1, np.int64))
    iou = _iou(rois, gt_boxes, box_convention)
    matched = iou.argmax(axis=1)
    best = iou.max(axis=1)
    fg, bg = _sample(np.flatnonzero(best >= fg_overlap), np.flatnonzero(best < fg_overlap),
                     batch_size, fg_fraction, rng)
    keep = np.concatenate([fg, bg])
    classes = np.full(len(keep), num_classes, np.int64)
    classes[:len(fg)] = gt_classes[matched[fg]]
    deltas = np.zeros((len(keep), 4), np.float32)
    deltas[:len(fg)] = encode(gt_boxes[matched[fg]], rois[fg], weights, box_convention)
    gt_index = np.full(len(keep), -1, np.int64)
    gt_index[:len(fg)] = matched[fg]
    return rois[keep], classes, deltas, gt_index


def mask_targets(gt_masks: np.ndarray, rois: np.ndarray, gt_index: np.ndarray,
                 resolution: int) -> np.ndarray:
    """``[R, res, res]`` float 0/1 targets: each RoI's window of its matched instance's
    full-image mask (``gt_masks [M, H, W]``), resampled bilinearly and thresholded at
    0.5 (as RoIAlign samples the features the prediction comes from)."""
    out = np.zeros((len(rois), resolution, resolution), np.float32)
    for k, (roi, g) in enumerate(zip(rois, gt_index, strict=True)):
        x1, y1, x2, y2 = (float(v) for v in roi)
        sx = max(x2 - x1, 1e-3) / resolution
        sy = max(y2 - y1, 1e-3) / resolution
        # target pixel (u, v) centre -> source point (x1 + (u + 0.5) sx, y1 + (v + 0.5) sy)
        matrix = np.array([[sx, 0, x1 + 0.5 * sx - 0.5], [0, sy, y1 + 0.5 * sy - 0.5]], np.float32)
        window = cv2.warpAffine(gt_masks[g].astype(np.float32), matrix, (resolution, resolution),
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        out[k] = window >= 0.5
    return out
