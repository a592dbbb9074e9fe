"""pxcore.ops.masks: Mask R-CNN's targets against pycocotools' full-image rasterization,
paste_masks against Paddle's grid_sample (PaddleDetection's paste_mask), COCO RLE round
trips, the mask overlay of ``visualize``, and no paddle import."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from pxcore.errors import PxError
from pxcore.ops import mask_to_rle, paste_masks, polygons_to_roi_masks, rle_to_mask
from pxcore.ops.masks import _clip_polygon, _paste_probabilities

H, W = 60, 80
# two instances: a triangle, and a square with a second part
POLYGONS = [[[10.0, 10.0, 40.0, 12.0, 20.0, 45.0]],
            [[50.0, 20.0, 70.0, 20.0, 70.0, 40.0, 50.0, 40.0], [72.0, 5.0, 78.0, 5.0, 78.0, 15.0]]]


# --- polygons_to_roi_masks -----------------------------------------------------------

def test_roi_masks_at_scale_one_are_the_image_mask_cropped():
    for polygons in POLYGONS:
        full = rle_to_mask(polygons, (H, W))
        for x1, y1 in [(0, 0), (8, 6), (45, 3)]:
            roi = [x1, y1, x1 + 32, y1 + 32]
            target = polygons_to_roi_masks([polygons], [roi], 32)
            assert target.shape == (1, 32, 32) and target.dtype == np.float32
            expected = np.zeros((32, 32), np.float32)  # the part of the roi inside the image
            crop = full[y1:y1 + 32, x1:x1 + 32]
            expected[:crop.shape[0], :crop.shape[1]] = crop
            np.testing.assert_array_equal(target[0], expected)


def test_roi_masks_scale_each_axis_and_are_binary():
    square = [[20.0, 10.0, 30.0, 10.0, 30.0, 30.0, 20.0, 30.0]]
    # roi 40 wide, 20 high over 8x8 cells: x scaled by 1/5, y by 2/5
    target = polygons_to_roi_masks([square], [[10, 10, 50, 30]], 8)[0]
    expected = np.zeros((8, 8), np.float32)
    expected[0:8, 2:4] = 1  # x 20..30 -> cells 2..4; y 10..30 -> the whole height
    np.testing.assert_array_equal(target, expected)
    assert set(np.unique(polygons_to_roi_masks(POLYGONS, [[5, 5, 45, 50], [48, 3, 79, 42]], 28))) <= {0, 1}


def test_roi_masks_empty_and_degenerate_inputs():
    assert polygons_to_roi_masks([], np.zeros((0, 4)), 14).shape == (0, 14, 14)
    # no polygons (a crowd RLE's gt_poly) and polygons of fewer than 3 points: empty
    out = polygons_to_roi_masks([[], [[1.0, 1.0, 5.0, 5.0]]], [[0, 0, 10, 10], [0, 0, 10, 10]], 7)
    assert out.shape == (2, 7, 7) and not out.any()
    # a zero-width roi does not divide by zero
    assert polygons_to_roi_masks([POLYGONS[0]], [[10, 10, 10, 40]], 7).shape == (1, 7, 7)
    # polygons given as arrays work too
    arrays = [[np.asarray(p) for p in POLYGONS[1]]]
    np.testing.assert_array_equal(polygons_to_roi_masks(arrays, [[48, 3, 79, 42]], 16),
                                  polygons_to_roi_masks([POLYGONS[1]], [[48, 3, 79, 42]], 16))


def test_tiny_rois_on_big_polygons():
    """A 0.01 px roi scales a 500 px polygon 2800 times: it is cut near the grid first
    (else pycocotools walks millions of points), with the same result."""
    big = [[0.0, 0.0, 500.0, 0.0, 500.0, 500.0, 0.0, 500.0]]
    inside, on_edge = [100, 100, 100.01, 100.01], [499.995, 100, 500.005, 100.01]
    out = polygons_to_roi_masks([big, big], [inside, on_edge], 28)
    assert out[0].all()
    assert out[1][:, :14].all() and not out[1][:, 14:].any()
    # cut or not, a polygon 100 grids away rasterizes the same
    far = [[-2000.0, 3.0, 10.0, -1500.0, 3000.0, 20.0, 12.0, 9.0]]
    cut = _clip_polygon(np.asarray(far[0]).reshape(-1, 2), -40.0, 68.0)
    assert np.abs(cut).max() <= 68
    np.testing.assert_array_equal(rle_to_mask([cut.reshape(-1).tolist()], (28, 28)),
                                  rle_to_mask(far, (28, 28)))
    np.testing.assert_array_equal(polygons_to_roi_masks([far], [[0, 0, 28, 28]], 28)[0],
                                  rle_to_mask(far, (28, 28)))  # cut: 3000 > 64 * 28


def test_roi_mask_errors():
    with pytest.raises(PxError, match="2 instances' polygons but 1 rois"):
        polygons_to_roi_masks(POLYGONS, [[0, 0, 10, 10]], 14)
    with pytest.raises(PxError, match="polygon 0 has 5 numbers"):
        polygons_to_roi_masks([[[1, 2, 3, 4, 5]]], [[0, 0, 10, 10]], 14)
    with pytest.raises(PxError, match=r"expected \[R, 4\]"):
        polygons_to_roi_masks(POLYGONS, [[0, 0, 10], [0, 0, 1]], 14)
    with pytest.raises(PxError, match="resolution 0"):
        polygons_to_roi_masks(POLYGONS[:1], [[0, 0, 10, 10]], 0)
    with pytest.raises(PxError, match="list of flat"):
        polygons_to_roi_masks(["abc"], [[0, 0, 10, 10]], 14)
    with pytest.raises(PxError, match="non-finite"):
        polygons_to_roi_masks(POLYGONS[:1], [[0, 0, np.nan, 10]], 14)


# --- paste_masks ---------------------------------------------------------------------

def _paddle_paste(masks: np.ndarray, boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """PaddleDetection's MaskPostProcess.paste_mask: grid_sample over each box."""
    paddle = pytest.importorskip("paddle")
    import paddle.nn.functional as F

    boxes_t = paddle.to_tensor(boxes.astype(np.float32))
    x0, y0, x1, y1 = paddle.split(boxes_t, 4, axis=1)
    img_y = (paddle.arange(0, height, dtype="float32") + 0.5 - y0) / (y1 - y0) * 2 - 1
    img_x = (paddle.arange(0, width, dtype="float32") + 0.5 - x0) / (x1 - x0) * 2 - 1
    n = len(masks)
    gx = img_x[:, None, :].expand([n, height, width])
    gy = img_y[:, :, None].expand([n, height, width])
    grid = paddle.stack([gx, gy], axis=3)
    pasted = F.grid_sample(paddle.to_tensor(masks[:, None].astype(np.float32)), grid,
                           align_corners=False)
    return pasted[:, 0].numpy()


