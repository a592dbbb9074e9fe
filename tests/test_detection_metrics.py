"""COCO and VOC detection metrics: perfect is 1, worse is lower, nothing is 0."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pxcore.errors import PxError
from pxcore.metrics import CocoDetectionMetric, VOCMetric, voc_ap

LABELS = ["cat", "dog"]
# image id -> [(class index, x, y, w, h)]
OBJECTS = {1: [(0, 10, 10, 40, 30), (1, 60, 20, 30, 50)], 2: [(1, 5, 5, 50, 50)]}


def _coco_gt(with_masks=False):
    from pycocotools import mask as mask_util

    annotations = []
    for image_id, objects in OBJECTS.items():
        for c, x, y, w, h in objects:
            ann = {"image_id": image_id, "category_id": c + 1, "bbox": [x, y, w, h]}
            if with_masks:
                ann["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
                ann["area"] = float(mask_util.area(_rle(x, y, w, h)))
            annotations.append(ann)
    return {"images": [{"id": i, "width": 100, "height": 100} for i in OBJECTS],
            "categories": [{"id": i + 1, "name": n} for i, n in enumerate(LABELS)],
            "annotations": annotations}


def _rle(x, y, w, h):
    from pycocotools import mask as mask_util

    mask = np.zeros((100, 100), np.uint8, order="F")
    mask[y:y + h, x:x + w] = 1
    rle = mask_util.encode(np.asfortranarray(mask))
    rle["counts"] = rle["counts"].decode()
    return rle


def _results(shift=0, masks=False):
    out = []
    for image_id, objects in OBJECTS.items():
        for c, x, y, w, h in objects:
            result = {"image_id": image_id, "category_id": c, "bbox": [x + shift, y + shift, w, h], "score": 0.9}
            if masks:
                result["segmentation"] = _rle(x + shift, y + shift, w, h)
            out.append(result)
    return out


def test_coco_perfect_shifted_and_empty():
    metric = CocoDetectionMetric(_coco_gt(), LABELS)
    metric.update(_results())
    perfect = metric.result(per_class=True)
    assert perfect["bbox_mmap"] == pytest.approx(1.0) and perfect["bbox_map50"] == pytest.approx(1.0)
    assert perfect["per_class"]["bbox"] == {"cat": pytest.approx(1.0), "dog": pytest.approx(1.0)}

    shifted = CocoDetectionMetric(_coco_gt(), LABELS)
    shifted.update(_results(shift=6))
    result = shifted.result()
    assert 0.0 < result["bbox_mmap"] < 0.9 and result["bbox_mmap"] < result["bbox_map50"]
    assert "per_class" not in result

    empty = CocoDetectionMetric(_coco_gt(), LABELS)
    empty.update([])
    assert empty.result(per_class=True)["bbox_mmap"] == 0.0


def test_coco_segm_and_bad_input():
    metric = CocoDetectionMetric(_coco_gt(with_masks=True), LABELS, iou_types=("bbox", "segm"))
    metric.update(_results(masks=True))
    result = metric.result()
    assert result["segm_mmap"] == pytest.approx(1.0) and result["segm_map50"] == pytest.approx(1.0)
    assert result["bbox_mmap"] == pytest.approx(1.0)
    with pytest.raises(PxError, match="image_id 99"):
        metric.update([{"image_id": 99, "category_id": 0, "bbox": [0, 0, 1, 1], "score": 1.0}])
    with pytest.raises(PxError, match="2 categories but 3 labels"):
        CocoDetectionMetric(_coco_gt(), [*LABELS, "bird"])


def _voc_update(metric, shift=0.0):
    for objects in OBJECTS.values():
        boxes = np.array([[x, y, x + w, y + h] for _, x, y, w, h in objects], np.float32)
        classes = [c for c, *_ in objects]
        metric.update(boxes, classes, np.zeros(len(classes)), boxes + shift, classes, np.full(len(classes), 0.9))


def test_voc_perfect_shifted_empty():
    metric = VOCMetric(LABELS)
    _voc_update(metric)
    result = metric.result(per_class=True)
    assert result["bbox_map"] == pytest.approx(1.0)
    assert result["per_class"]["bbox"] == {"cat": pytest.approx(1.0), "dog": pytest.approx(1.0)}
    shifted = VOCMetric(LABELS)
    _voc_update(shifted, shift=8.0)  # IoU: cat .42, small dog .45 (misses), big dog .55
    assert 0.0 < shifted.result()["bbox_map"] < 1.0
    empty = VOCMetric(LABELS)
    empty.update([[0, 0, 10, 10]], [0], [0], np.zeros((0, 4)), [], [])
    assert empty.result()["bbox_map"] == 0.0
    assert VOCMetric(LABELS).result()["bbox_map"] == 0.0


def test_voc_hand_computed_case():
    # two cats; predictions by score: hit, miss, hit -> recall .5 .5 1, precision 1 .5 2/3
    gt = [[0, 0, 10, 10], [20, 20, 30, 30]]
    pred = [[0, 0, 10, 10], [50, 50, 60, 60], [21, 21, 31, 31]]
    for use_11point, expected in [(False, 0.5 * 1 + 0.5 * 2 / 3), (True, (6 * 1 + 5 * 2 / 3) / 11)]:
        metric = VOCMetric(LABELS, use_11point=use_11point)
        metric.update(gt, [0, 0], [0, 0], pred, [0, 0, 0], [0.9, 0.8, 0.7])
        result = metric.result(per_class=True)
        assert result["per_class"]["bbox"]["cat"] == pytest.approx(expected)
        assert math.isnan(result["per_class"]["bbox"]["dog"])  # no dogs: not in the mean
        assert result["bbox_map"] == pytest.approx(expected)


def test_voc_difficult_and_duplicates():
    gt, difficult = [[0, 0, 10, 10], [20, 20, 30, 30]], [0, 1]
    pred, scores = [[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30]], [0.9, 0.8, 0.7]
    metric = VOCMetric(LABELS)  # duplicate is a miss; the difficult match is ignored
    metric.update(gt, [0, 0], difficult, pred, [0, 0, 0], scores)
    assert metric.result()["bbox_map"] == pytest.approx(1.0)
    strict = VOCMetric(LABELS, ignore_difficult=False)  # recall .5 .5 1, precision 1 .5 2/3
    strict.update(gt, [0, 0], difficult, pred, [0, 0, 0], scores)
    assert strict.result()["bbox_map"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert voc_ap(np.array([0.5, 1.0]), np.array([1.0, 0.5])) == pytest.approx(0.75)
    # miss, hit, hit: precision .5 at recall .5 is lifted to the later 2/3 (the envelope)
    assert voc_ap(np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.5, 2 / 3])) == pytest.approx(2 / 3)
    with pytest.raises(PxError, match="strip PadBox padding"):
        metric.update(gt, [0], None, pred, [0, 0, 0], scores)


def test_coco_segm_follows_the_results():
    """Without iou_types, masks in the results add segm AP beside the box AP."""
    perfect = CocoDetectionMetric(_coco_gt(with_masks=True), LABELS)
    perfect.update(_results(masks=True))
    result = perfect.result(per_class=True)
    assert result["segm_mmap"] == pytest.approx(1.0) and result["segm_map50"] == pytest.approx(1.0)
    assert result["bbox_mmap"] == pytest.approx(1.0)
    assert result["per_class"]["segm"] == {"cat": pytest.approx(1.0), "dog": pytest.approx(1.0)}

    # boxes stay where they are, masks move: only segm drops
    moved = CocoDetectionMetric(_coco_gt(with_masks=True), LABELS)
    moved.update([{**r, "segmentation": _rle(x + 6, y + 6, w, h)}
                  for r, (x, y, w, h) in zip(_results(), _boxes(), strict=True)])
    result = moved.result()
    assert result["bbox_mmap"] == pytest.approx(1.0)
    assert 0.0 < result["segm_mmap"] < 0.9 and result["segm_mmap"] < result["segm_map50"]

    boxes_only = CocoDetectionMetric(_coco_gt(with_masks=True), LABELS)
    boxes_only.update(_results())
    assert set(boxes_only.result(per_class=True)) == {"bbox_mmap", "bbox_map50", "per_class"}
    assert set(boxes_only.result(per_class=True)["per_class"]) == {"bbox"}


def _boxes():
    return [(x, y, w, h) for objects in OBJECTS.values() for _, x, y, w, h in objects]


def test_coco_segm_on_a_data_sets_polygons(tmp_path):
    """to_coco()'s polygon ground truth against masks drawn from the same polygons."""
    import json

    from pxcore.datasets.detection import CocoDetection
    from pxcore.ops import mask_to_rle, rle_to_mask

    polygons = {1: [[10, 10, 40, 12, 20, 45]], 2: [[50, 20, 70, 20, 70, 40, 50, 40], [72, 5, 78, 5, 78, 15]]}
    (tmp_path / "a.jpg").write_bytes(b"")  # never decoded: the sizes are given
    coco = {"images": [{"id": 7, "file_name": "a.jpg", "width": 80, "height": 60}],
            "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
            "annotations": [{"id": k, "image_id": 7, "category_id": k, "bbox": [10, 5, 60, 40],
                             "segmentation": polygons[k]} for k in (1, 2)]}
    (tmp_path / "ann.json").write_text(json.dumps(coco))
    dataset = CocoDetection(tmp_path, tmp_path / "ann.json")
    results = [{"image_id": 7, "category_id": k - 1, "bbox": [10, 5, 60, 40], "score": 0.8,
                "segmentation": mask_to_rle(rle_to_mask(polygons[k], (60, 80)))} for k in (1, 2)]
    metric = CocoDetectionMetric(dataset.to_coco(), dataset.labels)
    metric.update(results)
    assert metric.result()["segm_mmap"] == pytest.approx(1.0)
    # a binary array and bytes counts are taken too
    metric = CocoDetectionMetric(dataset.to_coco(), dataset.labels)
    metric.update([{**results[0], "segmentation": rle_to_mask(polygons[1], (60, 80))},
                   {**results[1], "segmentation": {**results[1]["segmentation"],
                                                   "counts": results[1]["segmentation"]["counts"].encode()}}])
    assert metric.result()["segm_mmap"] == pytest.approx(1.0)
    assert isinstance(metric.results[1]["segmentation"]["counts"], str)


