"""Anchors, and which ground-truth box each anchor of each grid cell is responsible for.

Targets are built in numpy from the padded boxes of a batch (cheap next to the network
on any device), so the data pipeline stays model-agnostic: a detection data set feeds
YOLOv3 and Faster R-CNN alike. Anchors fitted to a data set's boxes come from the core:
``pxcore.datasets.anchors.dataset_anchors``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pxcore.datasets.anchors import wh_iou

# YOLOv3's COCO anchors (k-means at 608x608, in pixels) and which level uses which:
# the deepest level (stride 32) takes the largest three.
COCO_ANCHORS = ((10, 13), (16, 30), (33, 23), (30, 61), (62, 45), (59, 119),
                (116, 90), (156, 198), (373, 326))
ANCHOR_MASKS = ((6, 7, 8), (3, 4, 5), (0, 1, 2))


def yolo_targets(gt_bbox: np.ndarray, gt_class: np.ndarray, gt_score: np.ndarray | None,
                 input_hw: tuple[int, int], anchors: Sequence[Sequence[float]],
                 anchor_masks: Sequence[Sequence[int]], strides: Sequence[int], num_classes: int,
                 iou_thresh: float = 1.0) -> list[np.ndarray]:
    """One target array per level, ``[B, len(mask), 6 + C, H/stride, W/stride]``.

    ``gt_bbox`` is ``[B, M, 4]`` x1,y1,x2,y2 in input pixels, zero rows being padding.
    Along axis 2: tx, ty (offset in the cell), tw, th (log size over the anchor), the
    box-size weight 2 - w*h (small boxes count more), the objectness target (the box's
    mixup score) and the one-hot class. A box goes to the anchor that fits its shape
    best of all levels; with ``iou_thresh`` < 1 also to the other anchors of that
    level that fit above it (PP-YOLO).
    """
    height, width = input_hw
    anchors = np.asarray(anchors, np.float32)
    anchors_norm = anchors / np.array([width, height], np.float32)
    batch = gt_bbox.shape[0]
    targets = []
    for mask, stride in zip(anchor_masks, strides, strict=True):
        grid_h, grid_w = height // stride, width // stride
        targets.append(np.zeros((batch, len(mask), 6 + num_classes, grid_h, grid_w), np.float32))
    if gt_score is None:
        gt_score = np.ones(gt_class.shape, np.float32)
    for b in range(batch):
        boxes = np.asarray(gt_bbox[b], np.float32).reshape(-1, 4)
        w = (boxes[:, 2] - boxes[:, 0]) / width
        h = (boxes[:, 3] - boxes[:, 1]) / height
        cx = (boxes[:, 0] + boxes[:, 2]) / 2 / width
        cy = (boxes[:, 1] + boxes[:, 3]) / 2 / height
        scores = np.asarray(gt_score[b], np.float32).reshape(-1)
        valid = np.flatnonzero((w > 0) & (h > 0) & (scores > 0))
        if not valid.size:
            continue
        ious = wh_iou(np.stack([w[valid], h[valid]], 1), anchors_norm)
        best = ious.argmax(1)
        classes = np.asarray(gt_class[b]).reshape(-1)
        for row, n in enumerate(valid):
            for target, mask in zip(targets, anchor_masks, strict=True):
                grid_h, grid_w = target.shape[3:]
                gi = min(int(cx[n] * grid_w), grid_w - 1)
                gj = min(int(cy[n] * grid_h), grid_h - 1)
                chosen = [mask.index(best[row])] if best[row] in mask else []
                if iou_thresh < 1:
                    chosen += [i for i, a in enumerate(mask) if a != best[row]
                               and ious[row, a] > iou_thresh and target[b, i, 5, gj, gi] == 0]
                for i in chosen:
                    a = mask[i]
                    cell = target[b, i, :, gj, gi]
                    cell[:] = 0
                    cell[0] = cx[n] * grid_w - gi
                    cell[1] = cy[n] * grid_h - gj
                    cell[2] = np.log(w[n] * width / anchors[a, 0])
                    cell[3] = np.log(h[n] * height / anchors[a, 1])
                    cell[4] = 2.0 - w[n] * h[n]
                    cell[5] = scores[n]
                    cell[6 + int(classes[n])] = 1.0
    return targets
