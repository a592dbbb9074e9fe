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


# --- the vectorised NMS against a straightforward one --------------------------------
# The package's NMS measures only the pairs that can matter, all classes at once; these
# reference implementations measure every pair, box by box, with the project's box_iou
# (what pxcore.ops.nms did before it was vectorised). Results must be equal exactly.

def _ref_iou(a, b, normalized):
    from pxcore.transforms.geometry import box_iou

    if normalized:
        return box_iou(a, b)
    apart = ((b[None, :, 0] > a[:, None, 2]) | (b[None, :, 2] < a[:, None, 0])
             | (b[None, :, 1] > a[:, None, 3]) | (b[None, :, 3] < a[:, None, 1]))
    pixel = np.array([0, 0, 1, 1], np.float64)
    return np.where(apart, 0.0, box_iou(a + pixel, b + pixel))


def _ref_greedy(boxes, threshold, normalized):
    order, keep = np.arange(len(boxes)), []
    while order.size:
        first, order = order[0], order[1:]
        keep.append(first)
        if order.size:
            order = order[_ref_iou(boxes[first:first + 1], boxes[order], normalized)[0] <= threshold]
    return np.asarray(keep, np.int64)


def _ref_by_score(scores, threshold, top_k):
    candidates = np.flatnonzero(scores > threshold)
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    return order if top_k < 0 else order[:top_k]


def _ref_nms(boxes, scores, threshold, normalized=True):
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, np.float32), kind="stable")
    return order[_ref_greedy(boxes[order], threshold, normalized)]


def _ref_detections(boxes, classes, scores, index):
    rows = boxes[index, classes] if boxes.ndim == 3 else boxes[index]
    dets = np.concatenate([classes[:, None], scores[:, None], rows], axis=1).astype(np.float32)
    return dets.reshape(-1, 6), index.astype(np.int64)


def _ref_multiclass(boxes, scores, score_threshold, nms_threshold, nms_top_k, keep_top_k,
                    background_label, normalized):
    boxes, scores = np.asarray(boxes, np.float32), np.asarray(scores, np.float32)
    coordinates = boxes.astype(np.float64)
    kept, classes = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for c in range(scores.shape[1]):
        if c == background_label:
            continue
        order = _ref_by_score(scores[:, c], score_threshold, nms_top_k)
        class_boxes = coordinates[:, c] if boxes.ndim == 3 else coordinates
        kept.append(order[_ref_greedy(class_boxes[order], nms_threshold, normalized)])
        classes.append(np.full(len(kept[-1]), c, np.int64))
    index, classes = np.concatenate(kept), np.concatenate(classes)
    kept_scores = scores[index, classes]
    if -1 < keep_top_k < len(index):
        best = np.sort(np.argsort(-kept_scores, kind="stable")[:keep_top_k])
        index, classes, kept_scores = index[best], classes[best], kept_scores[best]
    return _ref_detections(boxes, classes, kept_scores, index)


def _ref_matrix(boxes, scores, score_threshold, post_threshold, nms_top_k, keep_top_k,
                use_gaussian, gaussian_sigma, background_label, normalized):
    boxes, scores = np.asarray(boxes, np.float32), np.asarray(scores, np.float32)
    coordinates = boxes.astype(np.float64)
    kept, classes, decayed = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
    for c in range(scores.shape[1]):
        order = _ref_by_score(scores[:, c], score_threshold, nms_top_k)
        if c == background_label or not order.size:
            continue
        iou = np.tril(_ref_iou(coordinates[order], coordinates[order], normalized), k=-1)
        iou_max = iou.max(axis=1)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if use_gaussian:
                decay = np.exp((iou_max[None, :] ** 2 - iou ** 2) * gaussian_sigma)
            else:
                decay = (1.0 - iou) / (1.0 - iou_max[None, :])
        decay = np.where(np.tri(len(order), k=-1, dtype=bool) & ~np.isnan(decay), decay, 1.0)
        score = (decay.min(axis=1, initial=1.0) * scores[order, c]).astype(np.float32)
        alive = score > post_threshold
        kept.append(order[alive])
        classes.append(np.full(int(alive.sum()), c, np.int64))
        decayed.append(score[alive])
    index, classes, decayed = np.concatenate(kept), np.concatenate(classes), np.concatenate(decayed)
    best = np.argsort(-decayed, kind="stable")
    if keep_top_k > -1:
        best = best[:keep_top_k]
    return _ref_detections(boxes, classes[best], decayed[best], index[best])


