"""Every YOLO zoo row through the workflow on the generated shapes: its loss falls, it
evaluates and predicts, and its export gives the same boxes in every CPU runtime."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

import pxcore as px
from pxcore import transforms as T
from pxcore.data.loader import Loader
from pxcore.testing.training import loss_falls, settle_batchnorm
from pxcore.transforms.geometry import box_iou
from pxcore_yolov3.anchors import dataset_anchors
from pxcore_yolov3.plugin import YOLOV3_BACKBONES

SIZE = 64
RUNTIMES = ("paddle", "onnxruntime")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = px.datasets.make_shapes(tmp_path_factory.mktemp("shapes"), num_images=20,
                                   image_size=SIZE, seed=2)
    eval_t = T.Compose([T.Resize(SIZE), T.Normalize()])
    train = px.datasets.VOCDetection(root, root / "train_list.txt", root / "labels.txt",
                                     transforms=T.Compose([T.Normalize()]))
    val = px.datasets.VOCDetection(root, root / "val_list.txt", root / "labels.txt",
                                   transforms=eval_t)
    return root, train, val


def same_boxes(a: list[dict], b: list[dict]) -> bool:
    """One to one: same class, IoU > 0.99, scores within 1e-4."""
    if len(a) != len(b):
        return False
    if not a:
        return True
    xyxy = np.array([[r["bbox"][0], r["bbox"][1], r["bbox"][0] + r["bbox"][2],
                      r["bbox"][1] + r["bbox"][3]] for r in a + b])
    iou = box_iou(xyxy[:len(a)], xyxy[len(a):])
    iou[np.not_equal.outer([r["category_id"] for r in a], [r["category_id"] for r in b])] = -1
    best = iou.argmax(1)
    return bool((iou.max(1) > 0.99).all() and all(
        abs(a[i]["score"] - b[j]["score"]) < 1e-4 for i, j in enumerate(best)))


@pytest.mark.slow
@pytest.mark.parametrize("name", [*YOLOV3_BACKBONES, "PPYOLO"])
def test_zoo_row_learns_evaluates_predicts_and_exports(name, shapes, tmp_path):
    root, train, val = shapes
    paddle.seed(0)
    model = px.create_model(name, num_classes=train.num_classes,
                            anchors=dataset_anchors(train, SIZE))
    model.labels = list(train.labels)
    model.eval_transforms = val.transforms

    # The loss falls: a few optimizer steps on one batch.
    batch = next(iter(Loader(train, 8, fields=model.batch_fields, defaults=model.field_defaults,
                             num_workers=0)))
    loss_falls(model, batch, steps=8, learning_rate=1e-3, ratio=0.7)

    # Settle BatchNorm's running statistics on the batch (eight steps leave them near
    # their initial values, and eval-mode outputs of a deep net then blow up): with
    # momentum 0 one pass sets them to the batch's, what many passes approach.
    settle_batchnorm(model, batch)
    metrics = model.evaluate(val, batch_size=4)
    assert {"bbox_mmap", "bbox_map50", "bbox_map"} <= set(metrics)

    images = [str(root / line.split()[0]) for line in
              (root / "val_list.txt").read_text().splitlines()[:2]]
    predictions = model.predict(images)
    assert all(predictions), "every image gets detections"
    exported = model.export(tmp_path / "inference")
    for runtime in RUNTIMES:
        deployed = px.Predictor(exported, runtime=runtime).predict(images)
        assert all(same_boxes(a, b) for a, b in zip(deployed, predictions, strict=True)), runtime
