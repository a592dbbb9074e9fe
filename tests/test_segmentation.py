"""Semantic segmentation in the core: data sets, losses, metrics, and the whole path
(train, evaluate, predict, sliding windows, export, the deployed Predictor, reload,
pictures) on a small fixture network over the generated shapes' label images."""

from __future__ import annotations

import json

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

import pxcore
from pxcore import datasets
from pxcore import transforms as T
from pxcore.datasets import DatasetError
from pxcore.errors import PxError
from pxcore.metrics import ConfusionMatrix
from pxcore.nn import seg_losses
from pxcore.testing import check_spec

NORM = T.Normalize([0.5] * 3, [0.5] * 3)


@pytest.fixture(scope="module")
def shapes_dir(tmp_path_factory):
    return datasets.make_shapes(tmp_path_factory.mktemp("segshapes"), num_images=60, image_size=64,
                                seed=0)


@pytest.fixture
def segmenter():
    import fixture_plugins

    pxcore.register_plugin(fixture_plugins.Segmenter(), name="seg-fixture")


def _sets(root):
    labels = root / "seg_labels.txt"
    train = datasets.SegDataset(root, root / "seg_train_list.txt", labels,
                                T.Compose([T.RandomHorizontalFlip(), NORM]), shuffle=True)
    val = datasets.SegDataset(root, root / "seg_val_list.txt", labels, T.Compose([NORM]))
    return train, val


# --- metrics ------------------------------------------------------------------------

def test_confusion_matrix_metrics_by_hand():
    label = np.array([[0, 0, 1, 1], [2, 2, 255, 1]])
    pred = np.array([[0, 1, 1, 1], [2, 0, 0, 1]])
    metric = ConfusionMatrix(3)
    metric.update(pred, label)
    r = metric.result()
    # class 0: 1 right, labelled 2, predicted 2 -> IoU 1/3; class 1: 3 right of 3 labelled,
    # 4 predicted -> 3/4; class 2: 1 right, labelled 2, predicted 1 -> 1/2
    np.testing.assert_allclose(r["category_iou"], [1 / 3, 3 / 4, 1 / 2])
    assert r["miou"] == pytest.approx((1 / 3 + 3 / 4 + 1 / 2) / 3)
    np.testing.assert_allclose(r["category_acc"], [1 / 2, 3 / 4, 1])
    assert r["oacc"] == pytest.approx(5 / 7)
    chance = (2 * 2 + 3 * 4 + 2 * 1) / 49
    assert r["kappa"] == pytest.approx((5 / 7 - chance) / (1 - chance))


def test_confusion_matrix_refuses_bad_labels():
    metric = ConfusionMatrix(2)
    with pytest.raises(PxError, match="label value 7 is outside the 2 classes"):
        metric.update(np.zeros((2, 2)), np.full((2, 2), 7))
    with pytest.raises(PxError, match="shape"):
        metric.update(np.zeros((2, 3)), np.zeros((2, 2)))


# --- losses -------------------------------------------------------------------------

def _logits_and_labels(seed=0, classes=4):
    rng = np.random.default_rng(seed)
    logits = paddle.to_tensor(rng.standard_normal((2, classes, 5, 6)).astype("float32"))
    label = rng.integers(0, classes, (2, 5, 6))
    label[0, 0, :3] = 255
    return logits, paddle.to_tensor(label.astype("int64"))


def test_cross_entropy_matches_paddles_with_ignore_and_weights():
    logits, label = _logits_and_labels()
    expected = F.cross_entropy(logits, label, ignore_index=255, axis=1)
    np.testing.assert_allclose(seg_losses.cross_entropy(logits, label).numpy(), expected.numpy(), rtol=1e-5)
    weight = [0.5, 1.0, 2.0, 3.0]
    expected = F.cross_entropy(logits, label, weight=paddle.to_tensor(weight), ignore_index=255, axis=1)
    got = seg_losses.cross_entropy(logits, label, class_weight=tuple(weight))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5)
    dynamic = seg_losses.cross_entropy(logits, label, class_weight="dynamic")
    assert np.isfinite(float(dynamic)) and float(dynamic) > 0


