"""Object detection through the whole workflow on the generated shapes set: train (loss
falls, EMA, resume), evaluate (COCO and VOC mAP), predict, save and reload, export, and
the same boxes from every runtime."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

import pxcore as px
from pxcore import transforms as T
from pxcore.testing.detections import assert_same_detection_lists
from pxcore.testing.numerics import SCORE_RTOL

pytestmark = pytest.mark.uses_installed_plugins

SIZE = 64


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = px.datasets.make_shapes(tmp_path_factory.mktemp("shapes"), num_images=24,
                                   image_size=96, seed=1)
    train_t = T.Compose([T.RandomDistort(), T.RandomHorizontalFlip(),
                         T.BatchRandomResize([SIZE - 32, SIZE, SIZE + 32]), T.Normalize()])
    eval_t = T.Compose([T.Resize(SIZE), T.Normalize()])
    train = px.datasets.VOCDetection(root, root / "train_list.txt", root / "labels.txt",
                                     transforms=train_t, shuffle=True)
    val = px.datasets.VOCDetection(root, root / "val_list.txt", root / "labels.txt",
                                   transforms=eval_t)
    return root, train, val


def small_anchors(model_name: str, size: int) -> list[list[int]]:
    """The COCO anchors (made for 608 px) scaled to a small input."""
    anchors = px.create_model(model_name, num_classes=1).net.postprocess.anchors
    return [[max(1, round(w * size / 608)), max(1, round(h * size / 608))] for w, h in anchors]


@pytest.mark.slow
@pytest.mark.parity
def test_yolov3_trains_evaluates_predicts_reloads_and_exports(shapes, tmp_path):
    root, train, val = shapes
    # Two epochs leave every score low: keep those above 1e-4 so there are boxes to compare.
    nms = {"type": "multiclass", "score_threshold": 1e-4, "keep_top_k": 20}
    model = px.create_model("YOLOv3-MobileNetV1", num_classes=train.num_classes,
                            anchors=small_anchors("YOLOv3-MobileNetV1", SIZE), nms=nms)
    model.eval_transforms = val.transforms
    state = model.train(2, train, train_batch_size=4, eval_dataset=val, learning_rate=0.001,
                        optimizer="Adam", warmup_steps=2, use_ema=True, save_dir=str(tmp_path / "out"),
                        seed=0, num_workers=0)
    losses = [v for _, v in state["history"]["loss"]]
    assert np.isfinite(losses).all()
    assert set(state["history"]["metrics"]) == {"bbox_mmap", "bbox_map50", "bbox_map"}
    assert (tmp_path / "out" / "epoch_2" / "model.pdema").is_file()

    metrics = model.evaluate(val, batch_size=4, per_class=True)
    assert {"bbox_mmap", "bbox_map50", "bbox_map", "per_class"} <= set(metrics)
    assert 0.0 <= metrics["bbox_mmap"] <= metrics["bbox_map50"] <= 1.0

    # Two epochs leave the scores nearly tied, and the ranking of ties is noise: spread the
    # head's outputs so the runtimes are compared on boxes the model ranks clearly.
    for name, param in model.net.named_parameters():
        if name.startswith("yolo_output.") and name.endswith("weight"):
            param.set_value(param * 4)
    images = [str(root / line.split()[0]) for line in
              (root / "val_list.txt").read_text().splitlines()[:3]]
    predictions = model.predict(images)
    assert len(predictions) == 3 and predictions[0]
    first = predictions[0][0]
    assert set(first) == {"category_id", "category", "bbox", "score"}
    assert first["category"] in train.labels and len(first["bbox"]) == 4
    assert [r["score"] for r in predictions[0]] == sorted((r["score"] for r in predictions[0]), reverse=True)

    assert px.load_model(tmp_path / "out" / "best_model").num_classes == train.num_classes
    reloaded = px.load_model(model.save(tmp_path / "saved"))
    again = reloaded.predict(images)
    # The same weights through the same code: boxes at IoU > 0.999, scores within 1e-5;
    # only a box within 1e-5 of a cut (the score threshold, or the 20th score of a full
    # list) may be on one side only (pxcore.testing.detections).
    cuts = {"threshold": nms["score_threshold"], "keep_top_k": nms["keep_top_k"]}
    assert_same_detection_lists(again, predictions, iou=0.999, score_atol=1e-5, **cuts)

    exported = model.export(tmp_path / "inference")
    for runtime in ("paddle", "onnxruntime"):
        deployed = px.Predictor(exported, runtime=runtime).predict(images)
        # Other kernels: boxes at IoU > 0.99; scores (at most 1) within SCORE_RTOL, the
        # core tests' small networks' relative score noise across kernels (was 1e-6, which
        # Paddle Inference and ONNX Runtime exceed on this AVX-512 CPU: 1.3e-6 seen); a
        # box within that of a cut may be on one side only.
        try:
            assert_same_detection_lists(deployed, predictions, score_atol=SCORE_RTOL, **cuts)
        except AssertionError as exc:
            raise AssertionError(f"{runtime}: {exc}") from None


@pytest.mark.parity
def test_resumed_training_continues_the_weight_average(shapes, tmp_path):
    _, train, _ = shapes

    def model():
        paddle.seed(3)  # the same initial weights in each run
        return px.create_model("YOLOv3-MobileNetV1", num_classes=train.num_classes,
                               anchors=small_anchors("YOLOv3-MobileNetV1", SIZE))

    run = dict(train_dataset=train, train_batch_size=8, learning_rate=0.001, optimizer="Adam",
               warmup_steps=0, use_ema=True, seed=3, num_workers=0)
    whole = model().train(2, save_dir=str(tmp_path / "whole"), **run)
    model().train(1, save_dir=str(tmp_path / "half"), **run)
    resumed = model().train(2, save_dir=str(tmp_path / "resumed"),
                            resume_checkpoint=str(tmp_path / "half" / "epoch_1"), **run)
    np.testing.assert_allclose([v for _, v in resumed["history"]["loss"]],
                               [v for _, v in whole["history"]["loss"]], rtol=1e-4)
    a = px.load_model(tmp_path / "whole" / "best_model").net.state_dict()
    b = px.load_model(tmp_path / "resumed" / "best_model").net.state_dict()
    for key in a:
        np.testing.assert_allclose(a[key].numpy(), b[key].numpy(), rtol=1e-4, atol=1e-6, err_msg=key)


def test_detection_training_refuses_a_class_count_mismatch(shapes, tmp_path):
    _, train, _ = shapes
    model = px.create_model("YOLOv3-MobileNetV1", num_classes=train.num_classes + 1)
    with pytest.raises(px.PxError, match="num_classes"):
        model.train(1, train, save_dir=str(tmp_path))


def test_visualize_draws_detections_above_the_threshold(shapes, tmp_path):
    root, _, _ = shapes
    image = str(root / (root / "val_list.txt").read_text().split()[0])
    result = [{"category_id": 0, "category": "circle", "bbox": [10, 10, 30, 20], "score": 0.9},
              {"category_id": 1, "category": "square", "bbox": [50, 50, 20, 20], "score": 0.1}]
    plain = px.visualize.visualize(image, [], tmp_path / "none.png")
    drawn = px.visualize.visualize(image, result, tmp_path / "boxes.png", threshold=0.5)
    changed = np.argwhere((drawn != plain).any(-1))
    assert changed.size and (tmp_path / "boxes.png").is_file()
    scale = drawn.shape[0] / 96
    assert changed[:, 0].max() <= (10 + 20) * scale + 2, "the low-scoring box was drawn too"