def test_paste_matches_paddle_grid_sample():
    rng = np.random.default_rng(0)
    n, m = 24, 28
    masks = rng.uniform(0, 1, (n, m, m)).astype(np.float32)
    masks = (masks + np.roll(masks, 1, 1) + np.roll(masks, 1, 2)) / 3  # smoother
    centres = rng.uniform(-10, [W + 10, H + 10], (n, 2))
    sizes = rng.uniform(2, 50, (n, 2))
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], 1)
    boxes[0] = [-20, -15, W + 12, H + 9]  # larger than the image
    boxes[1] = [3.25, 7.5, 9.75, 8.5]  # thinner than a pixel row of cells
    expected = _paddle_paste(masks, boxes, H, W)
    values = np.zeros((n, H, W))
    for i in range(n):
        pasted = _paste_probabilities(masks[i], boxes[i], H, W)
        if pasted is not None:
            v, r0, c0 = pasted
            values[i, r0:r0 + v.shape[0], c0:c0 + v.shape[1]] = v
    np.testing.assert_allclose(values, expected, atol=2e-5)
    got = paste_masks(masks, boxes, H, W)
    assert got.shape == (n, H, W) and got.dtype == np.uint8
    clear = np.abs(expected - 0.5) > 1e-4  # float32 rounding may flip exact ties
    np.testing.assert_array_equal(got[clear], (expected >= 0.5)[clear])
    assert got.any(axis=(1, 2)).sum() > n // 2


