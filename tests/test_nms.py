"""pxcore.ops.nms against Paddle's own operators as the oracle (nms, multiclass_nms3,
matrix_nms) on random clustered boxes, both box conventions; and no paddle import."""

import subprocess
import sys

import numpy as np
import paddle
import pytest

from pxcore.errors import PxError
from pxcore.ops import matrix_nms, multiclass_nms, nms


def random_boxes(seed: int, n: int = 300, classes: int = 4):
    """Boxes in clusters (so that they overlap a lot) in a 200 px image, and scores [N, C]."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(20, 180, (12, 2))[rng.integers(0, 12, n)] + rng.normal(0, 6, (n, 2))
    sizes = rng.uniform(8, 40, (n, 2))
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], 1).astype(np.float32)
    return boxes, rng.uniform(0, 1, (n, classes)).astype(np.float32)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_nms_matches_paddle(seed, threshold):
    boxes, scores = random_boxes(seed)
    expected = paddle.vision.ops.nms(paddle.to_tensor(boxes), threshold,
                                     paddle.to_tensor(scores[:, 0])).numpy()
    got = nms(boxes, scores[:, 0], threshold)
    assert 10 < len(got) < len(boxes)
    np.testing.assert_array_equal(got, expected)


def _paddle_multiclass(boxes, scores, score_threshold, nms_threshold, nms_top_k, keep_top_k,
                       background_label, normalized):
    if boxes.ndim == 2:  # shared boxes: bboxes [B, N, 4], scores [B, C, N]
        args = (paddle.to_tensor(boxes[None]), paddle.to_tensor(scores.T[None].copy()), None)
    else:  # a box per class: bboxes [N, C, 4], scores [N, C], boxes per image
        args = (paddle.to_tensor(boxes), paddle.to_tensor(scores),
                paddle.to_tensor(np.array([len(boxes)], np.int32)))
    out, index, _ = paddle._C_ops.multiclass_nms3(
        *args, score_threshold, nms_top_k, keep_top_k, nms_threshold, normalized, 1.0,
        background_label)
    return out.numpy(), index.numpy().reshape(-1)


MULTICLASS_CASES = {
    "all": dict(score_threshold=0.05, nms_threshold=0.5, nms_top_k=-1, keep_top_k=-1,
                background_label=-1),
    "yolov3": dict(score_threshold=0.01, nms_threshold=0.45, nms_top_k=1000, keep_top_k=100,
                   background_label=-1),
    "top_k": dict(score_threshold=0.3, nms_threshold=0.4, nms_top_k=40, keep_top_k=25,
                  background_label=0),
}


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("case", list(MULTICLASS_CASES))
@pytest.mark.parametrize("seed", range(3))
def test_multiclass_nms_matches_paddle(seed, case, normalized):
    boxes, scores = random_boxes(seed)
    options = {**MULTICLASS_CASES[case], "normalized": normalized}
    expected, expected_index = _paddle_multiclass(boxes, scores, **options)
    dets, index = multiclass_nms(boxes, scores, **options, return_index=True)
    assert len(dets) > 20
    np.testing.assert_array_equal(dets[:, 0], expected[:, 0])
    np.testing.assert_allclose(dets[:, 1:], expected[:, 1:], rtol=1e-6)
    np.testing.assert_array_equal(index, expected_index)
    np.testing.assert_array_equal(multiclass_nms(boxes, scores, **options), dets)  # same call twice


@pytest.mark.parametrize("normalized", [True, False])
def test_multiclass_nms_with_a_box_per_class(normalized):
    # (Paddle's multiclass_nms3 takes per-class boxes only with rois_num, and there
    # returns another selection: the oracle here is nms per class.)
    boxes, scores = random_boxes(7)
    jitter = np.random.default_rng(7).normal(0, 3, (len(boxes), scores.shape[1], 4))
    per_class = (boxes[:, None] + jitter).astype(np.float32)
    per_class[..., 2:] = np.maximum(per_class[..., 2:], per_class[..., :2] + 1)
    options = {**MULTICLASS_CASES["all"], "normalized": normalized}
    dets, index = multiclass_nms(per_class, scores, **options, return_index=True)
    for c in range(scores.shape[1]):
        candidates = np.flatnonzero(scores[:, c] > options["score_threshold"])
        keep = candidates[nms(per_class[candidates, c], scores[candidates, c],
                              options["nms_threshold"], normalized)]
        mine = dets[:, 0] == c
        np.testing.assert_array_equal(index[mine], keep)
        np.testing.assert_array_equal(dets[mine, 2:], per_class[keep, c])
        np.testing.assert_array_equal(dets[mine, 1], scores[keep, c])
    # exact: the same boxes copied per class go through the same elementwise IoU arithmetic
    shared = np.repeat(boxes[:, None], scores.shape[1], 1)
    np.testing.assert_array_equal(multiclass_nms(shared, scores, **options),
                                  multiclass_nms(boxes, scores, **options))


MATRIX_CASES = {
    "ppyolo": dict(score_threshold=0.01, post_threshold=0.01, nms_top_k=-1, keep_top_k=100,
                   use_gaussian=False, gaussian_sigma=2.0, background_label=-1),
    "gaussian": dict(score_threshold=0.05, post_threshold=0.1, nms_top_k=60, keep_top_k=-1,
                     use_gaussian=True, gaussian_sigma=2.0, background_label=-1),
    "background": dict(score_threshold=0.2, post_threshold=0.3, nms_top_k=-1, keep_top_k=30,
                       use_gaussian=False, gaussian_sigma=2.0, background_label=0),
}


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("case", list(MATRIX_CASES))
@pytest.mark.parametrize("seed", range(3))
def test_matrix_nms_matches_paddle(seed, case, normalized):
    boxes, scores = random_boxes(seed)
    options = {**MATRIX_CASES[case], "normalized": normalized}
    out, _, index = paddle.vision.ops.matrix_nms(
        paddle.to_tensor(boxes[None]), paddle.to_tensor(scores.T[None].copy()),
        return_index=True, **options)
    expected, expected_index = out.numpy(), index.numpy().reshape(-1)
    dets, index = matrix_nms(boxes, scores, **options, return_index=True)
    assert len(dets) > 20
    # decayed scores are float32 products in Paddle: equal to a few ulps
    np.testing.assert_allclose(dets, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(index, expected_index)
    assert (np.diff(dets[:, 1]) <= 0).all()


def test_matrix_nms_decays_by_hand():
    # b (IoU 1/3 with the better a; a's own max IoU is 0): linear decay (1 - 1/3) / (1 - 0)
    boxes = np.array([[0, 0, 2, 1], [1, 0, 3, 1], [10, 10, 11, 11]], np.float32)
    scores = np.array([[0.9], [0.6], [0.3]], np.float32)
    dets = matrix_nms(boxes, scores, 0.0, 0.0, normalized=True)
    np.testing.assert_allclose(dets[:, 1], [0.9, 0.6 * 2 / 3, 0.3], rtol=1e-6)
    dets = matrix_nms(boxes, scores, 0.0, 0.0, use_gaussian=True, gaussian_sigma=2.0,
                      normalized=True)
    np.testing.assert_allclose(dets[:, 1], [0.9, 0.6 * np.exp(-2 / 9), 0.3], rtol=1e-6)


def test_nothing_above_the_threshold_gives_empty_results():
    boxes, scores = random_boxes(0)
    for function in (multiclass_nms, matrix_nms):
        dets, index = function(boxes, scores, score_threshold=1.0, return_index=True)
        assert dets.shape == (0, 6) and dets.dtype == np.float32 and index.shape == (0,)
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).shape == (0,)


def test_shapes_that_do_not_fit_are_refused():
    boxes, scores = random_boxes(0)
    with pytest.raises(PxError, match=r"boxes \[300, 4\] and scores \[299, 4\]"):
        multiclass_nms(boxes, scores[1:])
    with pytest.raises(PxError, match="shared by the classes"):
        matrix_nms(np.repeat(boxes[:, None], 4, 1), scores)
    with pytest.raises(PxError, match="300 boxes but 299 scores"):
        nms(boxes, scores[1:, 0], 0.5)


def test_post_processing_does_not_import_paddle():
    code = ("import sys, numpy as np; from pxcore.ops import multiclass_nms; "
            "multiclass_nms(np.zeros((1, 4)), np.ones((1, 2))); "
            "assert 'paddle' not in sys.modules, 'paddle was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