def hard_boxes(seed: int, n: int, classes: int, per_class: bool = False):
    """Boxes that stress the bookkeeping: integer coordinates (touching pixel boxes, equal
    IoUs), copies of boxes, empty and reversed boxes (some by less than a pixel), a NaN
    box; scores with many ties. [N, 4] (or [N, C, 4]) and [N, C]."""
    rng = np.random.default_rng(seed)
    shape = (n, classes) if per_class else (n,)
    centres = rng.uniform(0, 60, (*shape, 2))
    sizes = rng.uniform(-1.5, 25, (*shape, 2))
    if seed % 2:
        centres, sizes = np.round(centres), np.round(sizes)
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], -1).astype(np.float32)
    if n > 10:
        boxes[rng.integers(0, n, n // 4)] = boxes[rng.integers(0, n, n // 4)]  # copies
        boxes[rng.integers(0, n)] = np.nan
    scores = rng.uniform(0, 1, (n, classes)).astype(np.float32)
    if seed % 3 != 2:
        scores = np.round(scores * 10) / 10  # ties
    return boxes, scores


def _assert_same(got, expected):
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("seed", range(8))
def test_nms_equals_the_reference(seed, normalized):
    boxes, scores = hard_boxes(seed, 150, 1)
    for threshold in (0.0, 0.3, 0.5, 0.8, 1.0, -0.1):
        np.testing.assert_array_equal(nms(boxes, scores[:, 0], threshold, normalized),
                                      _ref_nms(boxes, scores[:, 0], threshold, normalized))


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("seed", range(8))
def test_multiclass_nms_equals_the_reference(seed, normalized):
    boxes, scores = hard_boxes(seed, 200, 6)
    for options in (dict(score_threshold=0.05, nms_threshold=0.5, nms_top_k=-1, keep_top_k=-1,
                         background_label=-1),
                    dict(score_threshold=0.01, nms_threshold=0.45, nms_top_k=40, keep_top_k=100,
                         background_label=-1),
                    dict(score_threshold=0.3, nms_threshold=0.0, nms_top_k=25, keep_top_k=30,
                         background_label=0),
                    dict(score_threshold=0.2, nms_threshold=0.7, nms_top_k=0, keep_top_k=-1,
                         background_label=2),
                    dict(score_threshold=0.2, nms_threshold=1.0, nms_top_k=-1, keep_top_k=20,
                         background_label=-1),
                    dict(score_threshold=0.2, nms_threshold=-1.0, nms_top_k=-1, keep_top_k=-1,
                         background_label=-1)):
        options["normalized"] = normalized
        _assert_same(multiclass_nms(boxes, scores, **options, return_index=True),
                     _ref_multiclass(boxes, scores, **options))


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_multiclass_nms_with_a_box_per_class_equals_the_reference(seed, normalized):
    boxes, scores = hard_boxes(seed, 120, 4, per_class=True)
    options = dict(score_threshold=0.1, nms_threshold=0.4, nms_top_k=50, keep_top_k=-1,
                   background_label=-1, normalized=normalized)
    _assert_same(multiclass_nms(boxes, scores, **options, return_index=True),
                 _ref_multiclass(boxes, scores, **options))


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("seed", range(8))
def test_matrix_nms_equals_the_reference(seed, normalized):
    boxes, scores = hard_boxes(seed, 200, 5)
    for options in (dict(score_threshold=0.01, post_threshold=0.01, nms_top_k=-1, keep_top_k=100,
                         use_gaussian=False, gaussian_sigma=2.0, background_label=-1),
                    dict(score_threshold=0.05, post_threshold=0.1, nms_top_k=60, keep_top_k=-1,
                         use_gaussian=True, gaussian_sigma=2.0, background_label=1),
                    dict(score_threshold=0.2, post_threshold=0.0, nms_top_k=-1, keep_top_k=-1,
                         use_gaussian=False, gaussian_sigma=2.0, background_label=-1),
                    dict(score_threshold=0.2, post_threshold=-1.0, nms_top_k=30, keep_top_k=-1,
                         use_gaussian=True, gaussian_sigma=0.5, background_label=-1),
                    dict(score_threshold=0.2, post_threshold=0.05, nms_top_k=30, keep_top_k=-1,
                         use_gaussian=True, gaussian_sigma=-1.0, background_label=-1)):
        options["normalized"] = normalized
        _assert_same(matrix_nms(boxes, scores, **options, return_index=True),
                     _ref_matrix(boxes, scores, **options))


def yolo_like_boxes(seed: int, classes: int = 80, size: int = 608):
    """YOLOv3's 22,743 boxes at 608 (3 anchors per cell at strides 32, 16, 8) with
    jittered centres and sizes, all of them scoring above the threshold in every class."""
    rng = np.random.default_rng(seed)
    anchors = np.array([[116, 90], [156, 198], [373, 326], [30, 61], [62, 45], [59, 119],
                        [10, 13], [16, 30], [33, 23]], np.float64)
    boxes = []
    for level, stride in enumerate((32, 16, 8)):
        cells = size // stride
        gy, gx = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        for anchor in anchors[3 * level:3 * level + 3]:
            centre = (np.stack([gx, gy], -1).reshape(-1, 2) + rng.uniform(0, 1, (cells ** 2, 2))) * stride
            wh = anchor * np.exp(rng.normal(0, 0.4, (cells ** 2, 2)))
            boxes.append(np.concatenate([centre - wh / 2, centre + wh / 2], 1))
    boxes = np.concatenate(boxes).clip(0, size).astype(np.float32)
    return boxes, rng.uniform(0.02, 1, (len(boxes), classes)).astype(np.float32)


def test_worst_case_completes():
    # every one of YOLOv3's 22,743 boxes above the threshold in all 80 classes, as the
    # YOLOv3 presets run it (nms_top_k 1,000 a class); and uncapped, 10,000 candidates a
    # class (the stride-8 level's boxes) through both kinds of NMS
    boxes, scores = yolo_like_boxes(0)
    assert len(boxes) == 22743
    dets, index = multiclass_nms(boxes, scores, 0.01, 0.45, nms_top_k=1000, keep_top_k=100,
                                 normalized=False, return_index=True)
    assert dets.shape == (100, 6) and len(np.unique(dets[:, 0])) > 1
    assert (scores[index, dets[:, 0].astype(int)] == dets[:, 1]).all()
    small, some = boxes[-10000:], scores[-10000:, :8]
    assert multiclass_nms(small, some, 0.01, 0.45, nms_top_k=-1, keep_top_k=100,
                          normalized=False).shape == (100, 6)
    assert matrix_nms(small, some, 0.01, 0.01, nms_top_k=-1, keep_top_k=100).shape == (100, 6)


# --- keep_top_k settles the output early ------------------------------------------------
# With keep_top_k set and many candidates, both NMS kinds first go through the best
# candidates across classes (every one scoring at least a cut) and stop once those
# settle the output; else a larger prefix, and at last every candidate. The rounds taken
# are recorded so that each case below is known to take the path it is named for.

nms_module = sys.modules["pxcore.ops.nms"]


@pytest.fixture
def rounds(monkeypatch):
    """The cuts of the candidate sets each call went through (None: all candidates)."""
    taken = []
    original = nms_module._prefixes

    def recorded(*args, **kwargs):
        for candidates, cut in original(*args, **kwargs):
            taken.append(None if cut is None else (float(cut[0]), cut[1]))
            yield candidates, cut

    monkeypatch.setattr(nms_module, "_prefixes", recorded)
    return taken


def clustered(seed: int, n: int, classes: int, clusters: int, jitter: float,
              ties: int = 0, low: float = 0.0):
    """``n`` boxes around ``clusters`` centres (the fewer and tighter, the more is
    suppressed) and scores [N, C] uniform in (low, 1), rounded to 1/``ties`` if given."""
    rng = np.random.default_rng(seed)
    centres = (rng.uniform(20, 180, (clusters, 2))[rng.integers(0, clusters, n)]
               + rng.normal(0, jitter, (n, 2)))
    sizes = rng.uniform(8, 40, (n, 2))
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], 1).astype(np.float32)
    scores = rng.uniform(low, 1, (n, classes))
    if ties:
        scores = np.round(scores * ties) / ties
    return boxes, scores.astype(np.float32)


