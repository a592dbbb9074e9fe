"""Geometric transforms move boxes, polygons and label maps with the pixels.

The test image encodes each pixel's own coordinates (channel 0: x, channel 1: y), so
after any crop, pad or flip the pixel at a place says where it came from, and the
label map (a function of x and y) can be checked against the image.
"""

from __future__ import annotations

import numpy as np
import pytest

from pxcore import transforms as T
from pxcore.errors import PxError
from pxcore.transforms import geometry as G

BOXES = np.array([[5, 5, 20, 15], [30, 10, 55, 35], [2, 20, 12, 38]], np.float32)


def _rect(box):
    x1, y1, x2, y2 = (float(v) for v in box)
    return [[x1, y1, x2, y1, x2, y2, x1, y2]]


def _sample(h=40, w=60, boxes=BOXES):
    ys, xs = np.mgrid[0:h, 0:w]
    image = np.stack([xs, ys, np.full_like(xs, 255)], axis=-1).astype(np.uint8)
    n = len(boxes)
    return {"image": image, "im_id": 7, "im_shape": np.array([h, w], np.float32),
            "scale_factor": np.array([1, 1], np.float32), "gt_bbox": boxes.copy(),
            "gt_class": np.arange(n, dtype=np.int32), "is_crowd": np.zeros(n, np.int32),
            "difficult": (np.arange(n) % 2).astype(np.int32), "gt_poly": [_rect(b) for b in boxes],
            "label_map": ((xs + ys) % 5).astype(np.uint8)}


def _label_follows_image(sample):
    image, label = sample["image"].astype(np.int64), sample["label_map"].astype(np.int64)
    assert label.shape == image.shape[:2]
    real = image[..., 2] == 255  # not padding
    np.testing.assert_array_equal(label[real], ((image[..., 0] + image[..., 1]) % 5)[real])
    assert (label[~real] == 255).all()


def _aligned(sample):
    n = len(sample["gt_bbox"])
    assert sample["gt_bbox"].shape == (n, 4)
    assert len(sample["gt_class"]) == len(sample["is_crowd"]) == len(sample["difficult"]) == len(sample["gt_poly"]) == n
    np.testing.assert_array_equal(sample["difficult"], sample["gt_class"] % 2)  # rows stayed together
    np.testing.assert_array_equal(sample["im_shape"], sample["image"].shape[:2])


def test_flips_move_everything_and_twice_is_identity():
    rng = np.random.default_rng(0)
    for flip, expected in [(T.RandomHorizontalFlip(prob=1.0), [40, 5, 55, 15]),
                           (T.RandomVerticalFlip(prob=1.0), [5, 25, 20, 35])]:
        once = flip(_sample(), rng)
        np.testing.assert_allclose(once["gt_bbox"][0], expected)
        np.testing.assert_allclose(G.polys_to_boxes(once["gt_poly"]), once["gt_bbox"])
        _label_follows_image(once)
        _aligned(once)
        twice = flip(once, rng)
        original = _sample()
        for key in ("image", "label_map", "gt_bbox"):
            np.testing.assert_array_equal(twice[key], original[key])
        assert twice["gt_poly"] == original["gt_poly"]
        np.testing.assert_array_equal(twice["scale_factor"], [1, 1])
    # a box's pixels land where its flipped box says
    flipped = T.RandomHorizontalFlip(prob=1.0)(_sample(), rng)
    x1, y1, x2, y2 = flipped["gt_bbox"][1].astype(int)
    assert flipped["image"][y1, x1, 0] == 59 - x1 and flipped["image"][y1, x2 - 1, 0] == 30


def test_resizes_scale_boxes_scale_factor_and_labels():
    rng = np.random.default_rng(0)
    out = T.Resize([120, 20], interp="NEAREST")(_sample(), rng)  # [width, height]
    assert out["image"].shape == (20, 120, 3)
    np.testing.assert_allclose(out["gt_bbox"], BOXES * [2, 0.5, 2, 0.5])
    np.testing.assert_allclose(out["scale_factor"], [0.5, 2.0])
    np.testing.assert_allclose(G.polys_to_boxes(out["gt_poly"]), out["gt_bbox"])
    _label_follows_image(out)
    _aligned(out)
    # scale factors multiply across resizes
    out = T.ResizeByLong(30, interp="NEAREST")(T.ResizeByShort(80, interp="NEAREST")(_sample(), rng), rng)
    assert out["image"].shape == (20, 30, 3)
    np.testing.assert_allclose(out["scale_factor"], [0.5, 0.5])
    np.testing.assert_allclose(out["gt_bbox"], BOXES * 0.5)
    _label_follows_image(out)
    out = T.Resize(120, keep_ratio=True)(_sample(), rng)
    assert out["image"].shape == (80, 120, 3)
    np.testing.assert_allclose(out["scale_factor"], [2, 2])


