"""YOLOv3 and PP-YOLO: every zoo row builds and conforms, targets and decoding agree,
the head sits on any backbone, and a detector learns, exports and runs in every
runtime with the same boxes."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

import pxcore as px
from pxcore.testing import pytest_plugin as kit
from pxcore_yolov3.anchors import ANCHOR_MASKS, COCO_ANCHORS, yolo_targets
from pxcore_yolov3.plugin import YOLOV3_BACKBONES

ZOO_ROWS = [*YOLOV3_BACKBONES, "PPYOLO"]


def test_every_zoo_detection_row_of_the_family_is_installed():
    rows = [n for n in px.list_models(task="detection") if n.startswith(("YOLOv3", "PPYOLO"))]
    assert sorted(rows) == sorted(ZOO_ROWS)
    assert set(rows) <= set(px.list_models(task="detection", installed=True))


test_conformance = kit.conformance_test("pxcore-yolov3")


def test_paddlex_spellings_build_the_zoo_rows():
    with paddle.LazyGuard():  # shapes only: skip initialising the values
        model, ppyolo = px.det.YOLOv3(num_classes=4, backbone="ResNet34"), px.det.PPYOLO(num_classes=2)
    assert model.name == "YOLOv3-ResNet34" and model.num_classes == 4
    assert ppyolo.name == "PPYOLO"


def test_targets_put_a_box_in_its_cell_with_its_best_anchor():
    # A 100x100 box centred at (150, 170) in a 320x320 input: the closest anchor by
    # shape is (116, 90), anchor 6, on the deepest level (stride 32) in cell (4, 5).
    gt = np.array([[[100, 120, 200, 220]]], np.float32)
    targets = yolo_targets(gt, np.array([[2]]), None, (320, 320), COCO_ANCHORS, ANCHOR_MASKS,
                           (32, 16, 8), num_classes=3)
    assert [t.shape for t in targets] == [(1, 3, 9, 10, 10), (1, 3, 9, 20, 20), (1, 3, 9, 40, 40)]
    deep = targets[0][0]
    assert np.count_nonzero(deep[:, 5]) == 1 and not targets[1].any() and not targets[2].any()
    cell = deep[0, :, 5, 4]
    np.testing.assert_allclose(cell[:2], [150 / 32 - 4, 170 / 32 - 5], atol=1e-6)
    np.testing.assert_allclose(cell[2:4], np.log([100 / 116, 100 / 90]), atol=1e-6)
    np.testing.assert_allclose(cell[4:6], [2 - (100 / 320) ** 2, 1.0], atol=1e-6)
    assert cell[6:].tolist() == [0, 0, 1]


def test_decoding_inverts_the_targets():
    """Raw outputs made from the targets (logits of the offsets, the log sizes as they
    are) decode to the ground-truth box, and NMS keeps just it."""
    model = px.create_model("YOLOv3-MobileNetV1", num_classes=3)
    post = model.net.postprocess
    gt = np.array([[[40, 60, 90, 150], [200, 210, 300, 290]]], np.float32)
    targets = yolo_targets(gt, np.array([[0, 2]]), None, (320, 320), post.anchors,
                           post.anchor_masks, post.strides, 3)
    outputs = []
    for t in targets:
        raw = np.full(t.shape[:2] + (8,) + t.shape[3:], -20.0, np.float32)  # 5 + 3 classes
        pos = t[:, :, 5] > 0
        logit = lambda p: np.log(np.clip(p, 1e-6, 1 - 1e-6) / (1 - np.clip(p, 1e-6, 1 - 1e-6)))  # noqa: E731
        raw[:, :, 0] = np.where(pos, logit(t[:, :, 0]), raw[:, :, 0])
        raw[:, :, 1] = np.where(pos, logit(t[:, :, 1]), raw[:, :, 1])
        raw[:, :, 2:4] = np.where(pos[:, :, None], t[:, :, 2:4], 0)
        raw[:, :, 4] = np.where(pos, 20.0, -20.0)
        raw[:, :, 5:] = np.where(pos[:, :, None], t[:, :, 6:] * 40 - 20, -20.0)
        outputs.append(raw.reshape(t.shape[0], -1, *t.shape[3:]))
    dets = post(outputs, np.array([[1.0, 1.0]]), [(320, 320)])[0]
    assert dets.shape == (2, 6)
    order = np.argsort(dets[:, 2])
    np.testing.assert_allclose(dets[order, 2:], gt[0], atol=1e-2)
    assert dets[order, 0].tolist() == [0, 2]


def test_yolov3_head_sits_on_any_registered_backbone():
    model = px.create_model("YOLOv3-DarkNet53", num_classes=2, backbone="ShuffleNetV2",
                            backbone_args={})
    channels = [f.channels for f in model.net.backbone.out_features]
    assert len(channels) == 3
    outputs = model.net(paddle.rand([1, 3, 64, 64]))
    assert [list(o.shape) for o in outputs] == [[1, 21, 2, 2], [1, 21, 4, 4], [1, 21, 8, 8]]


def test_bad_settings_name_the_fix():
    with pytest.raises(px.PxError, match="anchor_masks"):
        px.create_model("YOLOv3-MobileNetV1", num_classes=2, anchor_masks=[[0, 1], [2, 3]])
    with pytest.raises(px.PxError, match="nms type"):
        px.create_model("YOLOv3-MobileNetV1", num_classes=2, nms={"type": "soft"})
    with pytest.raises(px.PxError, match="backbone"):
        px.create_model("YOLOv3-MobileNetV1", num_classes=2, backbone=42)


def test_ppyolo_trains_with_a_weight_average_by_default(tmp_path):
    from pxcore import transforms as T

    root = px.datasets.make_shapes(tmp_path / "data", num_images=8, image_size=64, seed=0,
                                   val=0.0, test=0.0)
    train = px.datasets.VOCDetection(root, root / "train_list.txt", root / "labels.txt",
                                     transforms=T.Compose([T.Normalize()]))
    model = px.create_model("PPYOLO", num_classes=train.num_classes)
    model.train(1, train, train_batch_size=4, learning_rate=1e-4, warmup_steps=0,
                save_dir=str(tmp_path / "out"), num_workers=0)
    assert (tmp_path / "out" / "epoch_1" / "model.pdema").is_file()
    yolo = px.create_model("YOLOv3-MobileNetV1", num_classes=train.num_classes)
    yolo.train(1, train, train_batch_size=4, learning_rate=1e-4, warmup_steps=0,
               save_dir=str(tmp_path / "plain"), num_workers=0)
    assert not (tmp_path / "plain" / "epoch_1" / "model.pdema").exists()