def tied_across_classes(seed: int):
    """Classes that copy each other's scores and boxes that copy each other: equal scores
    in several classes and in one class, many of them at whatever score the cut falls on."""
    boxes, scores = clustered(seed, 300, 12, 12, 6, ties=8)
    scores[:, 6:] = scores[:, :6]
    boxes[150:] = boxes[:150]
    return boxes, scores


def one_score(data):
    boxes, scores = data
    return boxes, np.full_like(scores, 0.5)


def two_scores(data):
    """Most candidates tied at the higher score."""
    boxes, scores = data
    return boxes, np.where(scores < 0.7, np.float32(0.9), np.float32(0.5))


def saturated(data):
    """A third of the scores exactly 1 (as an untrained PP-YOLO's are, in float32)."""
    boxes, scores = data
    return boxes, np.minimum(scores * np.float32(1.5), np.float32(1))


def large_object(n: int, classes: int):
    """Boxes that all overlap a lot (greedy NMS keeps about one a class), scores [N, C]."""
    rng = np.random.default_rng(n)
    boxes = np.concatenate([rng.uniform(0, 20, (n, 2)), rng.uniform(170, 200, (n, 2))], 1)
    return boxes.astype(np.float32), rng.uniform(0, 1, (n, classes)).astype(np.float32)