def test_lovasz_and_dice_are_near_zero_when_right_and_larger_when_wrong():
    _, label = _logits_and_labels()
    right = F.one_hot(paddle.where(label == 255, paddle.zeros_like(label), label), 4)
    right = paddle.transpose(right, [0, 3, 1, 2]) * 20.0
    wrong = paddle.roll(right, 1, axis=1)
    for loss in (seg_losses.lovasz_softmax, seg_losses.dice):
        good, bad = float(loss(right, label)), float(loss(wrong, label))
        assert good < 0.01 and bad > 0.5, (loss.__name__, good, bad)


def test_lovasz_gives_gradients():
    logits, label = _logits_and_labels()
    logits.stop_gradient = False
    seg_losses.lovasz_softmax(logits, label).backward()
    assert float(paddle.abs(logits.grad).sum()) > 0


def test_binary_cross_entropy_is_two_class_cross_entropy():
    logits, label = _logits_and_labels(classes=2)
    np.testing.assert_allclose(seg_losses.binary_cross_entropy(logits, label).numpy(),
                               seg_losses.cross_entropy(logits, label).numpy(), rtol=1e-5)


def test_loss_options_follow_paddlex():
    build = seg_losses.build_seg_loss
    assert build(4).terms == (("CrossEntropyLoss", 1.0),)
    assert build(4, use_mixed_loss=True).terms == seg_losses.MIXED_DEFAULT
    assert build(2, use_bce_loss=True, use_dice_loss=True).terms == (("BCELoss", 1.0), ("DiceLoss", 1.0))
    mixed = build(4, use_mixed_loss=[["CrossEntropyLoss", 0.7], ["DiceLoss", 0.3]])
    logits, label = _logits_and_labels()
    expected = 0.7 * seg_losses.cross_entropy(logits, label) + 0.3 * seg_losses.dice(logits, label)
    np.testing.assert_allclose(mixed(logits, label).numpy(), expected.numpy(), rtol=1e-5)
    with pytest.raises(PxError, match="two classes"):
        build(4, use_dice_loss=True)
    with pytest.raises(PxError, match="one weight per class"):
        build(4, class_weight=[1, 2])
    with pytest.raises(PxError, match="FocalLoss"):
        build(4, use_mixed_loss=[("FocalLoss", 1.0)])


# --- data sets ----------------------------------------------------------------------

def test_seg_dataset_reads_pairs_and_checks_them(shapes_dir, tmp_path):
    train, _ = _sets(shapes_dir)
    assert train.task == "semantic_segmentation" and train.labels[0] == "background"
    sample = train.load(0)
    assert sample["label_map"].shape == sample["image"].shape[:2]
    assert set(np.unique(sample["label_map"])) <= set(range(train.num_classes))
    labels = shapes_dir / "seg_labels.txt"

    def listing(text):
        path = tmp_path / "list.txt"
        path.write_text(text, encoding="utf-8")
        return path

    with pytest.raises(DatasetError, match="line 2: .*should be"):
        datasets.SegDataset(shapes_dir, listing("JPEGImages/0000.jpg SegmentationClass/0000.png\nonly_one\n"), labels)
    with pytest.raises(DatasetError, match="line 1: label image .*missing.png.* does not exist"):
        datasets.SegDataset(shapes_dir, listing("JPEGImages/0000.jpg missing.png\n"), labels)
    # a label value outside the class list names the line when read
    bad = tmp_path / "bad.png"
    import cv2

    cv2.imwrite(str(bad), np.full((64, 64), 9, np.uint8))
    data = datasets.SegDataset(shapes_dir, listing(f"JPEGImages/0000.jpg {bad}\n"), labels)
    with pytest.raises(DatasetError, match="line 1: label value 9 is outside the label list"):
        data.load(0)
    cv2.imwrite(str(bad), np.zeros((32, 64), np.uint8))
    with pytest.raises(DatasetError, match="line 1: label .* is 64x32 but image .* is 64x64"):
        datasets.SegDataset(shapes_dir, listing(f"JPEGImages/0000.jpg {bad}\n"), labels).load(0)
    cv2.imwrite(str(bad), np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(DatasetError, match="colour image"):
        datasets.SegDataset(shapes_dir, listing(f"JPEGImages/0000.jpg {bad}\n"), labels).load(0)
    bad.write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="cannot be read"):
        datasets.SegDataset(shapes_dir, listing(f"JPEGImages/0000.jpg {bad}\n"), labels).load(0)