def test_paste_full_masks_fill_their_boxes():
    ones = np.ones((3, 14, 14), np.float32)
    boxes = [[10, 20, 30, 25], [-5, -5, 4, 3], [75, 50, 90, 70]]  # inside, corner, corner
    out = paste_masks(ones, boxes, H, W)
    for mask, (x1, y1, x2, y2) in zip(out, boxes, strict=True):
        expected = np.zeros((H, W), np.uint8)
        expected[max(y1, 0):y2, max(x1, 0):x2] = 1
        np.testing.assert_array_equal(mask, expected)
    # a sub-pixel box: pixel centres inside it, and only those
    (mask,) = paste_masks(ones[:1], [[2.4, 3.6, 6.6, 7.4]], 10, 10)
    assert np.argwhere(mask).min(0).tolist() == [4, 2] and np.argwhere(mask).max(0).tolist() == [6, 6]
    # [N, 1, M, M] (the head's class channel kept) and a threshold
    half = np.full((1, 1, 7, 7), 0.4, np.float32)
    assert not paste_masks(half, [[0, 0, 10, 10]], H, W).any()
    # edge pixels blend with the zero padding: 0.4 * 0.85 * 0.85 in the corners
    assert paste_masks(half, [[0, 0, 10, 10]], H, W, threshold=0.25).sum() == 100
    assert paste_masks(half, [[0, 0, 10, 10]], H, W, threshold=0.3).sum() == 96


def _detectron_paste(mask: np.ndarray, box, height: int, width: int) -> np.ndarray:
    """PaddleX 1.3's mask2out (models/utils/detection_eval.py) for one mask, written out
    with OpenCV as it does: pad, grow the box, cut to whole pixels, resize, threshold."""
    cv2 = pytest.importorskip("cv2")
    m = mask.shape[0]
    box = np.asarray(box, np.float32)
    half = (box[2:] - box[:2]) * np.float32(0.5) * np.float32((m + 2.0) / m)
    centre = (box[2:] + box[:2]) * np.float32(0.5)
    x1, y1 = (int(v) for v in (centre - half).astype(np.int32))
    x2, y2 = (int(v) for v in (centre + half).astype(np.int32))
    resized = cv2.resize(np.pad(mask, 1), (max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)))
    out = np.zeros((height, width), np.uint8)
    c0, c1, r0, r1 = (min(max(x1, 0), width), min(max(x2 + 1, 0), width),
                      min(max(y1, 0), height), min(max(y2 + 1, 0), height))
    out[r0:r1, c0:c1] = resized[r0 - y1:r1 - y1, c0 - x1:c1 - x1] > 0.5
    return out, resized, (x1, y1)


def test_padded_paste_is_paddlex_1s_mask2out():
    rng = np.random.default_rng(1)
    n, m = 24, 28
    masks = rng.uniform(0, 1, (n, m, m)).astype(np.float32)
    masks = (masks + np.roll(masks, 1, 1) + np.roll(masks, 1, 2)) / 3
    centres = rng.uniform(-10, [W + 10, H + 10], (n, 2))
    sizes = rng.uniform(0.5, 60, (n, 2))
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], 1).astype(np.float32)
    boxes[0] = [-20, -15, W + 12, H + 9]  # larger than the image
    boxes[1] = [3.25, 7.5, 3.5, 7.75]  # under a pixel: one pixel at least
    got = paste_masks(masks, boxes, H, W, rule="padded")
    for i in range(n):
        expected, resized, (x1, y1) = _detectron_paste(masks[i], boxes[i], H, W)
        for y, x in np.argwhere(got[i] != expected):  # OpenCV rounds its weights otherwise
            assert abs(resized[y - y1, x - x1] - 0.5) < 1e-5
    assert got.any(axis=(1, 2)).sum() > n // 2
    # not the 2.x rule
    assert (got != paste_masks(masks, boxes, H, W)).sum() > 100
    with pytest.raises(PxError, match="rule 'nearest' is not one of sample, padded"):
        paste_masks(masks, boxes, H, W, rule="nearest")


