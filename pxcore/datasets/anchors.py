"""Anchor sizes fitted to a detection data set's boxes: k-means over box widths and
heights with 1 - IoU as the distance (YOLOv2's recipe). Any anchor-based detector can
take them in place of anchors fitted to COCO when the data's objects are unlike COCO's.

numpy only: no model, no paddle.
"""

from __future__ import annotations

import numpy as np


def wh_iou(wh: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """IoU of boxes and anchors placed at the same centre: [N, 2] x [A, 2] -> [N, A]."""
    inter = np.minimum(wh[:, None, 0], anchors[None, :, 0]) * np.minimum(wh[:, None, 1], anchors[None, :, 1])
    union = wh[:, None].prod(-1) + anchors[None].prod(-1) - inter
    return inter / np.maximum(union, 1e-12)


def cluster_anchors(box_sizes: np.ndarray, count: int = 9, seed: int = 0,
                    iterations: int = 100) -> list[list[int]]:
    """``count`` anchors fitted to a data set's box sizes (``[N, 2]`` widths and heights
    in input pixels) by k-means with 1 - IoU as the distance (YOLOv2's recipe), smallest
    first: what to pass as ``anchors`` when the data's objects are unlike COCO's."""
    sizes = np.asarray(box_sizes, np.float32).reshape(-1, 2)
    sizes = sizes[(sizes > 0).all(1)]
    if len(sizes) < count:
        raise ValueError(f"cluster_anchors: {len(sizes)} boxes cannot make {count} anchors")
    rng = np.random.default_rng(seed)
    centres = sizes[rng.choice(len(sizes), count, replace=False)]
    for _ in range(iterations):
        nearest = wh_iou(sizes, centres).argmax(1)
        moved = np.array([np.median(sizes[nearest == k], 0) if (nearest == k).any() else centres[k]
                          for k in range(count)])
        if np.allclose(moved, centres):
            break
        centres = moved
    centres = centres[np.argsort(centres.prod(1))]
    return [[max(1, round(float(w))), max(1, round(float(h)))] for w, h in centres]


def dataset_anchors(dataset, input_size: int | tuple[int, int], count: int = 9,
                    seed: int = 0) -> list[list[int]]:
    """``cluster_anchors`` over a detection data set's boxes, scaled to ``input_size``
    (an int or (height, width)) from each image's own size."""
    height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
    coco = dataset.to_coco()
    shapes = {im["id"]: (im["height"], im["width"]) for im in coco["images"]}
    sizes = [(a["bbox"][2] * width / shapes[a["image_id"]][1],
              a["bbox"][3] * height / shapes[a["image_id"]][0]) for a in coco["annotations"]]
    return cluster_anchors(np.array(sizes), count, seed)
