"""Are two lists of detections the same, up to the float noise between two runtimes?

Two runtimes (eager Python, Paddle Inference, ONNX Runtime), thread counts or
instruction sets run the same network with kernels that add in other orders; the raw
outputs move by float32 rounding (about 5e-5 absolute on the logits of a deep detector
such as PP-YOLO, see ``pxcore.testing.numerics``). After decoding and NMS that noise
shows in four ways, and these are the only differences :func:`match_detections`
forgives:

1. Box coordinates move by a fraction of a pixel: boxes pair up at IoU above ``iou``.
2. A box smaller than a pixel (an untrained head gives boxes 0.005 px high) can move by
   a few percent of its own size, so its IoU with its twin falls below any useful
   ``iou``; boxes whose corners are all within ``coord_atol`` pixels pair up as well.
   (Corners within 0.01 px already mean IoU > 0.99 for a box 4 px or more on each
   side, so the default decides only for smaller boxes.)
3. Scores move: a pair's scores differ by at most ``score_atol``.
4. A box whose score sits at a cut (the score threshold, or the lowest score kept when
   the list is cut at ``keep_top_k``) is kept by one runtime and not by the other: it
   may go unpaired when its score is within ``threshold_eps`` of that cut. By default
   ``threshold_eps`` is ``score_atol``: a score that can differ by that much between the
   runtimes can fall on either side of a cut that close to it.

Nothing else is forgiven: every other box needs a partner of the same class (one to
one), and when both lists hold boxes at least one pair must be found; a list with no
boxes against one with boxes fails whatever their scores (a model that outputs nothing
does not pass against one that outputs something).

Detections are ``model.predict``'s dicts (``category_id``, ``score``, ``bbox`` as
x, y, w, h) or ``[K, 6]`` rows (class, score, x1, y1, x2, y2), as the post-processing
returns them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import numpy as np

from ..transforms.geometry import box_iou

# Boxes of one object in two runtimes overlap by more than this.
IOU = 0.99
# Scores of a deep detector across runtimes: its logits move by up to about 1e-4
# (pxcore.testing.numerics), a sigmoid's slope is at most 1/4 and a YOLO score is a
# product of at most three sigmoids (objectness, IoU, class), so a score moves by at
# most about 0.75e-4. (PP-YOLO on AVX-512 measured 1.7e-6.)
SCORE_ATOL = 1e-4
# Pixels: a centre moves by stride * scale_x_y * sigmoid' * d logit, at most 4e-4 px at
# stride 32 for 5e-5 of logit noise (PP-YOLO measured 5.7e-4 px on any box, 3.4e-5 px
# on the sub-pixel ones IoU cannot pair); a hundredth of a pixel leaves room for images
# the pre-processing shrank, and is far below what any metric or drawing resolves.
COORD_ATOL = 1e-2


def _rows(detections: Any) -> np.ndarray:
    """``[K, 6]`` float64 rows (class, score, x1, y1, x2, y2)."""
    if isinstance(detections, np.ndarray):
        return np.asarray(detections, np.float64).reshape(-1, 6)
    rows = []
    for d in detections:
        if isinstance(d, dict):
            x, y, w, h = (float(v) for v in d["bbox"])
            rows.append([float(d["category_id"]), float(d["score"]), x, y, x + w, y + h])
        else:
            rows.append([float(v) for v in d])
    return np.asarray(rows, np.float64).reshape(-1, 6)


def _describe(row: np.ndarray) -> str:
    box = ", ".join(f"{v:.7g}" for v in row[2:])
    return f"class {int(row[0])} score {row[1]:.7g} box [{box}]"


@attrs.frozen
class DetectionMatch:
    """What :func:`match_detections` found. ``pairs`` (i, j): a's i-th detection is
    b's j-th; ``excused_a``/``excused_b``: unpaired detections at a cut (forgiven);
    ``failures``: one sentence per thing that did not hold; ``ok``: none did not."""

    pairs: list[tuple[int, int]]
    excused_a: list[int]
    excused_b: list[int]
    failures: list[str]

    @property
    def ok(self) -> bool:
        return not self.failures

    def __str__(self) -> str:
        head = (f"{len(self.pairs)} pairs, {len(self.excused_a)} + {len(self.excused_b)} "
                "unpaired at a cut")
        return head + "".join(f"\n  {f}" for f in self.failures)


def _pair(candidates: list[list[int]], size_b: int) -> list[int]:
    """A largest one-to-one pairing (augmenting paths; each list of candidates tried
    best first): ``partner[j]`` is the row of a paired with b's j, or -1."""
    partner = [-1] * size_b

    def place(i: int, seen: set[int]) -> bool:
        for j in candidates[i]:
            if j in seen:
                continue
            seen.add(j)
            if partner[j] < 0 or place(partner[j], seen):
                partner[j] = i
                return True
        return False

    for i in range(len(candidates)):
        place(i, set())
    return partner


