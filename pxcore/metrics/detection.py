"""Detection metrics as PaddleX reports them: COCO mAP (through pycocotools, so numbers
match the official ones) for boxes and, when the results carry masks, for instance
segmentation; and Pascal VOC mAP@0.5. Both accumulate per batch and report a dict;
``per_class`` is ``{iou_type: {label: AP}}``, where a class with no ground truth has AP
``nan`` and does not count towards the mean. Boxes use the continuous-coordinate IoU of
``transforms.geometry``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import PxError
from ..transforms.geometry import as_boxes, box_iou

logger = logging.getLogger("pxcore")


def _quiet():
    """pycocotools prints progress and tables; keep training logs clean."""
    return contextlib.redirect_stdout(io.StringIO())


class CocoDetectionMetric:
    """COCO mAP@[.5:.95] and mAP@.5 per IoU type (``"bbox"``, ``"segm"``), reported as
    ``{iou_type}_mmap`` and ``{iou_type}_map50``.

    ``coco_gt`` is a COCO ground-truth dict; class index ``i`` maps to the ``i``-th
    category id in sorted order (ids are index + 1 in pxcore's data sets). ``update``
    takes COCO-style results whose ``category_id`` is the 0-based class index.

    With ``iou_types=None`` (the default) boxes are always evaluated, and masks too
    (``segm_mmap``, ``segm_map50``) when the results carry a ``"segmentation"``: an RLE
    dict (``pxcore.ops.mask_to_rle``), a binary ``HxW`` array or polygons, in the
    pixels of the image the ground truth describes. Mask AP needs the images' ``height``
    and ``width`` and the annotations' polygon or RLE ``segmentation`` (``to_coco()``
    has both); an annotation without one counts as its box."""

    def __init__(self, coco_gt: dict[str, Any], labels: Sequence[str],
                 iou_types: Sequence[str] | None = None) -> None:
        if iou_types is not None:
            if isinstance(iou_types, str):
                iou_types = (iou_types,)
            unknown = set(iou_types) - {"bbox", "segm"}
            if unknown:
                raise PxError(f"CocoDetectionMetric: iou_types {sorted(unknown)} are not 'bbox' "
                              "or 'segm'")
        self.labels = list(labels)
        self.iou_types = None if iou_types is None else tuple(iou_types)
        self.coco_gt = self._complete(coco_gt)
        self.cat_ids = sorted(c["id"] for c in self.coco_gt["categories"])
        if len(self.cat_ids) != len(self.labels):
            raise PxError(f"CocoDetectionMetric: the ground truth has {len(self.cat_ids)} categories "
                          f"but {len(self.labels)} labels were given; pass the data set's labels")
        self.image_ids = {image["id"] for image in self.coco_gt["images"]}
        self.image_sizes = {image["id"]: (int(image["height"]), int(image["width"]))
                            for image in self.coco_gt["images"]
                            if "height" in image and "width" in image}
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
                ann["area"] = _segmentation_area(ann.get("segmentation"), ann["bbox"])
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
            if "segmentation" in result:
                converted["segmentation"] = self._rle(result["segmentation"], result["image_id"])
            self.results.append(converted)

    def _rle(self, segmentation: Any, image_id: Any) -> dict[str, Any]:
        """A result's mask as compressed RLE with str counts, checked against its image."""
        from ..ops.masks import mask_to_rle, rle_to_mask

        size = self.image_sizes.get(image_id)
        where = f"CocoDetectionMetric: the segmentation of a result for image_id {image_id}"
        if isinstance(segmentation, np.ndarray):
            if segmentation.ndim == 2 and size is not None and segmentation.shape != size:
                raise PxError(f"{where} is a {segmentation.shape[0]}x{segmentation.shape[1]} mask "
                              f"but the image is {size[0]}x{size[1]} (height x width); paste the "
                              "masks into the original image's size")
            return mask_to_rle(segmentation)
        if isinstance(segmentation, dict):
            rle_size = segmentation.get("size")
            if size is not None and rle_size is not None and list(rle_size) != list(size):
                raise PxError(f"{where} is a {rle_size[0]}x{rle_size[1]} RLE but the image is "
                              f"{size[0]}x{size[1]} (height x width); paste the masks into the "
                              "original image's size")
            counts = segmentation.get("counts")
            if isinstance(counts, str | bytes) and rle_size is not None:
                counts = counts.decode("ascii") if isinstance(counts, bytes) else counts
                return {"size": [int(v) for v in rle_size], "counts": counts}
            return mask_to_rle(rle_to_mask(segmentation))  # uncompressed, or an error
        if isinstance(segmentation, list):
            if size is None:
                raise PxError(f"{where} is polygons, but the ground truth's image {image_id} "
                              "has no height and width to draw them in")
            return mask_to_rle(rle_to_mask(segmentation, size))
        raise PxError(f"{where} is a {type(segmentation).__name__}; expected an RLE dict "
                      "(pxcore.ops.mask_to_rle), a binary HxW array or polygons")

    def reset(self) -> None:
        self.results = []

    def _evaluated_types(self) -> tuple[str, ...]:
        if self.iou_types is not None:
            return self.iou_types
        if any("segmentation" in r for r in self.results):
            return ("bbox", "segm")
        return ("bbox",)

    def _segm_ground_truth(self) -> dict[str, Any]:
        """The ground truth for mask AP: image sizes checked, and annotations without a
        segmentation given their box as a rectangle."""
        unsized = [image["id"] for image in self.coco_gt["images"]
                   if image["id"] not in self.image_sizes]
        if unsized:
            raise PxError(f"CocoDetectionMetric: mask AP needs each image's 'height' and 'width' "
                          f"in the ground truth; images {unsized[:5]} lack them")
        annotations = self.coco_gt["annotations"]
        missing = [a for a in annotations if not a.get("segmentation")]
        if len(missing) == len(annotations):
            raise PxError("CocoDetectionMetric: the results have masks but no ground-truth "
                          "annotation has a 'segmentation'; mask AP needs polygon or RLE ground "
                          "truth (a COCO data set with segmentations)")
        if not missing:
            return self.coco_gt
        logger.warning("CocoDetectionMetric: %d of %d ground-truth annotations have no "
                       "segmentation; their boxes count as their masks", len(missing),
                       len(annotations))
        gt = dict(self.coco_gt)
        gt["annotations"] = [a if a.get("segmentation") else {**a, "segmentation": _box_polygon(a)}
                             for a in annotations]
        return gt

    def result(self, per_class: bool = False) -> dict[str, Any]:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        out: dict[str, Any] = {}
        classes: dict[str, dict[str, float]] = {}
        for iou_type in self._evaluated_types():
            if iou_type == "segm":
                dets = [{k: v for k, v in r.items() if k != "bbox"} for r in self.results
                        if "segmentation" in r]
                if dets and len(dets) != len(self.results):
                    raise PxError(f"CocoDetectionMetric: {len(dets)} of {len(self.results)} "
                                  "results carry a segmentation; mask AP needs one on every "
                                  "result (or on none, for box AP alone)")
            else:
                dets = [{k: v for k, v in r.items() if k != "segmentation"} for r in self.results]
            if not dets or not self.coco_gt["annotations"]:
                out[f"{iou_type}_mmap"] = out[f"{iou_type}_map50"] = 0.0
                classes[iou_type] = {name: 0.0 for name in self.labels}
                continue
            with _quiet():
                gt = COCO()
                gt.dataset = self._segm_ground_truth() if iou_type == "segm" else self.coco_gt
                gt.createIndex()
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