def _path(taken, expected: str):
    if expected == "first":  # the first prefix settled it
        assert len(taken) == 1 and taken[0] is not None, taken
    elif expected == "later":  # a larger prefix settled it
        assert len(taken) >= 2 and taken[-1] is not None, taken
    elif expected == "fallback":  # prefixes tried, then every candidate
        assert len(taken) >= 2 and taken[-1] is None, taken
    else:  # "all": no prefix
        assert taken == [None], taken


EARLY_MULTICLASS = {
    # name: (boxes and scores, options, path)
    "many classes": (lambda: clustered(1, 400, 40, 12, 6),
                     dict(nms_threshold=0.5), "first"),
    "80 classes, nms_top_k 3": (lambda: clustered(2, 150, 80, 12, 6),
                                dict(nms_threshold=0.45, nms_top_k=3), "first"),
    "second prefix": (lambda: clustered(0, 3000, 3, 4, 2), dict(nms_threshold=0.5), "later"),
    "fewer than keep_top_k kept": (lambda: clustered(0, 2000, 4, 6, 3),
                                   dict(nms_threshold=0.2), "fallback"),
    "ties at the cut": (lambda: tied_across_classes(3), dict(nms_threshold=0.5), "first"),
    "ties, keep_top_k 1": (lambda: tied_across_classes(4),
                           dict(nms_threshold=0.5, keep_top_k=1), "first"),
    "keep_top_k 0": (lambda: clustered(5, 400, 40, 12, 6), dict(keep_top_k=0), "first"),
    "keep_top_k above the candidates": (lambda: clustered(6, 300, 4, 12, 6),
                                        dict(keep_top_k=5000), "all"),
    "keep_top_k -1": (lambda: clustered(6, 300, 40, 12, 6), dict(keep_top_k=-1), "all"),
    "nms_top_k 0": (lambda: clustered(6, 300, 40, 12, 6), dict(nms_top_k=0), "all"),
    "background": (lambda: clustered(7, 400, 30, 12, 6),
                   dict(background_label=0, nms_top_k=8), "first"),
    "awkward boxes": (lambda: hard_boxes(7, 300, 30), dict(nms_threshold=0.3), "first"),
    "negative scores": (lambda: clustered(8, 300, 30, 12, 6, low=-1.0),
                        dict(score_threshold=-0.5), "first"),
    "every IoU suppresses": (lambda: clustered(9, 200, 40, 12, 6),
                             dict(nms_threshold=-1.0), "fallback"),
    "one score": (lambda: one_score(clustered(0, 2000, 4, 6, 3)), dict(nms_threshold=0.2),
                  "fallback"),  # prefixes of the tie by class and box
    "two scores": (lambda: two_scores(clustered(0, 2000, 4, 6, 3)), dict(nms_threshold=0.2),
                   "fallback"),
    "saturated scores": (lambda: saturated(clustered(3, 300, 40, 12, 6)), dict(), "first"),
    "one large object": (lambda: large_object(300, 10), dict(nms_top_k=200), "fallback"),
    "a prefix holds all nms_top_k lets through": (lambda: clustered(0, 2000, 4, 6, 3),
                                                  dict(nms_threshold=0.2, nms_top_k=100),
                                                  "later"),
}


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("case", list(EARLY_MULTICLASS))
def test_multiclass_nms_stopping_early_equals_the_reference(case, normalized, rounds):
    make, changes, path = EARLY_MULTICLASS[case]
    boxes, scores = make()
    options = dict(score_threshold=0.01, nms_threshold=0.45, nms_top_k=-1, keep_top_k=100,
                   background_label=-1, normalized=normalized)
    options.update(changes)
    got = multiclass_nms(boxes, scores, **options, return_index=True)
    _path(rounds, path)
    _assert_same(got, _ref_multiclass(boxes, scores, **options))
    if path != "all":  # and with a box per class (all copies of one): the same output
        per_class = np.repeat(boxes[:, None], scores.shape[1], 1)
        _assert_same(multiclass_nms(per_class, scores, **options, return_index=True), got)