def test_paste_empty_and_outside_boxes():
    assert paste_masks(np.zeros((0, 28, 28)), np.zeros((0, 4)), H, W).shape == (0, H, W)
    ones = np.ones((5, 28, 28), np.float32)
    boxes = [[100, 10, 120, 30], [-30, -30, -10, -10], [10, 10, 10, 30], [20, 20, 10, 30],
             [np.nan, 0, 10, 10]]  # outside, outside, zero width, reversed, not finite
    out = paste_masks(ones, boxes, H, W)
    assert out.shape == (5, H, W) and not out.any()


def test_paste_errors():
    with pytest.raises(PxError, match="2 masks but 1 boxes"):
        paste_masks(np.ones((2, 7, 7)), [[0, 0, 5, 5]], H, W)
    with pytest.raises(PxError, match="pick each box's class channel"):
        paste_masks(np.ones((2, 3, 7, 7)), [[0, 0, 5, 5]] * 2, H, W)
    with pytest.raises(PxError, match="threshold 0"):
        paste_masks(np.ones((1, 7, 7)), [[0, 0, 5, 5]], H, W, threshold=0)
    with pytest.raises(PxError, match="0x80"):
        paste_masks(np.ones((1, 7, 7)), [[0, 0, 5, 5]], 0, W)


def test_targets_and_paste_agree():
    """Rasterize into the gt boxes, paste back: the image masks again, up to the 28 px grid."""
    boxes = [[10, 10, 40, 45], [50, 5, 78, 40]]
    targets = polygons_to_roi_masks(POLYGONS, boxes, 28)
    pasted = paste_masks(targets, boxes, H, W)
    for polygons, mask in zip(POLYGONS, pasted, strict=True):
        full = rle_to_mask(polygons, (H, W)).astype(bool)
        iou = (full & (mask > 0)).sum() / (full | (mask > 0)).sum()
        assert iou > 0.9


# --- RLE ----------------------------------------------------------------------------

def test_rle_round_trip_and_forms():
    rng = np.random.default_rng(1)
    mask = (rng.uniform(size=(H, W)) > 0.7).astype(np.uint8)
    rle = mask_to_rle(mask)
    assert rle["size"] == [H, W] and isinstance(rle["counts"], str)
    assert json.loads(json.dumps(rle)) == rle
    np.testing.assert_array_equal(rle_to_mask(rle), mask)
    assert rle_to_mask(rle).flags.c_contiguous and rle_to_mask(rle).dtype == np.uint8
    as_bytes = {"size": rle["size"], "counts": rle["counts"].encode()}
    np.testing.assert_array_equal(rle_to_mask(as_bytes), mask)
    np.testing.assert_array_equal(rle_to_mask(rle, size=(H, W)), mask)
    np.testing.assert_array_equal(mask_to_rle(mask.astype(bool)), rle)
    # uncompressed (iscrowd) counts run down the columns, from the background
    column_major = np.zeros((3, 2), np.uint8)
    column_major[1:, 0] = 1
    np.testing.assert_array_equal(rle_to_mask({"size": [3, 2], "counts": [1, 2, 3]}), column_major)
    # polygons
    polygon = rle_to_mask([[1, 1, 5, 1, 5, 4, 1, 4]], size=(6, 7))
    expected = np.zeros((6, 7), np.uint8)
    expected[1:4, 1:5] = 1
    np.testing.assert_array_equal(polygon, expected)
    assert not rle_to_mask([], size=(6, 7)).any()
    empty = mask_to_rle(np.zeros((4, 5)))
    assert empty["size"] == [4, 5] and not rle_to_mask(empty).any()


