"""pxcore.testing.numerics: what its comparisons let through and what they catch."""

from __future__ import annotations

import numpy as np
import pytest

from pxcore.testing.numerics import (
    assert_same_accuracy,
    assert_same_classifications,
    assert_same_confusion,
    topk_ties,
)


def _top(*pairs):
    return [{"category_id": c, "category": str(c), "score": s} for c, s in pairs]


def test_classifications_allow_reordering_only_within_ties():
    a = _top((3, 0.5), (1, 0.3), (7, 0.2))
    assert_same_classifications(a, _top((3, 0.5 * (1 + 3e-6)), (1, 0.3), (7, 0.2)))
    assert_same_classifications([a, a], [a, a])
    tied = _top((3, 0.4), (1, 0.4 * (1 + 2e-6)), (7, 0.2))
    assert_same_classifications(tied, _top((1, 0.4 * (1 + 2e-6)), (3, 0.4), (7, 0.2)))
    # the last shown category replaced by one tied with it at the cut-off
    assert_same_classifications(a, _top((3, 0.5), (1, 0.3), (8, 0.2 * (1 - 1e-6))))
    with pytest.raises(AssertionError, match="rank 0"):
        assert_same_classifications(a, _top((3, 0.5001), (1, 0.3), (7, 0.2)))
    with pytest.raises(AssertionError, match="rank changed"):  # swapped, not tied
        assert_same_classifications(a, _top((3, 0.5), (7, 0.3), (1, 0.2)))
    with pytest.raises(AssertionError, match="not a tie at the cut-off"):
        assert_same_classifications(a, _top((3, 0.5), (9, 0.3), (8, 0.2)))  # 1 (0.3) dropped
    with pytest.raises(AssertionError, match="2 images against 1"):
        assert_same_classifications([a, a], [a])


def test_accuracy_and_confusion_flip_only_on_ties():
    scores = np.array([[0.5, 0.5 * (1 + 1e-6), 0.0], [0.9, 0.05, 0.05]])
    assert topk_ties(scores, 1) == 1 and topk_ties(scores, 3) == 0
    assert_same_accuracy({"acc1": 0.5}, {"acc1": 0.0}, scores, 2)  # image 0 may flip
    with pytest.raises(AssertionError, match="acc1: 2 of 2 right against 0"):
        assert_same_accuracy({"acc1": 1.0}, {"acc1": 0.0}, scores, 2)
    matrix = np.array([[1, 0], [0, 1]])
    assert_same_confusion(matrix, [[0, 1], [0, 1]], scores)
    with pytest.raises(AssertionError, match="2 decisions differ; only 1"):
        assert_same_confusion(matrix, [[0, 1], [1, 0]], scores)


def test_logits_close_allows_a_top1_swap_only_on_a_tie():
    from pxcore.testing.numerics import assert_logits_close

    expected = np.array([[5.0, 1.0, 4.9999], [0.0, 2.0, 1.0]])
    assert_logits_close(expected + 1e-4, expected)  # moved by 1e-4 of 5: within 1e-3
    swapped = expected.copy()
    swapped[0, 2] = 5.0001  # the top two were 1e-4 apart: a tie within 5e-3
    assert_logits_close(swapped, expected)
    flipped = expected.copy()
    flipped[1, 1], flipped[1, 2] = 1.6, 1.61  # each within 0.7 (rtol 0.14 of 5) ...
    with pytest.raises(AssertionError, match="row 1 is class 2, expected 1"):
        assert_logits_close(flipped, expected, rtol=0.14)  # ... but 1 apart is no tie
    with pytest.raises(AssertionError, match="logits differ by 0.1"):
        assert_logits_close(expected + 0.1, expected)