def test_random_crop_keeps_boxes_inside_and_centred():
    crop = T.RandomCrop(crop_size=None)
    cropped_any = False
    for seed in range(30):
        out = crop(_sample(), np.random.default_rng(seed))
        h, w = out["image"].shape[:2]
        x0, y0 = int(out["image"][0, 0, 0]), int(out["image"][0, 0, 1])  # where the crop began
        cropped_any |= (h, w) != (40, 60)
        _label_follows_image(out)
        _aligned(out)
        assert len(out["gt_bbox"]) >= 1
        np.testing.assert_array_equal(out["scale_factor"], [1, 1])  # crops do not scale
        boxes = out["gt_bbox"]
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()
        assert (boxes[:, 2:] > boxes[:, :2]).all()
        original = BOXES[out["gt_class"]]
        np.testing.assert_allclose(boxes, G.clip_boxes(original - [x0, y0, x0, y0], h, w))
        centres = (original[:, :2] + original[:, 2:]) / 2 - [x0, y0]
        assert ((centres >= 0) & (centres < [w, h])).all()
    assert cropped_any


def test_random_crop_without_boxes_is_the_classification_crop():
    rng = np.random.default_rng(0)
    sample = _sample()
    for key in ("gt_bbox", "gt_class", "is_crowd", "difficult", "gt_poly"):
        sample.pop(key)
    out = T.RandomCrop(24, interp="NEAREST")(sample, rng)
    assert out["image"].shape == (24, 24, 3) and out["label_map"].shape == (24, 24)
    _label_follows_image(out)
    assert T.RandomCrop(24).to_config() == {"type": "RandomCrop", "crop_size": 24, "lower_scale": 0.08,
                                             "lower_ratio": 0.75, "upper_ratio": 4 / 3, "interp": "LINEAR"}


def test_boxes_pushed_out_are_dropped_with_their_rows():
    boxes = np.array([[0, 0, 10, 10], [20, 15, 40, 25], [50, 30, 60, 40]], np.float32)
    out = T.CenterCrop(20)(_sample(boxes=boxes), np.random.default_rng(0))  # window x 20..40, y 10..30
    np.testing.assert_array_equal(out["gt_class"], [1])
    np.testing.assert_allclose(out["gt_bbox"], [[0, 5, 20, 15]])
    assert out["gt_poly"] == [[[0.0, 5.0, 20.0, 5.0, 20.0, 15.0, 0.0, 15.0]]]
    _aligned(out)
    _label_follows_image(out)


def test_expand_offsets_boxes_and_pads_labels_with_ignore():
    out = T.RandomExpand(ratio=3.0, prob=1.0)(_sample(), np.random.default_rng(1))
    h, w = out["image"].shape[:2]
    assert h > 40 and w > 60
    ys, xs = np.nonzero(out["image"][..., 2] == 255)
    x0, y0 = xs.min(), ys.min()
    assert (xs.max() - x0, ys.max() - y0) == (59, 39)
    np.testing.assert_allclose(out["gt_bbox"], BOXES + [x0, y0, x0, y0])
    np.testing.assert_array_equal(out["scale_factor"], [1, 1])
    np.testing.assert_array_equal(out["image"][0, 0] if (x0, y0) != (0, 0) else out["image"][-1, -1], [123, 116, 103])
    _label_follows_image(out)
    _aligned(out)
    assert T.RandomExpand(prob=0.0)(_sample(), np.random.default_rng(0))["image"].shape == (40, 60, 3)