def test_rle_errors():
    mask = np.zeros((H, W), np.uint8)
    with pytest.raises(PxError, match="60x80 .*but 61x80"):
        rle_to_mask(mask_to_rle(mask), size=(61, 80))
    with pytest.raises(PxError, match="need the image size"):
        rle_to_mask([[1, 1, 5, 1, 5, 4]])
    with pytest.raises(PxError, match="other than 0 and 1 .*threshold"):
        mask_to_rle(np.full((4, 4), 0.3))
    with pytest.raises(PxError, match="expected one HxW mask"):
        mask_to_rle(np.zeros((2, 4, 4)))
    with pytest.raises(PxError, match="'size' and 'counts'"):
        rle_to_mask({"counts": "abc"})
    with pytest.raises(PxError, match="add up to 5 pixels"):
        rle_to_mask({"size": [3, 2], "counts": [1, 4]})


def test_masks_do_not_import_paddle():
    code = ("import sys, numpy as np; from pxcore.ops import paste_masks, polygons_to_roi_masks, "
            "mask_to_rle, rle_to_mask; "
            "m = paste_masks(np.ones((1, 7, 7)), [[0, 0, 5, 5]], 10, 10); "
            "rle_to_mask(mask_to_rle(m[0])); polygons_to_roi_masks([[[0, 0, 4, 0, 4, 4]]], [[0, 0, 4, 4]], 7); "
            "import pxcore.metrics.detection, pxcore.visualize; "
            "assert 'paddle' not in sys.modules, 'paddle was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- visualize ---------------------------------------------------------------------

def _detection(mask=None, score=0.9, category_id=1):
    item = {"category_id": category_id, "category": "thing", "bbox": [2, 2, 74, 54], "score": score}
    if mask is not None:
        item["mask"] = mask
    return item


def test_visualize_overlays_masks_in_the_class_colour():
    from pxcore.visualize import MASK_ALPHA, _colour, visualize

    image = np.full((H, W, 3), 100, np.uint8)
    mask = np.zeros((H, W), np.uint8)
    mask[24:50, 10:60] = 1  # inside the box, below its label
    mask[30:40, 20:30] = 0
    plain = visualize(image, [_detection()], min_size=1)
    drawn = visualize(image, [_detection(mask)], min_size=1)
    changed = (drawn != plain).any(-1)
    np.testing.assert_array_equal(changed, mask.astype(bool))
    colour = np.asarray(_colour(1))
    expected = np.round(100 * (1 - MASK_ALPHA) + colour * MASK_ALPHA).astype(np.uint8)
    assert (drawn[mask.astype(bool)] == expected).all()
    # an RLE draws the same; a detection under the threshold draws nothing
    np.testing.assert_array_equal(visualize(image, [_detection(mask_to_rle(mask))], min_size=1), drawn)
    low = visualize(image, [_detection(mask, score=0.3)], min_size=1)
    np.testing.assert_array_equal(low, visualize(image, [], min_size=1))
    # a small picture is scaled up, and its masks with it
    big = visualize(image, [_detection(mask)])
    big_plain = visualize(image, [_detection()])
    scale = big.shape[0] / H
    rows, cols = np.nonzero((big != big_plain).any(-1))
    assert abs(rows.min() - 24 * scale) <= 1 and abs(rows.max() + 1 - 50 * scale) <= 1
    assert abs(cols.min() - 10 * scale) <= 1 and abs(cols.max() + 1 - 60 * scale) <= 1


def test_visualize_mask_errors():
    from pxcore.visualize import visualize

    image = np.zeros((H, W, 3), np.uint8)
    with pytest.raises(PxError, match="thing detection is 30x40 but the image is 60x80"):
        visualize(image, [_detection(np.zeros((30, 40), np.uint8))])
    with pytest.raises(PxError, match="30x40 but the image is 60x80"):
        visualize(image, [_detection(mask_to_rle(np.zeros((30, 40), np.uint8)))])
    with pytest.raises(PxError, match="other than 0 and 1"):
        visualize(image, [_detection(np.full((H, W), 0.7))])
