"""pxcore.testing.detections: the one comparator of detections across runtimes forgives
float noise and the boxes at a cut, and nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from pxcore.testing.detections import assert_same_detections, match_detections

THRESHOLD = 0.01


def det(category_id, score, x, y, w, h):
    return {"category_id": category_id, "category": str(category_id), "bbox": [x, y, w, h],
            "score": score}


REFERENCE = [det(0, 0.9, 10, 10, 20, 30), det(1, 0.5, 40, 5, 10, 10), det(0, 0.2, 30, 30, 8, 8)]


def test_identical_lists_pass():
    found = assert_same_detections(REFERENCE, list(REFERENCE), threshold=THRESHOLD)
    assert found.pairs == [(0, 0), (1, 1), (2, 2)]


def test_float_noise_passes_and_sub_pixel_boxes_pair_by_their_corners():
    noisy = [det(r["category_id"], r["score"] + 3e-6, *(np.add(r["bbox"], 5e-4))) for r in REFERENCE]
    assert_same_detections(REFERENCE, noisy[::-1])  # the order does not matter
    # a box 0.005 px high moved by 3e-5 px: IoU 0.985, corners 3e-5 px apart
    tiny = [*REFERENCE, det(2, 0.02, 43.5323, 58.9863, 0.0406, 0.0047)]
    moved = [*REFERENCE, det(2, 0.02, 43.5323, 58.98633, 0.0406, 0.0047)]
    assert_same_detections(tiny, moved)


def test_a_shifted_box_fails():
    shifted = [REFERENCE[0], det(1, 0.5, 42, 5, 10, 10), REFERENCE[2]]
    with pytest.raises(AssertionError, match=r"a\[1\] .*IoU 0.6667"):
        assert_same_detections(REFERENCE, shifted, threshold=THRESHOLD)


def test_another_class_or_score_fails():
    relabelled = [REFERENCE[0], det(2, 0.5, 40, 5, 10, 10), REFERENCE[2]]
    assert not match_detections(REFERENCE, relabelled).ok
    rescored = [REFERENCE[0], det(1, 0.51, 40, 5, 10, 10), REFERENCE[2]]
    with pytest.raises(AssertionError, match="score differs by 0.01"):
        assert_same_detections(REFERENCE, rescored)


def test_an_empty_prediction_fails_against_a_non_empty_reference():
    with pytest.raises(AssertionError, match="one list has no detections: 0 against 3"):
        assert_same_detections([], REFERENCE, threshold=THRESHOLD)
    # even when every reference box sits at the threshold
    at_threshold = [det(0, THRESHOLD + 1e-6, 1, 1, 5, 5)]
    assert not match_detections([], at_threshold, threshold=THRESHOLD).ok
    # both empty agree, unless detections are required
    assert match_detections([], []).ok
    assert not match_detections([], [], require_nonempty=True).ok


def test_no_pair_at_all_fails_even_when_every_box_is_at_the_threshold():
    a = [det(0, THRESHOLD + 1e-5, 1, 1, 5, 5)]
    b = [det(1, THRESHOLD + 1e-5, 30, 30, 5, 5)]
    with pytest.raises(AssertionError, match="no detection pairs up"):
        assert_same_detections(a, b, threshold=THRESHOLD)


def test_an_extra_box_at_the_threshold_passes_and_far_above_it_fails():
    extra = det(2, THRESHOLD + 5e-5, 50, 50, 6, 6)  # within eps (1e-4) of the threshold
    found = assert_same_detections([*REFERENCE, extra], REFERENCE, threshold=THRESHOLD)
    assert found.excused_a == [3] and len(found.pairs) == 3
    assert match_detections(REFERENCE, [*REFERENCE, extra], threshold=THRESHOLD).excused_b == [3]
    high = {**extra, "score": 0.3}
    with pytest.raises(AssertionError, match=r"a\[3\] .*no detection of its class"):
        assert_same_detections([*REFERENCE, high], REFERENCE, threshold=THRESHOLD)
    # without a threshold to be near, the same extra box fails
    assert not match_detections([*REFERENCE, extra], REFERENCE).ok


def test_a_box_at_the_top_k_cut_passes():
    # both lists cut at 3; their third boxes are near-equal in score and swap
    other = det(1, 0.2 + 2e-5, 5, 50, 8, 8)
    a, b = REFERENCE, [*REFERENCE[:2], other]
    assert not match_detections(a, b).ok
    found = assert_same_detections(a, b, keep_top_k=3)
    assert found.excused_a == [2] and found.excused_b == [2]
    # a list that was not cut excuses nothing
    assert not match_detections(a, b, keep_top_k=4).ok


def test_rows_as_the_post_processing_returns_them():
    rows = np.array([[0, 0.9, 10, 10, 30, 40], [1, 0.5, 40, 5, 50, 15]], np.float32)
    assert_same_detections(rows, [det(0, 0.9, 10, 10, 20, 30), det(1, 0.5, 40, 5, 10, 10)])
