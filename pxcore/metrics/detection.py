"""Detection metrics as PaddleX reports them: COCO mAP (through pycocotools, so numbers
match the official ones) and Pascal VOC mAP@0.5. Both accumulate per batch and report a
dict; ``per_class`` is ``{iou_type: {label: AP}}``, where a class with no ground
truth has AP ``nan`` and does not count towards the mean. Boxes use the continuous-coordinate IoU of ``transforms.geometry``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import PxError
from ..transforms.geometry import as_boxes, box_iou


def _quiet():
    """pycocotools prints progress and tables; keep training logs clean."""
    return contextlib.redirect_stdout(io.StringIO())


class CocoDetectionMetric:
    """COCO mAP@[.5:.95] and mAP@.5 per IoU type (``"bbox"``, ``"segm"``).

    ``coco_gt`` is a COCO ground-truth dict; class index ``i`` maps to the ``i``-th
    category id in sorted order (ids are index + 1 in pxcore's data sets). ``update``
    takes COCO-style results whose ``category_id`` is the 0-based class index."""

    def __init__(self, coco_gt: dict[str, Any], labels: Sequence[str],
                 iou_types: Sequence[str] = ("bbox",)) -> None:
        unknown = set(iou_types) - {"bbox", "segm"}
        if unknown:
            raise PxError(f"CocoDetectionMetric: iou_types {sorted(unknown)} are not 'bbox' or 'segm'")
        self.labels = list(labels)
        self.iou_types = tuple(iou_types)
        self.coco_gt = self._complete(coco_gt)
        self.cat_ids = sorted(c["id"] for c in self.coco_gt["categories"])
        if len(self.cat_ids) != len(self.labels):
            raise PxError(f"CocoDetectionMetric: the ground truth has {len(self.cat_ids)} categories "
                          f"but {len(self.labels)} labels were given; pass the data set's labels")
        self.image_ids = {image["id"] for image in self.coco_gt["images"]}
        self.results: list[dict[str, Any]] = []

    @staticmethod
    def _complete(coco_gt):
        """Fill what pycocotools needs but hand-made ground truth often lacks."""
        gt = copy.deepcopy(dict(coco_gt))
        gt.setdefault("images", [])
        gt.setdefault("categories", [])
        annotations = gt.setdefault("annotations", [])
        for i, ann in enumerate(annotations, 1):
            ann.setdefault("id", i)
            ann.setdefault("iscrowd", 0)
            if "area" not in ann:
                ann["area"] = float(ann["bbox"][2] * ann["bbox"][3])
        return gt

    def update(self, results: Sequence[dict[str, Any]]) -> None:
        for result in results:
            if result["image_id"] not in self.image_ids:
                raise PxError(f"CocoDetectionMetric: a result is for image_id {result['image_id']}, "
                              "which the ground truth does not have; evaluate on the data set the "
                              "ground truth was made from")
            converted = dict(result)
            converted["category_id"] = self.cat_ids[int(result["category_id"])]
            converted["bbox"] = [float(v) for v in result["bbox"]]
            converted["score"] = float(result["score"])
            self.results.append(converted)

    def reset(self) -> None:
        self.results = []

    def result(self, per_class: bool = False) -> dict[str, Any]:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        out: dict[str, Any] = {}
        classes: dict[str, dict[str, float]] = {}
        with _quiet():
            gt = COCO()
            gt.dataset = self.coco_gt
            gt.createIndex()
        for iou_type in self.iou_types:
            if iou_type == "segm":
                dets = [{k: v for k, v in r.items() if k != "bbox"} for r in self.results
                        if "segmentation" in r]
            else:
                dets = [{k: v for k, v in r.items() if k != "segmentation"} for r in self.results]
            if not dets or not gt.getAnnIds():
                out[f"{iou_type}_mmap"] = out[f"{iou_type}_map50"] = 0.0
                classes[iou_type] = {name: 0.0 for name in self.labels}
                continue
            with _quiet():
                evaluator = COCOeval(gt, gt.loadRes(dets), iou_type)
                evaluator.evaluate()
                evaluator.accumulate()
                evaluator.summarize()
            out[f"{iou_type}_mmap"] = max(0.0, float(evaluator.stats[0]))
            out[f"{iou_type}_map50"] = max(0.0, float(evaluator.stats[1]))
            # precision: [iou thresholds, recall points, classes, areas, max dets]
            precision = evaluator.eval["precision"][:, :, :, 0, -1]
            classes[iou_type] = {}
            for k, name in enumerate(self.labels):
                values = precision[:, :, k]
                values = values[values > -1]
                classes[iou_type][name] = float(values.mean()) if values.size else math.nan
        if per_class:
            out["per_class"] = classes
        return out


def voc_ap(recall: np.ndarray, precision: np.ndarray, use_11point: bool = False) -> float:
    """Area under the precision envelope (VOC 2010+), or the 11-point mean (VOC 2007)."""
    if use_11point:
        return float(np.mean([precision[recall >= t].max() if (recall >= t).any() else 0.0
                              for t in np.linspace(0, 1, 11)]))
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.flatnonzero(r[1:] != r[:-1])
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


class VOCMetric:
    """Pascal VOC mAP at ``iou_thresh``: per image, predictions (highest score first)
    match the unmatched ground-truth box of their class they overlap most; a match to a
    difficult box counts neither way when ``ignore_difficult``. Classes are 0-based."""

    def __init__(self, labels: Sequence[str], iou_thresh: float = 0.5, use_11point: bool = False,
                 ignore_difficult: bool = True) -> None:
        self.labels = list(labels)
        self.iou_thresh = iou_thresh
        self.use_11point = use_11point
        self.ignore_difficult = ignore_difficult
        self.reset()

    def reset(self) -> None:
        self.num_gt = np.zeros(len(self.labels), np.int64)
        self.scores: list[list[float]] = [[] for _ in self.labels]
        self.hits: list[list[bool]] = [[] for _ in self.labels]

    def update(self, gt_bbox, gt_class, difficult, pred_bbox_xyxy, pred_class, pred_score) -> None:
        """One image's ground truth and predictions (boxes x1, y1, x2, y2 in pixels)."""
        gt_bbox, pred_bbox = as_boxes(gt_bbox), as_boxes(pred_bbox_xyxy)
        gt_class = np.asarray(gt_class, np.int64).reshape(-1)
        difficult = (np.zeros(len(gt_class), bool) if difficult is None
                     else np.asarray(difficult).reshape(-1).astype(bool))
        if not self.ignore_difficult:
            difficult = np.zeros_like(difficult)
        pred_class = np.asarray(pred_class, np.int64).reshape(-1)
        pred_score = np.asarray(pred_score, np.float64).reshape(-1)
        if not len(gt_class) == len(gt_bbox) == len(difficult):
            raise PxError(f"VOCMetric.update: {len(gt_bbox)} gt boxes, {len(gt_class)} classes and "
                          f"{len(difficult)} difficult flags; strip PadBox padding before evaluating")
        if not len(pred_class) == len(pred_bbox) == len(pred_score):
            raise PxError(f"VOCMetric.update: {len(pred_bbox)} predicted boxes, {len(pred_class)} "
                          f"classes and {len(pred_score)} scores must match")
        for c in np.unique(np.concatenate([gt_class, pred_class])):
            if not 0 <= c < len(self.labels):
                raise PxError(f"VOCMetric.update: class {c} is outside the {len(self.labels)} labels")
            gts = np.flatnonzero(gt_class == c)
            self.num_gt[c] += int((~difficult[gts]).sum())
            preds = np.flatnonzero(pred_class == c)
            preds = preds[np.argsort(-pred_score[preds], kind="stable")]
            iou = box_iou(pred_bbox[preds], gt_bbox[gts])
            taken = np.zeros(len(gts), bool)
            for row, p in enumerate(preds):
                best = int(iou[row].argmax()) if len(gts) else -1
                if best >= 0 and iou[row, best] > self.iou_thresh:
                    if difficult[gts[best]]:
                        continue  # neither a hit nor a miss
                    hit = not taken[best]
                    taken[best] = True
                else:
                    hit = False
                self.scores[c].append(float(pred_score[p]))
                self.hits[c].append(hit)

    def result(self, per_class: bool = False) -> dict[str, Any]:
        aps = {}
        for c, name in enumerate(self.labels):
            if self.num_gt[c] == 0:
                aps[name] = math.nan
                continue
            order = np.argsort(-np.asarray(self.scores[c]), kind="stable")
            hits = np.asarray(self.hits[c], bool)[order]
            tp, fp = np.cumsum(hits), np.cumsum(~hits)
            recall = tp / self.num_gt[c]
            precision = tp / np.maximum(tp + fp, 1)
            aps[name] = voc_ap(recall, precision, self.use_11point) if len(hits) else 0.0
        valid = [ap for ap in aps.values() if not math.isnan(ap)]
        out: dict[str, Any] = {"bbox_map": float(np.mean(valid)) if valid else 0.0}
        if per_class:
            out["per_class"] = {"bbox": aps}
        return out