def test_padding_keeps_boxes_and_reaches_the_stride():
    rng = np.random.default_rng(0)
    out = T.Padding()(_sample(), rng)
    assert out["image"].shape == (64, 64, 3)
    np.testing.assert_array_equal(out["gt_bbox"], BOXES)
    np.testing.assert_array_equal(out["im_shape"], [40, 60])  # the real image, for clipping
    np.testing.assert_array_equal(out["image"][50, 50], [127, 127, 127])
    _label_follows_image(out)
    out = T.Padding(target_size=[80, 50], pad_mode=1)(_sample(), rng)
    assert out["image"].shape == (50, 80, 3)
    np.testing.assert_allclose(out["gt_bbox"], BOXES + [10, 5, 10, 5])
    _label_follows_image(out)
    with pytest.raises(PxError, match="resize it first"):
        T.Padding(target_size=32)(_sample(), rng)
    with pytest.raises(PxError, match="pad_mode 5"):
        T.Padding(pad_mode=5)


def test_rotate_moves_polygons_and_recomputes_boxes():
    out = T.RandomRotate(rotate_range=90, prob=1.0)(_sample(), np.random.default_rng(3))
    assert out["image"].shape[:2] != (40, 60)
    np.testing.assert_allclose(out["gt_bbox"], G.polys_to_boxes(out["gt_poly"]), atol=1e-4)
    real = out["image"][..., 2] == 255
    assert (out["label_map"][~real] == 255).mean() > 0.95  # corners: ignore (edges may differ by a pixel)
    _aligned(out)


def test_configs_round_trip_through_build_transform():
    transforms = [T.RandomExpand(ratio=2.0), T.MixupImage(alpha=2.0, mixup_epoch=3), T.Padding(target_size=[64, 48]),
                  T.ResizeByLong(100), T.Resize(50, interp="RANDOM", keep_ratio=True),
                  T.BatchRandomResize([32, [48, 40]]), T.PadBox(10),
                  T.RandomCrop(crop_size=None, thresholds=[0.5], cover_all_box=True),
                  T.ResizeStepScaling(0.5, 2.0, 0.5), T.RandomPaddingCrop([40, 30]), T.RandomBlur(0.3)]
    pipeline = T.Compose(transforms)
    config = pipeline.to_config()
    again = T.build_transform(config)
    assert again.to_config() == config
    assert [type(t) for t in again.transforms] == [type(t) for t in transforms]
    assert config["transforms"][7] == {"type": "RandomCrop", "crop_size": None, "lower_scale": 0.08,
                                       "lower_ratio": 0.75, "upper_ratio": 4 / 3, "interp": "LINEAR",
                                       "thresholds": [0.5], "cover_all_box": True}
    assert T.Resize(24).to_config() == {"type": "Resize", "target_size": 24, "interp": "LINEAR"}


def test_batch_random_resize_gives_one_size_per_batch():
    resize = T.BatchRandomResize([32, 64, [96, 48]], interp="NEAREST")
    pipeline = T.Compose([T.RandomHorizontalFlip(0.0), resize, T.Normalize()])
    assert pipeline.batch_transforms == [resize]
    rng = np.random.default_rng(0)
    shapes = set()
    for _ in range(8):
        samples = [pipeline(_sample(), rng) for _ in range(3)]
        assert {s["image"].shape for s in samples} == {(40, 60, 3)}  # skipped per sample
        samples = pipeline.apply_batch(samples, rng)
        batch_shapes = {s["image"].shape for s in samples}
        assert len(batch_shapes) == 1
        shape = batch_shapes.pop()
        shapes.add(shape)
        sy, sx = shape[0] / 40, shape[1] / 60
        for s in samples:
            np.testing.assert_allclose(s["gt_bbox"], BOXES * [sx, sy, sx, sy], rtol=1e-6)
            np.testing.assert_allclose(s["scale_factor"], [sy, sx], rtol=1e-6)
    assert len(shapes) > 1
    with pytest.raises(PxError, match="batch transform"):
        resize(_sample(), rng)