def _box_polygon(ann: dict[str, Any]) -> list[list[float]]:
    x, y, w, h = (float(v) for v in ann["bbox"])
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def _segmentation_area(segmentation: Any, bbox: Sequence[float]) -> float:
    """COCO's area: the polygons' (shoelace) or the RLE's pixel count, else the box's."""
    if isinstance(segmentation, list) and segmentation:
        total = 0.0
        for polygon in segmentation:
            xy = np.asarray(polygon, np.float64).reshape(-1, 2)
            x, y = xy[:, 0], xy[:, 1]
            total += abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))) / 2
        return total
    if isinstance(segmentation, dict):
        from ..ops.masks import rle_to_mask

        return float(rle_to_mask(segmentation).sum())
    return float(bbox[2] * bbox[3])


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


def voc_from_results(metric, coco_gt: dict, results: list[dict]):
    """``metric`` (a VOCMetric) fed image by image from COCO ground truth and results."""
    gts: dict[int, list] = {int(im["id"]): [] for im in coco_gt["images"]}
    for ann in coco_gt["annotations"]:
        gts.setdefault(int(ann["image_id"]), []).append(ann)
    preds: dict[int, list] = {}
    for r in results:
        preds.setdefault(int(r["image_id"]), []).append(r)
    for image_id, anns in gts.items():
        boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                           a["bbox"][1] + a["bbox"][3]] for a in anns], np.float32).reshape(-1, 4)
        classes = np.array([a["category_id"] - 1 for a in anns], np.int64)
        difficult = np.array([a.get("ignore", 0) for a in anns], np.int64)
        mine = preds.get(image_id, [])
        pb = np.array([[p["bbox"][0], p["bbox"][1], p["bbox"][0] + p["bbox"][2],
                        p["bbox"][1] + p["bbox"][3]] for p in mine], np.float32).reshape(-1, 4)
        metric.update(boxes, classes, difficult, pb,
                      np.array([p["category_id"] for p in mine], np.int64),
                      np.array([p["score"] for p in mine], np.float32))
    return metric


def score_detections(coco_gt: dict[str, Any], labels: Sequence[str], results: list[dict[str, Any]],
                     voc: bool = False, per_class: bool = False) -> dict[str, Any]:
    """COCO's ``bbox_mmap``/``bbox_map50`` (and masks' where results carry them) for
    results in COCO's format (``image_id``, class-index ``category_id``, x/y/w/h
    ``bbox``, ``score``); with ``voc`` also VOC's ``bbox_map``. What ``model.evaluate``
    and the evaluation of an export both report."""
    coco = CocoDetectionMetric(coco_gt, labels)
    coco.update(results)
    scores = coco.result(per_class=per_class)
    if voc:
        voc_scores = voc_from_results(VOCMetric(labels), coco_gt, results).result(per_class=per_class)
        scores["bbox_map"] = voc_scores["bbox_map"]
        if per_class:
            scores.setdefault("per_class", {})["voc"] = voc_scores.get("per_class")
    return scores
