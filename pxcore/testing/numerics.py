"""Comparing float results that came from different kernels, with stated tolerances.

Float32 results of one network are not bit-identical across batch sizes (even the row an
image takes in a batch), thread counts, instruction sets (oneDNN and MKL pick other
kernels on AVX-512 than on AVX2), processes or runtimes: each changes the order in
which a kernel adds its products, and float32 addition is not associative. One
reordering moves a sum by a few units in the last place (2**-24, about 6e-8,
relative); through a small network the logits move by about 1e-7 to 1e-6, through a
deep one (or across runtimes that fuse layers differently) by up to about 1e-4.

The rules the tests follow:

1. Integers, labels, uint8 images, and boxes or weights copied without arithmetic:
   compare exactly.
2. Floats from the same code path on the same shapes in the same process (a
   deterministic function called twice, a resumed run against an uninterrupted one,
   a reloaded model on the same batches): exact may stay, with a comment saying so.
3. Floats from different batch sizes, batch splits, thread counts, processes, runtimes
   or exports: compare within a tolerance, and say why. Softmax scores move
   *relatively* by about as much as the logits move absolutely (d softmax / softmax =
   d logit - E[d logit]), so scores take a relative tolerance, ``SCORE_RTOL`` = 1e-5 for
   the small networks the core tests train (ten times the 1e-6 seen), and an absolute
   floor, ``SCORE_ATOL`` = 1e-7, below which a score is zero for every purpose.
4. What is *decided* from floats (the top-k order of categories, argmax, accuracy
   counts) is equal, except where the deciding scores tie within that tolerance: two
   categories whose scores are that close may swap places, and an image whose k-th
   and (k+1)-th scores are that close may count as right in one run and wrong in the
   other. ``assert_same_classifications`` and ``assert_same_accuracy`` allow exactly
   those flips and no others.

Tests that compare across kernels are marked ``@pytest.mark.parity``; CI reruns them
with one thread and with oneDNN and MKL capped to AVX2 (``.ci/parity``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

# Softmax scores of the core tests' small networks across batch sizes, batch splits,
# thread counts and instruction sets: seen up to 1e-6 apart relatively; 10x margin.
SCORE_RTOL = 1e-5
# Below this a score is zero: a float32 softmax of a score near 1 cannot resolve less.
SCORE_ATOL = 1e-7


def _close(a: float, b: float, rtol: float, atol: float) -> bool:
    return abs(a - b) <= atol + rtol * abs(b)


def assert_same_classifications(a, b, rtol: float = SCORE_RTOL, atol: float = SCORE_ATOL) -> None:
    """``predict()`` results (``[{"category_id", "category", "score"}, ...]`` per image,
    one image's list or a list of those) agree up to float reordering:

    - the same number of images and of entries per image;
    - position by position the scores are close (sorted scores of close values are close,
      whatever the order of the categories);
    - a category both show has close scores in both, and the same name;
    - a category only one shows (the other cut it off at k) scores at most the other's
      lowest shown score plus the tolerance: it tied at the cut-off.

    So the categories come in the same order except where their scores tie within the
    tolerance (they may swap), and the last shown may differ only on a tie at the cut-off.
    """
    images_a, images_b = _images(a), _images(b)
    assert len(images_a) == len(images_b), f"{len(images_a)} images against {len(images_b)}"
    for index, (ra, rb) in enumerate(zip(images_a, images_b, strict=True)):
        where = f"image {index}"
        assert len(ra) == len(rb), f"{where}: {len(ra)} categories against {len(rb)}"
        if not ra:
            continue
        for rank, (x, y) in enumerate(zip(ra, rb, strict=True)):
            assert _close(x["score"], y["score"], rtol, atol), (
                f"{where}, rank {rank}: score {x['score']!r} against {y['score']!r} "
                f"(rtol {rtol:g}, atol {atol:g})")
        for this, other in ((ra, rb), (rb, ra)):
            shown = {r["category_id"]: r for r in other}
            cutoff = min(r["score"] for r in other)
            for r in this:
                match = shown.get(r["category_id"])
                if match is None:
                    assert r["score"] <= cutoff + atol + rtol * abs(cutoff), (
                        f"{where}: category {r['category_id']} (score {r['score']!r}) is missing "
                        f"from the other result, whose lowest shown score is {cutoff!r}: "
                        "not a tie at the cut-off")
                    continue
                assert r["category"] == match["category"], (
                    f"{where}: category {r['category_id']} named {r['category']!r} and {match['category']!r}")
                assert _close(r["score"], match["score"], rtol, atol), (
                    f"{where}: category {r['category_id']} scores {r['score']!r} against "
                    f"{match['score']!r}: its rank changed by more than a tie")


def _images(result) -> list[list[Mapping[str, Any]]]:
    """One image's list of dicts, or a list of such lists, as a list of lists."""
    result = list(result)
    if result and isinstance(result[0], Mapping):
        return [result]
    return [list(r) for r in result]


def assert_scores_close(actual, desired, rtol: float = SCORE_RTOL, atol: float = SCORE_ATOL,
                        err_msg: str = "") -> None:
    """Score arrays (softmax outputs, any shape) equal up to float reordering."""
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(desired, np.float64),
                               rtol=rtol, atol=atol, err_msg=err_msg)