def test_padbox_pads_to_fixed_length():
    sample = _sample()
    sample["gt_score"] = np.array([1.0, 0.5, 0.25], np.float32)
    out = T.PadBox(num_max_boxes=5)(sample, np.random.default_rng(0))
    assert out["gt_bbox"].shape == (5, 4) and out["gt_bbox"].dtype == np.float32
    for key in ("gt_class", "gt_score", "is_crowd", "difficult"):
        assert out[key].shape == (5,)
    np.testing.assert_array_equal(out["gt_bbox"][:3], BOXES)
    assert not out["gt_bbox"][3:].any() and not out["gt_score"][3:].any()
    np.testing.assert_array_equal(T.PadBox(2)(_sample(), None)["gt_class"], [0, 1])


def test_mixup_blends_and_weights_both_sets_of_boxes():
    rng = np.random.default_rng(0)
    with pytest.raises(PxError, match="Remove MixupImage from segmentation"):
        T.MixupImage()(_sample(), rng)
    alone = _sample()
    alone.pop("label_map")
    alone = T.MixupImage()(alone, rng)
    np.testing.assert_array_equal(alone["gt_score"], [1, 1, 1])
    other = _sample(h=50, w=30, boxes=np.array([[1, 1, 9, 9]], np.float32))
    other.pop("label_map")
    sample = _sample()
    sample.pop("label_map")
    sample["mixup"] = other
    out = T.MixupImage(alpha=2.0, beta=2.0)(sample, rng)
    assert "mixup" not in out and out["image"].shape == (50, 60, 3)
    np.testing.assert_allclose(out["gt_bbox"], np.concatenate([BOXES, [[1, 1, 9, 9]]]))
    assert len(out["gt_class"]) == len(out["difficult"]) == len(out["gt_poly"]) == 4
    factor = out["gt_score"][0]
    assert 0 < factor < 1
    np.testing.assert_allclose(out["gt_score"], [factor] * 3 + [1 - factor], rtol=1e-6)
    np.testing.assert_array_equal(out["im_shape"], [50, 60])


class _FakeSet:
    def __init__(self, transforms, n=3):
        self.transforms = T.compose(transforms)
        self.n = n
        self.loaded = []

    def __len__(self):
        return self.n

    def load(self, index):
        self.loaded.append(index)
        return _sample()


def test_attach_mixup_follows_the_protocol():
    assert T.needs_mixup(T.Compose([T.Normalize()])) is None
    data = _FakeSet([T.MixupImage(), T.Normalize()])
    assert isinstance(T.needs_mixup(data.transforms), T.MixupImage)
    for seed in range(5):
        sample = T.attach_mixup(data, 1, np.random.default_rng(seed), {"image": None})
        assert "mixup" in sample
    assert data.loaded and 1 not in data.loaded
    late = _FakeSet([T.MixupImage(mixup_epoch=2)])
    assert "mixup" in T.attach_mixup(late, 0, np.random.default_rng(0), {}, epoch=1)
    assert "mixup" not in T.attach_mixup(late, 0, np.random.default_rng(0), {}, epoch=2)
    assert "mixup" not in T.attach_mixup(_FakeSet([T.Normalize()]), 0, np.random.default_rng(0), {})


def test_segmentation_transforms_move_the_label_map():
    rng = np.random.default_rng(0)
    out = T.ResizeStepScaling(0.5, 0.5, 0.25)(_sample(), rng)
    assert out["image"].shape == (20, 30, 3) and out["label_map"].shape == (20, 30)
    np.testing.assert_allclose(out["gt_bbox"], BOXES * 0.5)
    for size in ([30, 20], 64):
        out = T.RandomPaddingCrop(size)(_sample(), rng)
        h, w = (20, 30) if size != 64 else (64, 64)
        assert out["image"].shape == (h, w, 3)
        _label_follows_image(out)
        _aligned(out)
    blurred = T.RandomBlur(prob=1.0)(_sample(), rng)
    assert blurred["image"].shape == (40, 60, 3) and not np.array_equal(blurred["image"], _sample()["image"])


def test_distort_and_normalize_accept_detection_samples():
    rng = np.random.default_rng(0)
    out = T.Compose([T.RandomDistort(), T.Normalize()])(_sample(), rng)
    assert out["image"].dtype == np.float32
    np.testing.assert_array_equal(out["gt_bbox"], BOXES)


def test_geometry_iou():
    iou = G.box_iou([[0, 0, 10, 10]], [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]])
    np.testing.assert_allclose(iou, [[1.0, 50 / 150, 0.0, 0.0]])