def test_palette_labels_are_read_as_indices(tmp_path):
    from PIL import Image

    from pxcore.datasets.segmentation import read_label_image

    indices = np.array([[0, 1], [2, 255]], np.uint8)
    image = Image.fromarray(indices, mode="P")
    image.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [224] * 759)
    image.save(tmp_path / "voc.png")
    np.testing.assert_array_equal(read_label_image(tmp_path / "voc.png"), indices)


def test_cityscapes_folders(tmp_path):
    import cv2

    city = tmp_path / "leftImg8bit" / "val" / "aachen"
    gt = tmp_path / "gtFine" / "val" / "aachen"
    city.mkdir(parents=True)
    gt.mkdir(parents=True)
    cv2.imwrite(str(city / "aachen_000000_000019_leftImg8bit.png"), np.zeros((8, 16, 3), np.uint8))
    with pytest.raises(DatasetError, match="createTrainIdLabelImgs"):
        datasets.Cityscapes(tmp_path, "val")
    cv2.imwrite(str(gt / "aachen_000000_000019_gtFine_labelTrainIds.png"), np.full((8, 16), 18, np.uint8))
    data = datasets.Cityscapes(tmp_path, "val")
    assert len(data) == 1 and data.num_classes == 19 and data.load(0)["label_map"].max() == 18
    with pytest.raises(DatasetError, match="split is train, val or test"):
        datasets.Cityscapes(tmp_path, "training")


# --- the whole path on a small network ----------------------------------------------

def test_segmenter_conformance(segmenter):
    check_spec(pxcore.plugins.get_registry().get("model", "TinySeg"))


def test_conformance_catches_logits_at_the_wrong_size(segmenter, monkeypatch):
    import fixture_nets

    monkeypatch.setattr(fixture_nets.TinySegmenter, "forward",
                        lambda self, x: self.classifier(self.body(x)))
    with pytest.raises(AssertionError, match="returns logits"):
        check_spec(pxcore.plugins.get_registry().get("model", "TinySeg"))


@pytest.mark.slow
@pytest.mark.parity
def test_train_evaluate_predict_export_reload(segmenter, shapes_dir, tmp_path, capsys):
    train, val = _sets(shapes_dir)
    model = pxcore.create_model("TinySeg", num_classes=train.num_classes, use_mixed_loss=True)
    history = model.train(4, train, train_batch_size=8, eval_dataset=val, learning_rate=0.05,
                          save_dir=tmp_path / "out", seed=0, log_interval_steps=100)
    losses = [v for _, v in history["history"]["loss"]]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    scores = model.evaluate(val)
    assert set(scores) == {"miou", "category_iou", "oacc", "category_acc", "kappa"}
    assert len(scores["category_iou"]) == train.num_classes and 0 < scores["oacc"] <= 1
    # predictions come back at each image's own size, whatever it is
    image = np.random.default_rng(0).integers(0, 255, (50, 70, 3), np.uint8)
    result = model.predict(image, score_map=True)
    assert result["label_map"].shape == (50, 70) and result["score_map"].shape == (50, 70, 4)
    # the default leaves the probabilities out; its label map (the logits' argmax) is the same
    assert set(model.predict(image)) == {"label_map"}
    np.testing.assert_array_equal(model.predict(image)["label_map"], result["label_map"])
    np.testing.assert_allclose(result["score_map"].sum(-1), 1, rtol=1e-4)
    # windows as large as the image give the plain prediction; smaller ones cover it
    same = model.predict(image, tile_size=[96, 64], overlap=16, score_map=True)
    np.testing.assert_allclose(same["score_map"], result["score_map"], atol=1e-5)
    tiled = model.tile_predict(image, tile_size=32, pad_size=[8, 8])
    assert tiled["label_map"].shape == (50, 70) and (tiled["label_map"] == result["label_map"]).mean() > 0.8
    with pytest.raises(PxError, match="overlap"):
        model.predict(image, tile_size=32, overlap=32)
    # the deployed model gives the same label maps
    exported = model.export(tmp_path / "inference")
    predictor = pxcore.Predictor(exported, runtime="paddle")
    paths = [str(shapes_dir / "JPEGImages" / f"{i:04d}.jpg") for i in range(3)]
    for ours, theirs in zip(model.predict(paths, score_map=True), predictor.predict(paths, score_map=True),
                            strict=True):
        assert (ours["label_map"] == theirs["label_map"]).mean() > 0.995
        np.testing.assert_allclose(ours["score_map"], theirs["score_map"], atol=1e-4)
    # without score maps the export's own argmax output gives the label map
    assert [o["name"] for o in predictor.info["outputs"]] == ["logits", "label_map"]
    for ours, theirs in zip(model.predict(paths), predictor.predict(paths), strict=True):
        assert theirs["label_map"].dtype == np.uint8 and set(theirs) == {"label_map"}
        assert (ours["label_map"] == theirs["label_map"]).mean() > 0.995
    # best_model reloads with its loss options and pre-processing
    reloaded = pxcore.load_model(tmp_path / "out" / "best_model")
    assert reloaded.loss.terms == model.loss.terms and reloaded.labels == train.labels
    saved = json.loads(json.dumps(reloaded.evaluate(val)))
    assert saved["miou"] == pytest.approx(history["best_metric"], abs=1e-6)
    picture = pxcore.visualize.visualize(paths[0], model.predict(paths[0]), tmp_path / "seg.png",
                                         labels=train.labels)
    assert picture.shape[0] >= 256 and (tmp_path / "seg.png").is_file()  # scaled up to be readable
    _check_cli(tmp_path, shapes_dir, paths, reloaded)
    printed = capsys.readouterr().out
    assert '"miou"' in printed and '"label_map"' in printed