EARLY_MATRIX = {
    "ppyolo": (lambda: clustered(1, 400, 40, 12, 6), dict(), "first"),
    "80 classes, nms_top_k 3": (lambda: clustered(2, 150, 80, 12, 6),
                                dict(nms_top_k=3), "first"),
    "second prefix": (lambda: clustered(0, 2000, 4, 12, 6), dict(), "later"),
    "copies decay to 0": (lambda: (np.tile(clustered(3, 3, 1, 3, 6)[0], (200, 1)),
                                   clustered(3, 600, 30, 12, 6)[1]), dict(), "fallback"),
    "ties at the cut": (lambda: tied_across_classes(3), dict(), "first"),
    "ties, keep_top_k 1": (lambda: tied_across_classes(4), dict(keep_top_k=1), "first"),
    "keep_top_k 0": (lambda: clustered(5, 400, 40, 12, 6), dict(keep_top_k=0), "first"),
    "keep_top_k above the candidates": (lambda: clustered(6, 300, 4, 12, 6),
                                        dict(keep_top_k=5000), "all"),
    "keep_top_k -1": (lambda: clustered(6, 300, 40, 12, 6), dict(keep_top_k=-1), "all"),
    "post_threshold 0.6": (lambda: clustered(7, 400, 30, 12, 6),
                           dict(post_threshold=0.6), "first"),
    "post_threshold above all": (lambda: clustered(7, 400, 30, 12, 6),
                                 dict(post_threshold=0.99), "all"),
    "post_threshold NaN": (lambda: clustered(7, 400, 30, 12, 6),
                           dict(post_threshold=float("nan")), "first"),
    "gaussian, background": (lambda: clustered(8, 400, 30, 12, 6),
                             dict(use_gaussian=True, background_label=0, nms_top_k=20),
                             "first"),
    "gaussian, negative sigma": (lambda: clustered(8, 400, 30, 12, 6),
                                 dict(use_gaussian=True, gaussian_sigma=-1.0), "first"),
    "awkward boxes": (lambda: hard_boxes(7, 300, 30), dict(), "first"),
    "negative scores": (lambda: clustered(9, 300, 30, 12, 6, low=-1.0),
                        dict(score_threshold=-0.5, post_threshold=-0.9), "first"),
    # a decay raises a negative score: no prefix below 0, no pruning by a negative
    # post_threshold
    "only negative scores": (lambda: negative(clustered(9, 300, 30, 12, 6)),
                             dict(score_threshold=-2.0, post_threshold=-3.0), "all"),
    "negative post_threshold": (lambda: clustered(9, 300, 30, 12, 6, low=-1.0),
                                dict(score_threshold=-1.0, post_threshold=-0.3, keep_top_k=-1),
                                "all"),
    "one score": (lambda: one_score(clustered(0, 600, 4, 6, 3)), dict(), "fallback"),
    "two scores": (lambda: two_scores(clustered(0, 600, 4, 6, 3)), dict(), "fallback"),
    "saturated scores": (lambda: saturated(clustered(3, 300, 40, 12, 6)), dict(), "later"),
    "a prefix holds all nms_top_k lets through": (lambda: clustered(0, 2000, 4, 12, 6),
                                                  dict(nms_top_k=150), "later"),
}


def negative(data):
    boxes, scores = data
    return boxes, scores - np.float32(1.1)


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("case", list(EARLY_MATRIX))
def test_matrix_nms_stopping_early_equals_the_reference(case, normalized, rounds):
    make, changes, path = EARLY_MATRIX[case]
    boxes, scores = make()
    options = dict(score_threshold=0.01, post_threshold=0.01, nms_top_k=-1, keep_top_k=100,
                   use_gaussian=False, gaussian_sigma=2.0, background_label=-1,
                   normalized=normalized)
    options.update(changes)
    got = matrix_nms(boxes, scores, **options, return_index=True)
    _path(rounds, path)
    _assert_same(got, _ref_matrix(boxes, scores, **options))