def topk_ties(scores, k: int, rtol: float = SCORE_RTOL, atol: float = SCORE_ATOL) -> int:
    """How many rows of ``scores`` (images by categories) have their k-th and (k+1)-th
    largest scores within the tolerance: the images whose top-k hit or miss can flip
    when another kernel computes them. 0 when k covers every category."""
    scores = np.asarray(scores, np.float64)
    if scores.ndim != 2 or k >= scores.shape[1]:
        return 0
    ranked = -np.sort(-scores, axis=1)
    kth, next_ = ranked[:, k - 1], ranked[:, k]
    return int((np.abs(kth - next_) <= atol + rtol * np.abs(kth)).sum())


def assert_same_accuracy(a: Mapping[str, float], b: Mapping[str, float], scores, count: int,
                         rtol: float = SCORE_RTOL, atol: float = SCORE_ATOL) -> None:
    """Top-k accuracy dicts (``{"acc1": ..., "acc5": ...}`` over ``count`` images) of
    the same network computed by other kernels: each ``acc{k}`` counts the same images
    right, except for images whose k-th and (k+1)-th ``scores`` (either run's, images by
    categories) tie within the tolerance; each of those may flip."""
    assert set(a) == set(b), f"metrics {sorted(a)} against {sorted(b)}"
    for key in a:
        assert key.startswith("acc") and key[3:].isdigit(), f"{key!r} is not a top-k accuracy"
        right_a, right_b = round(a[key] * count), round(b[key] * count)
        # A flip needs the gap between the k-th and (k+1)-th to change sign; each score
        # moves by at most the tolerance, so in either run the gap is within twice it.
        ties = topk_ties(scores, int(key[3:]), 2 * rtol, 2 * atol)
        assert abs(right_a - right_b) <= ties, (
            f"{key}: {right_a} of {count} right against {right_b}; only {ties} images tie "
            f"at the cut-off within rtol {rtol:g}")



def assert_same_confusion(a, b, scores, rtol: float = SCORE_RTOL, atol: float = SCORE_ATOL) -> None:
    """Confusion matrices (integer counts of argmax decisions) of the same network
    computed by other kernels: equal, except that each pixel or image whose two best
    ``scores`` (probabilities, classes on the last axis) tie within the tolerance may
    have moved from one cell to another (two counts of the L1 difference each)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"confusion matrices {a.shape} against {b.shape}"
    assert a.sum() == b.sum(), f"{a.sum()} decisions counted against {b.sum()}"
    scores = np.asarray(scores)
    ties = topk_ties(scores.reshape(-1, scores.shape[-1]), 1, 2 * rtol, 2 * atol)  # as in assert_same_accuracy
    moved = int(np.abs(a.astype(np.int64) - b.astype(np.int64)).sum()) // 2
    assert moved <= ties, f"{moved} decisions differ; only {ties} tie within rtol {rtol:g}"


# A deployed classifier's logits against the Python model's: measured up to 3e-6 of the
# largest logit (13 networks, Paddle Inference and ONNX Runtime, AVX-512, random
# weights). 1e-3 of the largest is the parity PaddleX users ask of a runtime; it leaves
# room for other instruction sets and fused kernels and still catches a wrong op.
LOGIT_RTOL = 1e-3


def assert_logits_close(logits, expected, rtol: float = LOGIT_RTOL, where: str = "") -> None:
    """Logits ``[N, C]`` within ``rtol`` of ``expected``'s largest magnitude, and the same
    top-1 per row, except where ``expected``'s top two are within that tolerance (a gap
    that small may change sign under another kernel's rounding)."""
    logits, expected = np.asarray(logits), np.asarray(expected)
    prefix = f"{where}: " if where else ""
    assert logits.shape == expected.shape, f"{prefix}shape {logits.shape}, expected {expected.shape}"
    scale = float(np.abs(expected).max())
    tolerance = rtol * scale
    gap = float(np.abs(logits - expected).max())
    assert gap <= tolerance, f"{prefix}logits differ by {gap:.3g} (scale {scale:.3g}, rtol {rtol:g})"
    for i, (got, want) in enumerate(zip(logits.argmax(1), expected.argmax(1), strict=True)):
        assert got == want or expected[i, want] - expected[i, got] <= tolerance, (
            f"{prefix}row {i} is class {got}, expected {want}, whose logits are "
            f"{expected[i, want] - expected[i, got]:.3g} apart (tolerance {tolerance:.3g})")