def _check_cli(tmp_path, shapes_dir, paths, model):
    """px eval and px predict on the saved and the exported model."""
    import cv2

    from pxcore.cli import main

    capture = tmp_path / "cli"
    for source in (tmp_path / "out" / "best_model", tmp_path / "inference"):
        assert main(["predict", str(source), paths[0], "--save-dir", str(capture),
                     "--tile-size", "48", "--overlap", "8"]) == 0
        label = cv2.imread(str(capture / "0000_label.png"), cv2.IMREAD_UNCHANGED)
        expected = model.predict(paths[0], tile_size=48, overlap=8)["label_map"]
        assert (label == expected).mean() > 0.995
    assert main(["eval", str(tmp_path / "out" / "best_model"), "--file-list",
                 str(shapes_dir / "seg_val_list.txt"), "--label-list",
                 str(shapes_dir / "seg_labels.txt")]) == 0


def test_visualize_blends_label_maps_with_a_legend():
    from pxcore.visualize import _colour, visualize

    image = np.full((300, 400, 3), 200, np.uint8)
    label_map = np.zeros((300, 400), np.uint8)
    label_map[:100, :100], label_map[200:, 300:] = 1, 2
    picture = visualize(image, {"label_map": label_map}, labels=["background", "cat", "dog"], weight=1.0)
    assert picture.shape[0] > 300 and picture.shape[1] == 400  # a legend band below
    assert tuple(picture[50, 50]) == _colour(1) and tuple(picture[250, 350]) == _colour(2)
    assert tuple(picture[150, 200]) == (200, 200, 200)  # background left as it is
    with pytest.raises(PxError, match="label map is 40x30 but the image is 400x300"):
        visualize(image, {"label_map": np.zeros((30, 40), np.uint8)})


def test_training_pads_odd_sizes_and_checks_classes(segmenter, shapes_dir, tmp_path):
    train, _ = _sets(shapes_dir)
    model = pxcore.create_model("TinySeg", num_classes=train.num_classes)
    images = paddle.rand([2, 3, 40, 50])
    labels = paddle.zeros([2, 40, 50], "int64")
    assert float(model.training_step([images, labels])) > 0
    wrong = pxcore.create_model("TinySeg", num_classes=7)
    with pytest.raises(PxError, match="4 classes but the model 7"):
        wrong.train(1, train, save_dir=tmp_path)
    with pytest.raises(PxError, match="one weight per class"):
        pxcore.create_model("TinySeg", num_classes=4, class_weight=[1.0])