def match_detections(a: Any, b: Any, *, iou: float = IOU, score_atol: float = SCORE_ATOL,
                     coord_atol: float = COORD_ATOL, threshold: float | None = None,
                     keep_top_k: int | None = None, threshold_eps: float | None = None,
                     require_nonempty: bool = False) -> DetectionMatch:
    """Pair ``a``'s detections with ``b``'s (same class, scores within ``score_atol``,
    IoU above ``iou`` or corners within ``coord_atol`` pixels), one to one, as many as
    can be. An unpaired detection is excused when its score is within ``threshold_eps``
    (default ``score_atol``) of ``threshold`` (the score threshold the post-processing
    applied), or of the other list's lowest score when that list holds ``keep_top_k``
    detections (it was cut there). Fails when something else is unpaired, when both
    lists hold detections but none pair, when exactly one list is empty, and, with
    ``require_nonempty``, when either is empty."""
    eps = score_atol if threshold_eps is None else threshold_eps
    ra, rb = _rows(a), _rows(b)
    failures = []
    if require_nonempty and (not len(ra) or not len(rb)):
        failures.append(f"a detection list is empty ({len(ra)} against {len(rb)}) where "
                        "detections are required")
    elif bool(len(ra)) != bool(len(rb)):
        failures.append(f"one list has no detections: {len(ra)} against {len(rb)}")
    if not len(ra) or not len(rb):
        return DetectionMatch([], [], [], failures)

    overlap = box_iou(ra[:, 2:], rb[:, 2:])
    corners = np.abs(ra[:, None, 2:] - rb[None, :, 2:]).max(-1)
    same_class = ra[:, None, 0] == rb[None, :, 0]
    close_scores = np.abs(ra[:, None, 1] - rb[None, :, 1]) <= score_atol
    same_place = (overlap > iou) | (corners <= coord_atol)
    feasible = same_class & close_scores & same_place
    # best first: the highest IoU (corner-close boxes count as IoU 1)
    quality = np.where(corners <= coord_atol, np.maximum(overlap, 1.0), overlap)
    candidates = [[int(j) for j in np.argsort(-quality[i], kind="stable") if feasible[i, j]]
                  for i in range(len(ra))]
    partner = _pair(candidates, len(rb))
    pairs = sorted((i, j) for j, i in enumerate(partner) if i >= 0)
    paired_a = {i for i, _ in pairs}

    def cut_near(score: float, other: np.ndarray) -> str | None:
        if threshold is not None and abs(score - threshold) <= eps:
            return "threshold"
        if keep_top_k is not None and keep_top_k > 0 and len(other) >= keep_top_k \
                and abs(score - other[:, 1].min()) <= eps:
            return "top-k cut"
        return None

    def why(row: np.ndarray, other: np.ndarray, free: np.ndarray) -> str:
        """Why ``row`` found no partner: the nearest same-class box it could have had."""
        same = np.flatnonzero(other[:, 0] == row[0])
        if not same.size:
            return "no detection of its class on the other side"
        o = box_iou(row[None, 2:], other[same, 2:])[0]
        k = same[int(np.argmax(o))]
        reasons = []
        best_iou = float(o.max())
        gap = float(np.abs(row[2:] - other[k, 2:]).max())
        if best_iou <= iou and gap > coord_atol:
            reasons.append(f"IoU {best_iou:.4f} <= {iou} and corners {gap:.3g} px apart > {coord_atol}")
        if abs(row[1] - other[k, 1]) > score_atol:
            reasons.append(f"score differs by {abs(row[1] - other[k, 1]):.3g} > {score_atol}")
        if not reasons:
            reasons.append("it is paired with another detection" if not free[k] else "no pairing reached it")
        return f"nearest same-class box {_describe(other[k])}: " + "; ".join(reasons)

    excused = {}
    for side, (mine, other, paired, free_other) in {
            "a": (ra, rb, paired_a, np.array([p < 0 for p in partner])),
            "b": (rb, ra, set(j for _, j in pairs),
                  np.array([i not in paired_a for i in range(len(ra))]))}.items():
        excused[side] = []
        for i in range(len(mine)):
            if i in paired:
                continue
            cut = cut_near(float(mine[i, 1]), other)
            if cut:
                excused[side].append(i)
                continue
            failures.append(f"{side}[{i}] ({_describe(mine[i])}) has no partner and is not within "
                            f"{eps:g} of a cut (threshold {threshold}, keep_top_k {keep_top_k}): "
                            f"{why(mine[i], other, free_other)}")
    if not pairs:
        failures.append(f"no detection pairs up ({len(ra)} against {len(rb)})")
    return DetectionMatch(pairs, excused["a"], excused["b"], failures)


def assert_same_detections(a: Any, b: Any, **options: Any) -> DetectionMatch:
    """:func:`match_detections` (same options), raising an AssertionError that names
    each detection that failed and why; returns the match (its ``pairs``) otherwise."""
    found = match_detections(a, b, **options)
    assert found.ok, f"the detections differ: {found}"
    return found


def assert_same_detection_lists(a: Sequence[Any], b: Sequence[Any], **options: Any) -> list[DetectionMatch]:
    """:func:`assert_same_detections` image by image (``a`` and ``b`` as long)."""
    assert len(a) == len(b), f"{len(a)} images' detections against {len(b)}"
    matches = []
    for n, (x, y) in enumerate(zip(a, b, strict=True)):
        found = match_detections(x, y, **options)
        assert found.ok, f"image {n}: the detections differ: {found}"
        matches.append(found)
    return matches


@contextlib.contextmanager
def recording_decoder(net) -> Iterator[list]:
    """For the block, ``net.postprocess`` keeps every result it gives in the list this
    yields (the decoder's rows, before they become dicts), so a test can compare what
    ``predict`` reports with what the decoder computed; the decoder is put back after."""
    decoder, decoded = net.postprocess, []

    class Recorder:
        def __getattr__(self, name):  # the decoder's attributes, as the task reads them
            return getattr(decoder, name)

        def __call__(self, *args):
            decoded.extend(decoder(*args))
            return decoded[-1:]

    net.postprocess = Recorder()
    try:
        yield decoded
    finally:
        net.postprocess = decoder
