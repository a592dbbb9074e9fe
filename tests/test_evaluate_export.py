"""An export scored with its task's metric (pxcore.deploy.evaluate_export, px eval on an
export): the wiring checked exactly with predictors that answer the ground truth, and
real exports scored as ``model.evaluate`` scores the Python model."""

from __future__ import annotations

import json

import numpy as np
import pytest

import pxcore
from pxcore.deploy.evaluate import evaluate_export
from pxcore.errors import PxError


class _Oracle:
    """A Predictor stand-in answering each image with ``answer(image)``."""

    def __init__(self, task, num_classes, answer, info=None):
        self.task, self.num_classes, self.answer = task, num_classes, answer
        self.info = info or {"postprocess": {}}
        self.calls = []

    def predict(self, images, batch_size=8, **options):
        self.calls.append((len(images), options))
        return [self.answer(image, **options) for image in images]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = pxcore.datasets.make_shapes(tmp_path_factory.mktemp("shapes"), num_images=10,
                                       image_size=64, seed=2, val=0.5, test=0.0)
    voc = pxcore.datasets.VOCDetection(root, root / "val_list.txt", root / "labels.txt")
    seg = pxcore.datasets.SegDataset(root, root / "seg_val_list.txt", root / "seg_labels.txt")
    return root, voc, seg


def test_detection_wiring_scores_the_ground_truth_at_one_and_wrong_classes_at_zero(shapes):
    _, voc, _ = shapes
    truth = {str(r.path): r for r in voc.samples}

    def boxes(image, shift=0, **_):
        record = truth[image]
        return [{"category_id": (c + shift) % voc.num_classes, "category": "x", "score": 0.9,
                 "bbox": [x1, y1, x2 - x1, y2 - y1]}
                for c, (x1, y1, x2, y2) in zip(record.classes, record.boxes, strict=True)]

    right = evaluate_export(_Oracle("detection", voc.num_classes, boxes), voc, batch_size=3)
    assert right["bbox_map50"] == pytest.approx(1.0) and right["bbox_mmap"] == pytest.approx(1.0)
    assert right["bbox_map"] == pytest.approx(1.0)  # VOC data: VOC's mAP too
    wrong = evaluate_export(_Oracle("detection", voc.num_classes,
                                    lambda image, **o: boxes(image, shift=1)), voc)
    assert wrong["bbox_map50"] == 0.0 and wrong["bbox_map"] == 0.0
    masks = _Oracle("instance_segmentation", voc.num_classes, lambda image, **o: [])
    evaluate_export(masks, voc)
    assert {options["mask_format"] for _, options in masks.calls} == {"coco"}


def test_segmentation_wiring_counts_pixels_and_leaves_out_ignored_ones(shapes):
    _, _, seg = shapes
    labels = {i: seg.load(i)["label_map"] for i in range(len(seg))}
    by_image = {seg.load(i)["image"].tobytes(): labels[i] for i in labels}
    perfect = evaluate_export(_Oracle("semantic_segmentation", seg.num_classes,
                                      lambda image, **o: {"label_map": by_image[image.tobytes()]}), seg)
    assert perfect["miou"] == pytest.approx(1.0)
    background = evaluate_export(_Oracle("semantic_segmentation", seg.num_classes,
                                         lambda image, **o: {"label_map": np.zeros_like(by_image[image.tobytes()])}),
                                 seg)
    everything = np.concatenate([m.ravel() for m in labels.values()])
    assert background["oacc"] == pytest.approx(np.mean(everything == 0))
    # all background against the truth: background's IoU is its share of the counted pixels
    counts = np.bincount(everything, minlength=seg.num_classes)
    assert background["category_iou"][0] == pytest.approx(counts[0] / counts.sum())
    # deploy.yml's ignore_index leaves class 1's pixels out of the count
    ignoring = _Oracle("semantic_segmentation", seg.num_classes,
                       lambda image, **o: {"label_map": np.zeros_like(by_image[image.tobytes()])},
                       info={"postprocess": {"ignore_index": 1}})
    assert counts[1] > 0
    assert evaluate_export(ignoring, seg)["category_iou"][0] == pytest.approx(
        counts[0] / (counts.sum() - counts[1]))


def test_classification_wiring_and_class_count_check(digits_dir):
    val = pxcore.datasets.ImageNet(digits_dir, digits_dir / "val_list.txt", digits_dir / "labels.txt")
    label_of = {str(path): label for path, label in val.samples}

    def ranked(image, topk=1, **_):
        first = label_of[image]
        return [{"category_id": (first + k) % 10, "score": 1.0 / (k + 1)} for k in range(topk)]

    assert evaluate_export(_Oracle("classification", 10, ranked), val) == {"acc1": 1.0, "acc5": 1.0}

    def second(image, topk=1, **_):
        return ranked(image, topk)[1:] + ranked(image, topk)[:1]

    assert evaluate_export(_Oracle("classification", 10, second), val) == {"acc1": 0.0, "acc5": 1.0}
    with pytest.raises(PxError, match="the evaluation set has 10 classes but the exported model 3"):
        evaluate_export(_Oracle("classification", 3, ranked), val)


@pytest.mark.parity
def test_an_export_scores_what_the_python_model_scores(good_plugin, digits_dir, tmp_path, capsys):
    from digits_classifier import train_digits_classifier

    from pxcore.cli import main

    model = train_digits_classifier(digits_dir, tmp_path / "out")
    val = pxcore.datasets.ImageNet(digits_dir, digits_dir / "val_list.txt", digits_dir / "labels.txt",
                                   transforms=model.eval_transforms)
    expected = model.evaluate(val)
    assert expected["acc1"] > 0.3  # trained: the comparison is not between chance levels
    out = model.export(tmp_path / "inference")
    got = evaluate_export(pxcore.Predictor(out, runtime="paddle"), val)
    # Paddle Inference against eager: logits within float rounding, so an image can change
    # its top-1 only on a tie within that; allow one image either way.
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert abs(got[key] - value) <= 1 / len(val), (key, got, expected)
    assert main(["eval", str(out), "--file-list", str(digits_dir / "val_list.txt"),
                 "--runtime", "paddle"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["runtime"] == "paddle" and printed["precision"] == "fp32"
    assert printed["acc1"] == got["acc1"]  # the same runtime on the same images
