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