def test_coco_segm_errors():
    metric = CocoDetectionMetric(_coco_gt(with_masks=True), LABELS)
    with pytest.raises(PxError, match="image_id 1 is a 50x100 RLE but the image is 100x100"):
        metric.update([{**_results()[0], "segmentation": {"size": [50, 100], "counts": "abc"}}])
    with pytest.raises(PxError, match="image_id 1 is a 100x90 mask but the image is 100x100"):
        metric.update([{**_results()[0], "segmentation": np.zeros((100, 90), np.uint8)}])
    with pytest.raises(PxError, match="expected an RLE dict"):
        metric.update([{**_results()[0], "segmentation": "abc"}])
    metric.update(_results(masks=True)[:1] + _results()[1:])
    with pytest.raises(PxError, match="1 of 3 results carry a segmentation"):
        metric.result()
    no_gt_masks = CocoDetectionMetric(_coco_gt(), LABELS)
    no_gt_masks.update(_results(masks=True))
    with pytest.raises(PxError, match="no ground-truth annotation has a 'segmentation'"):
        no_gt_masks.result()
    gt = _coco_gt(with_masks=True)
    del gt["images"][0]["height"]
    unsized = CocoDetectionMetric(gt, LABELS)
    unsized.update(_results(masks=True))
    with pytest.raises(PxError, match=r"'height' and 'width'.*images \[1\]"):
        unsized.result()
    # an annotation without a segmentation counts as its box (here the same as its mask)
    gt = _coco_gt(with_masks=True)
    del gt["annotations"][0]["segmentation"]
    boxed = CocoDetectionMetric(gt, LABELS)
    boxed.update(_results(masks=True))
    assert boxed.result()["segm_mmap"] == pytest.approx(1.0)