def test_yolo_worst_case_equals_the_reference(rounds):
    # YOLOv3's boxes at 608, every one above the threshold in 12 classes: as the presets
    # run them (multiclass, nms_top_k 1,000; Matrix NMS here capped at 300)
    boxes, scores = yolo_like_boxes(1, classes=12)
    options = dict(score_threshold=0.01, nms_threshold=0.45, nms_top_k=1000, keep_top_k=100,
                   background_label=-1, normalized=False)
    _assert_same(multiclass_nms(boxes, scores, **options, return_index=True),
                 _ref_multiclass(boxes, scores, **options))
    options = dict(score_threshold=0.01, post_threshold=0.01, nms_top_k=300, keep_top_k=100,
                   use_gaussian=False, gaussian_sigma=2.0, background_label=-1,
                   normalized=False)
    _assert_same(matrix_nms(boxes, scores, **options, return_index=True),
                 _ref_matrix(boxes, scores, **options))
    assert len(rounds) == 2 and None not in rounds  # each settled by a prefix


def test_every_keep_top_k_equals_the_reference(rounds):
    # Whichever prefix settles the output, it holds the keep_top_k best: each keep_top_k
    # against the reference's output for all (keep_top_k -1) cut as the reference cuts it
    boxes, scores = clustered(0, 2000, 4, 8, 4)
    options = dict(score_threshold=0.01, nms_threshold=0.3, nms_top_k=-1, background_label=-1,
                   normalized=False)
    dets, index = _ref_multiclass(boxes, scores, **options, keep_top_k=-1)
    for keep_top_k in range(1, 130):
        best = np.sort(np.argsort(-dets[:, 1], kind="stable")[:keep_top_k])
        _assert_same(multiclass_nms(boxes, scores, **options, keep_top_k=keep_top_k,
                                    return_index=True), (dets[best], index[best]))
    assert rounds.count(None) < 129 / 2 and len(set(rounds)) > 2  # settled by prefixes
    rounds.clear()
    options = dict(score_threshold=0.01, post_threshold=0.01, nms_top_k=-1, use_gaussian=False,
                   gaussian_sigma=2.0, background_label=-1, normalized=False)
    dets, index = _ref_matrix(boxes, scores, **options, keep_top_k=-1)
    for keep_top_k in range(1, 130):
        _assert_same(matrix_nms(boxes, scores, **options, keep_top_k=keep_top_k,
                                return_index=True), (dets[:keep_top_k], index[:keep_top_k]))
    assert rounds.count(None) < 129 / 2 and len(set(rounds)) > 2


def test_matrix_nms_decayed_to_the_cut_in_a_later_class(rounds):
    # Classes 0-38 score 0.5 on 20 copies of one box (the first stays at 0.5, its copies
    # decay to 0); class 39 has a box at 1 and one at 0.625 that it decays (IoU 1/5) to
    # exactly 0.5. The first prefix holds the boxes above 0.5 and the first 0.5s by class:
    # the decayed 0.5 of class 39 comes after the 0.5s of the classes left out, so it must
    # not count as settled; for some keep_top_k only that tells the outputs apart.
    boxes = np.array([[100, 100, 110, 110]] * 20 + [[0, 0, 3, 1], [2, 0, 5, 1]], np.float32)
    scores = np.zeros((22, 40), np.float32)
    scores[:20, :39] = 0.5
    scores[20:, 39] = [1.0, 0.625]
    options = dict(score_threshold=0.01, post_threshold=0.01, nms_top_k=-1,
                   use_gaussian=False, gaussian_sigma=2.0, background_label=-1, normalized=True)
    dets, _ = _ref_matrix(boxes, scores, **options, keep_top_k=-1)
    assert dets[-1, 1] == 0.5 and dets[-1, 0] == 39  # exactly the cut, in the last class
    for keep_top_k in range(1, 41):
        _assert_same(matrix_nms(boxes, scores, **options, keep_top_k=keep_top_k,
                                return_index=True),
                     _ref_matrix(boxes, scores, **options, keep_top_k=keep_top_k))
    assert [cut for cut in rounds if cut is not None][0] == (0.5, 12)  # ties left out
