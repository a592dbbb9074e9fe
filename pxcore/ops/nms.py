"""Non-maximum suppression in numpy, with the semantics of Paddle's operators, so that a
detector exported without its NMS gives, after any runtime, what the Paddle model gave.

Boxes are x1, y1, x2, y2. ``normalized=True`` measures them as continuous coordinates;
``normalized=False`` as Paddle does pixel boxes: a box spans ``x2 - x1 + 1`` pixels and
boxes that merely touch overlap by one pixel. Every threshold is exclusive as in Paddle
(a score must be greater than ``score_threshold``; a box is suppressed by an IoU greater
than ``nms_threshold``). Ties in score keep the boxes' order.
"""

from __future__ import annotations

import numpy as np

from ..errors import PxError

# How the work stays small, all classes at once, with results exactly those of greedy
# NMS done box by box: the IoU of a pair is Paddle's JaccardOverlap arithmetic
# elementwise, and it is computed only for pairs of one class that can exceed the
# threshold (boxes sorted along one axis are paired with the run after them whose
# intervals can overlap enough, and the other axis filters those; IoU is at most the
# IoU of the intervals on either axis). Boxes with no area (IoU 0 with every box) take
# part in no pair, and boxes of a class with the same coordinates are one node: a copy
# of a better box has IoU exactly 1 with it, so greedy NMS removes it whatever the
# better box's fate, and in Matrix NMS it decays nothing.

_PAIR_CHUNK = 1 << 22  # pairs whose IoU is computed at once (memory bound, ~200 MB)


def _shifted(xyxy: np.ndarray, normalized: bool) -> np.ndarray:
    """The boxes whose continuous IoU Paddle measures: pixel boxes end one pixel later."""
    return xyxy if normalized else xyxy + np.array([0, 0, 1, 1], np.float64)


def _areas(shifted: np.ndarray) -> np.ndarray:
    return (np.clip(shifted[:, 2] - shifted[:, 0], 0, None)
            * np.clip(shifted[:, 3] - shifted[:, 1], 0, None))


def _pair_iou(xyxy, shifted, areas, a, b, normalized: bool) -> np.ndarray:
    """IoU of boxes ``a[k]`` and ``b[k]`` as Paddle's JaccardOverlap computes it
    (``box_iou``'s arithmetic, elementwise; pixel boxes that do not touch have 0).
    ``xyxy`` and ``shifted`` are tuples of coordinate columns."""
    x1, y1, x2, y2 = shifted
    width = np.clip(np.minimum(x2[a], x2[b]) - np.maximum(x1[a], x1[b]), 0, None)
    height = np.clip(np.minimum(y2[a], y2[b]) - np.maximum(y1[a], y1[b]), 0, None)
    inter = width * height
    union = areas[a] + areas[b] - inter
    positive = union > 0
    iou = np.where(positive, inter / np.where(positive, union, 1), 0.0)
    if not normalized:
        _, _, x2, y2 = xyxy
        apart = ((x1[b] > x2[a]) | (x2[b] < x1[a]) | (y1[b] > y2[a]) | (y2[b] < y1[a]))
        iou[apart] = 0.0
    return iou


def _segments(cls: np.ndarray) -> np.ndarray:
    """Start of each run of equal values in ``cls`` (sorted), and its end."""
    return np.concatenate([[0], np.flatnonzero(cls[1:] != cls[:-1]) + 1, [len(cls)]])


def _sweep(xyxy, shifted, cls, nodes, axis: int, threshold: float | None):
    """``nodes`` (in class-major order) sorted within each class by their low coordinate
    on ``axis``, and for each the end of the run after it that may reach IoU > threshold
    with it."""
    nodes = nodes.copy()
    bounds = _segments(cls[nodes])
    end = np.empty(len(nodes), np.int64)
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        part = nodes[lo:hi]
        low = xyxy[part, axis]
        order = np.argsort(low, kind="stable")
        part, low = part[order], low[order]
        nodes[lo:hi] = part
        if threshold is None:
            end[lo:hi] = hi
            continue
        reach = xyxy[part, axis + 2]  # normalized: overlap; pixel: not apart
        if threshold > 0:
            high = shifted[part, axis + 2]
            margin = 1e-9 * (np.abs(low) + np.abs(high))
            reach = np.minimum(reach, high - threshold * (1 - 1e-9) * (high - low) + margin)
        end[lo:hi] = lo + np.searchsorted(low, reach, side="right")
    return nodes, end


def _pairs(xyxy, shifted, areas, cls, nodes, normalized: bool, threshold: float | None):
    """Pairs ``(a, b)`` of ``nodes`` (a < b, same class) whose IoU is not at most
    ``threshold``, and the IoU; ``threshold`` None: every pair of a class, IoU 0 too.

    For a threshold t >= 0 only pairs that can overlap enough are measured. IoU is at
    most the IoU of the boxes' intervals on either axis, and that exceeds t only if the
    intervals overlap by more than t times the longer one: boxes sorted on one axis (the
    one giving fewer pairs) are paired with the run after them that starts early enough,
    and the other axis filters those before their IoU is computed (margins cover
    rounding, so no pair that counts is missed)."""
    sweeps = [_sweep(xyxy, shifted, cls, nodes, axis, threshold)
              for axis in ((0,) if threshold is None else (0, 1))]
    counts = [np.maximum(end - np.arange(len(end)) - 1, 0) for _, end in sweeps]
    axis = int(np.argmin([c.sum() for c in counts]))
    nodes, count = sweeps[axis][0], counts[axis]
    if threshold is not None:  # the other axis, in sorted order: overlap > t * longer - margin
        other = 1 - axis
        low, high = xyxy[nodes, other], shifted[nodes, other + 2]
        span = threshold * (1 - 1e-9) * (high - low)
        margin = 2e-9 * float(np.max(np.abs(low) + np.abs(high), initial=0.0))
    columns = tuple(np.ascontiguousarray(v) for v in xyxy.T)
    shifted_columns = columns if shifted is xyxy else tuple(np.ascontiguousarray(v) for v in shifted.T)
    total = np.cumsum(count)
    found_a, found_b, found_iou = [], [], []
    first = 0
    while first < len(nodes):
        last = int(np.searchsorted(total, (total[first - 1] if first else 0) + _PAIR_CHUNK,
                                   side="right"))
        last = max(last, first + 1)
        counts = count[first:last]
        n = int(counts.sum())
        if n:
            # positions p < q in sorted order: q runs over the count[p] after p
            position = np.arange(first, last, dtype=np.int32)
            p = np.repeat(position, counts)
            skip = position + 1 - (np.cumsum(counts) - counts).astype(np.int32)
            q = np.arange(n, dtype=np.int32) + np.repeat(skip, counts)
            if threshold is not None:
                part = slice(first, last)
                low_q, high_q = low[q], high[q]
                overlap = (np.minimum(np.repeat(high[part], counts), high_q)
                           - np.maximum(np.repeat(low[part], counts), low_q))
                near = overlap > np.maximum(np.repeat(span[part], counts), span[q]) - margin
                p, q = p[near], q[near]
            a, b = nodes[p], nodes[q]
            iou = _pair_iou(columns, shifted_columns, areas, a, b, normalized)
            if threshold is not None:
                hit = ~(iou <= threshold)
                a, b, iou = a[hit], b[hit], iou[hit]
            found_a.append(np.minimum(a, b))
            found_b.append(np.maximum(a, b))
            found_iou.append(iou)
        first = last
    if not found_a:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    return np.concatenate(found_a), np.concatenate(found_b), np.concatenate(found_iou)


def _copies(xyxy, cls, nodes, uid=None) -> tuple[np.ndarray, np.ndarray]:
    """Among ``nodes`` (in class-major, best-first order), the group of each (boxes of a
    class with the same coordinates) as ``group`` [len(nodes)] and the group's first
    (best) node ``first`` [groups]. ``uid``: a box id per node where boxes are shared."""
    if uid is None:
        rows = np.ascontiguousarray(xyxy[nodes] + 0.0)  # + 0.0: -0.0 and 0.0 alike
        _, uid = np.unique(rows.view(np.dtype((np.void, 32))).reshape(-1), return_inverse=True)
    key = cls[nodes].astype(np.int64) * (int(uid.max(initial=0)) + 1) + uid.reshape(-1)
    order = np.argsort(key, kind="stable")  # stable: each group's nodes best first
    new = np.ones(len(order), bool)
    new[1:] = key[order[1:]] != key[order[:-1]]
    group = np.empty(len(nodes), np.int64)
    group[order] = np.cumsum(new) - 1
    return group, nodes[order[new]]


class _Candidates:
    """The boxes that go through NMS, all classes at once: node k is box ``index[k]`` of
    class ``cls[k]``; a class's nodes are consecutive, best first (so within a class a
    lower node is a better box). ``xyxy`` are the nodes' coordinates (float64)."""

    def __init__(self, index: np.ndarray, cls: np.ndarray, coordinates: np.ndarray):
        self.index, self.cls, self.coordinates = index, cls, coordinates
        self.shared = coordinates.ndim == 2
        self.xyxy = coordinates[index] if self.shared else coordinates[index, cls]

    @classmethod
    def ranked(cls, scores: np.ndarray, labels, score_threshold: float, top_k: int,
               coordinates: np.ndarray):
        """Per class of ``labels``, its ``top_k`` best boxes above ``score_threshold``."""
        index, classes = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        columns = np.ascontiguousarray(scores.T)
        for c in labels:
            index.append(_by_score(columns[c], score_threshold, top_k))
            classes.append(np.full(len(index[-1]), c, np.int64))
        return cls(np.concatenate(index), np.concatenate(classes), coordinates)

    @classmethod
    def above(cls, scores: np.ndarray, background_label: int, score_threshold: float,
              top_k: int, coordinates: np.ndarray, cut: np.float32, want: int):
        """The candidates (as ``ranked`` gives them) that score above ``cut``, and of
        those that score ``cut`` the first by class, then box, to make about ``want``
        (all where they fit): per class a prefix of its ranking, so every better box of a
        box here is here too. Also how many it holds before ``top_k`` capped them, and
        the last class whose boxes scoring ``cut`` are all in (each further class has
        none)."""
        width = scores.shape[1]
        flat = np.flatnonzero(scores.reshape(-1) >= cut)
        box, label = np.divmod(flat, width)
        value = scores.reshape(-1)[flat]
        ok = (value > score_threshold) & (label != background_label)
        box, label, value = box[ok], label[ok], value[ok]
        last = width
        tie = np.flatnonzero(value == cut)
        room = max(want - (len(value) - len(tie)), 1)
        if len(tie) > room:  # many tie at the cut (saturated scores): the first of them
            key = label[tie] * len(scores) + box[tie]  # by class, then box
            kth = np.partition(key, room - 1)[room - 1]
            keep = np.ones(len(value), bool)
            keep[tie[key > kth]] = False
            box, label, value = box[keep], label[keep], value[keep]
            last = int(kth // len(scores))
        order = np.lexsort((box, -value, label))  # by class, then as _by_score ranks
        box, label = box[order], label[order]
        above = len(box)
        if top_k > -1:
            bounds = _segments(label)
            rank = np.arange(len(label)) - np.repeat(bounds[:-1], np.diff(bounds))
            box, label = box[rank < top_k], label[rank < top_k]
        return cls(box, label, coordinates), above, last

    def boxes(self, normalized: bool):
        shifted = _shifted(self.xyxy, normalized)
        areas = _areas(shifted)
        # IoU > 0 needs both areas finite and positive (else inter is 0 or union inf/nan),
        # and a copy of a box has IoU exactly 1 with it where 2 * area is finite
        solid = np.isfinite(areas) & (areas > 0) & (areas < 1e300)
        return shifted, areas, solid

    def groups(self, nodes: np.ndarray, normalized: bool):
        """Groups of copies among ``nodes`` (solid boxes), see ``_copies``. A pixel box
        reversed by less than a pixel (x2 < x1) is apart from its copy (IoU 0): alone."""
        uid = None
        if self.shared and len(nodes):
            rows = np.ascontiguousarray(self.coordinates + 0.0)
            _, box_uid = np.unique(rows.view(np.dtype((np.void, 32))).reshape(-1),
                                   return_inverse=True)
            uid = box_uid.reshape(-1)[self.index[nodes]]
        if not normalized:
            box = self.xyxy[nodes]
            alone = np.flatnonzero((box[:, 2] < box[:, 0]) | (box[:, 3] < box[:, 1]))
            if len(alone):
                if uid is None:
                    uid = _copies(self.xyxy, self.cls, nodes)[0]
                uid = uid.copy()
                uid[alone] = uid.max() + 1 + np.arange(len(alone))
        return _copies(self.xyxy, self.cls, nodes, uid)


_PEEL_STEPS = 16  # at most this many greedy steps before the pairs


def _peel(candidates: _Candidates, shifted, areas, live: np.ndarray, state: np.ndarray,
          iou_threshold: float, normalized: bool) -> np.ndarray:
    """Greedy NMS steps, every class at once, on the undecided ``live`` nodes (best first
    within each class): the best of each class is kept and removes those it overlaps.
    Where boxes overlap a lot (one large object) this decides nearly all of them at a
    cost linear in the boxes, where their pairs would be quadratic; it stops once a step
    removes less than a sixteenth. Returns the nodes still undecided: every kept box of
    their class is better than them and does not overlap them."""
    columns = tuple(np.ascontiguousarray(v) for v in candidates.xyxy.T)
    shifted_columns = (columns if shifted is candidates.xyxy
                       else tuple(np.ascontiguousarray(v) for v in shifted.T))
    for _ in range(_PEEL_STEPS):
        bounds = _segments(candidates.cls[live])
        if len(live) < 2 or len(bounds) - 1 == len(live):  # nothing left to suppress
            break
        heads = live[bounds[:-1]]
        state[heads] = 1
        rest = np.ones(len(live), bool)
        rest[bounds[:-1]] = False
        others = live[rest]
        iou = _pair_iou(columns, shifted_columns, areas, np.repeat(heads, np.diff(bounds) - 1),
                        others, normalized)
        gone = ~(iou <= iou_threshold)
        state[others[gone]] = 2
        live = others[~gone]
        if 16 * np.count_nonzero(gone) < len(others):
            break
    return live


def _greedy_keep(candidates: _Candidates, iou_threshold: float, normalized: bool) -> np.ndarray:
    """Greedy NMS in every class at once: which nodes are kept.

    Box j is kept iff no kept better box of its class has IoU > threshold with it. The
    decisions are made in rounds: a box all of whose suppressors are removed is kept, a
    box with a kept suppressor is removed; the best undecided box of each class is
    always decided, so the rounds end, usually after a few."""
    count = len(candidates.index)
    state = np.zeros(count, np.int8)  # 0 undecided, 1 kept, 2 removed
    if not count:
        return state.astype(bool)
    xyxy, cls = candidates.xyxy, candidates.cls
    shifted, areas, solid = candidates.boxes(normalized)
    if not iou_threshold >= 0:  # negative or NaN: every IoU suppresses, the best box stays
        better, worse, _ = _pairs(xyxy, shifted, areas, cls, np.arange(count), normalized, None)
    elif iou_threshold >= 1:  # no IoU exceeds 1: nothing is suppressed
        better = worse = np.zeros(0, np.int64)
    else:
        nodes = np.flatnonzero(solid)
        group, first = candidates.groups(nodes, normalized)
        copies = np.ones(count, bool)
        copies[~solid] = False
        copies[first] = False
        state[copies] = 2  # a copy of a better box goes with it (IoU 1)
        live = _peel(candidates, shifted, areas, np.sort(first), state, iou_threshold,
                     normalized)
        better, worse, _ = _pairs(xyxy, shifted, areas, cls, live, normalized, iou_threshold)
    while True:
        live = (state[worse] == 0) & (state[better] != 2)
        better, worse = better[live], worse[live]
        fired = state[better] == 1
        state[worse[fired]] = 2
        better, worse = better[~fired], worse[~fired]
        better, worse = better[state[worse] == 0], worse[state[worse] == 0]
        waiting = np.zeros(count, bool)
        waiting[worse] = True
        state[(state == 0) & ~waiting] = 1
        if not (state == 0).any():
            return state == 1


# Both multiclass NMS and Matrix NMS end with the keep_top_k best of all classes, and a
# box's fate (kept or not; its decayed score) depends only on the better boxes of its
# class. So where keep_top_k is small against the candidates, the candidates go through
# NMS best first across classes, in growing prefixes: every candidate scoring at least a
# cut (and where very many tie at the cut, the first of those by class and box). Once the
# prefix holds keep_top_k results that come before every candidate outside it in the
# output's order, those cannot enter the output, and the output is the prefix's.

_FIRST_PREFIX = 4  # the first prefix: about this many times keep_top_k candidates
_GROWTH = 8  # each next prefix: this many times the last one
_SAMPLE = 1 << 16  # scores sampled to place a cut


def _prefixes(scores: np.ndarray, background_label: int, score_threshold: float, top_k: int,
              keep_top_k: int, coordinates: np.ndarray):
    """The candidate sets to try, smallest first: ``(candidates, (cut, last))`` with
    every candidate scoring above ``cut`` (a float32 above 0) and those scoring ``cut`` in
    classes before ``last``, some in ``last`` (see ``_Candidates.above``), then, unless one
    of those held
    every candidate, ``(all, None)`` as ``_Candidates.ranked`` gives them. A caller stops
    once a prefix settles its output. Prefixes are tried only where keep_top_k is set and
    the candidates are many; the cuts are placed on a sample of the scores."""
    labels = [c for c in range(scores.shape[1]) if c != background_label]
    flat = scores.reshape(-1)
    total = capped = 0  # candidates, and those nms_top_k lets through
    if keep_top_k > -1 and top_k != 0 and len(flat):
        counts = (scores > score_threshold).sum(0)
        if 0 <= background_label < scores.shape[1]:
            counts[background_label] = 0
        total = int(counts.sum())
        capped = int(np.minimum(counts, top_k).sum()) if top_k > -1 else total
    want = _FIRST_PREFIX * max(keep_top_k, 64)
    if total > 2 * want:
        step = max(1, len(flat) // _SAMPLE)
        while np.gcd(step, scores.shape[1]) > 1:  # a sample across classes
            step += 1
        sample = flat[::step]
        sample = sample[sample > score_threshold]
        while 2 * want < total:
            k = -(-want * len(sample) // total)
            if k >= len(sample):
                break
            cut = np.partition(sample, len(sample) - k)[len(sample) - k]
            if not cut > 0:
                break
            candidates, above, last = _Candidates.above(
                scores, background_label, score_threshold, top_k, coordinates, cut, want)
            yield candidates, (cut, last)
            if len(candidates.index) == capped:  # it held every candidate: it settled all
                return
            want = _GROWTH * max(want, above)
    yield _Candidates.ranked(scores, labels, score_threshold, top_k, coordinates), None


def _by_score(scores: np.ndarray, score_threshold: float, top_k: int) -> np.ndarray:
    """Indices of the scores above the threshold, highest first (ties by index, as a
    stable sort), at most ``top_k`` (-1: all)."""
    candidates = np.flatnonzero(scores > score_threshold)
    if top_k == 0:
        return candidates[:0]
    values = -scores[candidates]
    if -1 < top_k < len(candidates):
        # the top_k: those better than the top_k-th score, then its ties by index (a
        # partition is fast on distinct scores, a sort on many equal ones)
        sample = np.sort(values[:64])
        few = 2 * np.count_nonzero(sample[1:] == sample[:-1]) > len(sample)
        kth = (np.sort(values) if few else np.partition(values, top_k - 1))[top_k - 1]
        chosen = values < kth
        chosen[np.flatnonzero(values == kth)[:top_k - np.count_nonzero(chosen)]] = True
        candidates, values = candidates[chosen], values[chosen]
    return candidates[np.argsort(values, kind="stable")]


def nms(boxes_xyxy, scores, iou_threshold: float, normalized: bool = True) -> np.ndarray:
    """Greedy NMS: indices of the kept boxes, highest score first."""
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float32).reshape(-1)
    if len(boxes) != len(scores):
        raise PxError(f"nms: {len(boxes)} boxes but {len(scores)} scores; give one score per box")
    order = np.argsort(-scores, kind="stable")  # every box, NaN scores too
    candidates = _Candidates(order, np.zeros(len(boxes), np.int64), boxes)
    return candidates.index[_greedy_keep(candidates, iou_threshold, normalized)]


def _prefix_min(segment: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Running minimum of ``values`` within each run of equal ``segment`` (by doubling)."""
    values = values.copy()
    step = 1
    while step < len(values):
        same = segment[step:] == segment[:-step]
        values[step:] = np.where(same, np.minimum(values[step:], values[:-step]), values[step:])
        step *= 2
    return values


def _matrix_decay(candidates: _Candidates, use_gaussian: bool, gaussian_sigma: float,
                  normalized: bool) -> np.ndarray:
    """Each node's Matrix NMS decay: the minimum, over the better boxes j of its class,
    of ``(1 - iou) / (1 - iou_max_j)`` (or ``exp((iou_max_j² - iou²) * sigma)``), NaN
    and anything above 1 counting as 1.

    A pair with IoU 0 decays by at least 1 (for sigma >= 0), so only overlapping pairs
    are measured; a copy of a better box (iou_max 1) decays nothing, and is itself
    decayed by its original (IoU 1) and by the boxes overlapping it that are better
    than it, found as a running minimum over its group's pairs by rank."""
    count = len(candidates.index)
    xyxy, cls = candidates.xyxy, candidates.cls
    shifted, areas, solid = candidates.boxes(normalized)

    def decay_of(iou, iou_max):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if use_gaussian:
                value = np.exp((iou_max ** 2 - iou ** 2) * gaussian_sigma)
            else:
                value = (1.0 - iou) / (1.0 - iou_max)
        return np.where(np.isnan(value), 1.0, value)

    if use_gaussian and not gaussian_sigma >= 0:  # then IoU 0 decays too: every pair counts
        nodes = np.arange(count)
        group, first = nodes, nodes
        better, worse, iou = _pairs(xyxy, shifted, areas, cls, nodes, normalized, None)
    else:
        nodes = np.flatnonzero(solid)
        group, first = candidates.groups(nodes, normalized)
        better, worse, iou = _pairs(xyxy, shifted, areas, cls, first, normalized, 0.0)
    # iou_max of each group's first node (a copy's is 1: it only matters for decaying others)
    groups = len(first)
    position = np.full(count, -1, np.int64)
    position[first] = np.arange(groups)
    g_better, g_worse = position[better], position[worse]
    iou_max = np.zeros(groups)
    np.maximum.at(iou_max, g_worse, iou)
    # each node's decay: the minimum over the sources (better boxes) of its group's
    # pairs that are better than it. The group's nodes in order split its sources into
    # pieces (those before its first node, those between one node and the next): each
    # source goes into its piece, then a running minimum over a group's pieces.
    members = np.lexsort((nodes, group))
    member_group, member_node = group[members], nodes[members]
    start = np.searchsorted(member_group, np.arange(groups))
    pieces = np.full(len(members), np.inf)
    # the worse box's group, by the better one: before the group's first node
    np.minimum.at(pieces, start[g_worse], decay_of(iou, iou_max[g_better]))
    # the better box's group, by the worse one: only its copies after the worse box
    last = np.full(groups, -1, np.int64)
    np.maximum.at(last, group, nodes)
    later = worse < last[g_better]
    target, source = g_better[later], worse[later]
    piece = np.searchsorted(member_group * count + member_node, target * count + source)
    np.minimum.at(pieces, piece, decay_of(iou[later], iou_max[g_worse[later]]))
    decay = np.ones(count)
    decay[member_node] = np.minimum(1.0, _prefix_min(member_group, pieces))
    copy = nodes != first[group]
    if copy.any():  # decayed by its original: IoU 1
        own = decay_of(np.ones(int(copy.sum())), iou_max[group[copy]])
        decay[nodes[copy]] = np.minimum(decay[nodes[copy]], own)
    return decay


def _check(name: str, boxes, scores) -> tuple[np.ndarray, np.ndarray]:
    boxes = np.asarray(boxes, np.float32)
    scores = np.asarray(scores, np.float32)
    if scores.ndim != 2 or boxes.ndim not in (2, 3) or boxes.shape[-1] != 4 \
            or boxes.shape[0] != scores.shape[0] \
            or (boxes.ndim == 3 and boxes.shape[1] != scores.shape[1]):
        raise PxError(f"{name}: boxes {list(boxes.shape)} and scores {list(scores.shape)} do not "
                      "fit; give boxes [N, 4] (or [N, C, 4], one per class) and scores [N, C]")
    return boxes, scores


def _detections(boxes: np.ndarray, classes: np.ndarray, scores: np.ndarray, index: np.ndarray,
                return_index: bool):
    rows = boxes[index, classes] if boxes.ndim == 3 else boxes[index]
    dets = np.concatenate([classes[:, None], scores[:, None], rows], axis=1).astype(np.float32)
    dets = dets.reshape(-1, 6)
    return (dets, index.astype(np.int64)) if return_index else dets


def multiclass_nms(boxes, scores, score_threshold: float = 0.05, nms_threshold: float = 0.5,
                   nms_top_k: int = -1, keep_top_k: int = 100, background_label: int = -1,
                   normalized: bool = True, return_index: bool = False):
    """Greedy NMS per class on one image, as Paddle's ``multiclass_nms3`` (PaddleDetection's
    MultiClassNMS; ``nms_eta`` 1).

    ``boxes`` [N, 4], or [N, C, 4] for a box per class; ``scores`` [N, C]. Per class, the
    ``nms_top_k`` best boxes above ``score_threshold`` (-1: all) go through NMS; of what
    all classes keep, the ``keep_top_k`` best (-1: all). Returns ``dets`` [K, 6] rows
    (class, score, x1, y1, x2, y2), ordered by class then by descending score as Paddle
    orders them; with ``return_index`` also ``index`` [K], each one's row in ``boxes``.
    """
    boxes, scores = _check("multiclass_nms", boxes, scores)
    # a prefix that keeps keep_top_k boxes settles the output: each of them comes before
    # every box outside it (a better score, or the same and an earlier class or box)
    for candidates, cut in _prefixes(scores, background_label, score_threshold, nms_top_k,
                                     keep_top_k, np.asarray(boxes, np.float64)):
        kept = _greedy_keep(candidates, nms_threshold, normalized)
        if cut is None or np.count_nonzero(kept) >= keep_top_k:
            break
    index, classes = candidates.index[kept], candidates.cls[kept]
    kept_scores = scores[index, classes]
    if -1 < keep_top_k < len(index):
        # the best overall, back in class-major order
        best = np.sort(np.argsort(-kept_scores, kind="stable")[:keep_top_k])
        index, classes, kept_scores = index[best], classes[best], kept_scores[best]
    return _detections(boxes, classes, kept_scores, index, return_index)


def matrix_nms(boxes, scores, score_threshold: float = 0.05, post_threshold: float = 0.05,
               nms_top_k: int = -1, keep_top_k: int = 100, use_gaussian: bool = False,
               gaussian_sigma: float = 2.0, background_label: int = -1,
               normalized: bool = False, return_index: bool = False):
    """Matrix NMS (SOLOv2) on one image, as Paddle's ``matrix_nms`` (PaddleDetection's
    MatrixNMS, whose default ``normalized`` is False; PP-YOLO's).

    Per class, the ``nms_top_k`` best boxes above ``score_threshold`` decay each other's
    scores instead of suppressing: box i's score is multiplied by the minimum over the
    better boxes j of ``(1 - iou_ij) / (1 - iou_max_j)`` (or, with ``use_gaussian``,
    ``exp((iou_max_j² - iou_ij²) * gaussian_sigma)``), where iou_max_j is j's largest IoU
    with a box better than j. Boxes whose decayed score exceeds ``post_threshold`` stay;
    of all classes' the ``keep_top_k`` best (-1: all). ``boxes`` [N, 4], ``scores`` [N, C].
    Returns ``dets`` [K, 6] (class, decayed score, x1, y1, x2, y2) by descending score;
    with ``return_index`` also ``index`` [K], each one's row in ``boxes``.
    """
    boxes, scores = _check("matrix_nms", boxes, scores)
    if boxes.ndim != 2:
        raise PxError(f"matrix_nms: boxes {list(boxes.shape)} must be [N, 4], shared by the "
                      "classes (Paddle's matrix_nms has no per-class boxes)")
    # A decay is at most 1, so a box's decayed score is at most its score where that is
    # not negative (at most 0 where it is): boxes scoring at most a post_threshold >= 0
    # cannot stay, and they decay only worse boxes, which cannot stay either
    if post_threshold >= 0 and post_threshold > score_threshold:
        score_threshold = post_threshold
    # a box outside a prefix scores at most its cut (> 0), its decayed score too, and
    # scoring the cut it is in class ``last`` (after the prefix's boxes of that class) or
    # later: the prefix settles the output once keep_top_k decayed scores that stay come
    # before all those (above the cut, or at it up to class ``last``), or where no
    # decayed score at most the cut can stay
    for candidates, cut in _prefixes(scores, background_label, score_threshold, nms_top_k,
                                     keep_top_k, np.asarray(boxes, np.float64)):
        decay = _matrix_decay(candidates, use_gaussian, gaussian_sigma, normalized)
        score = (decay * scores[candidates.index, candidates.cls]).astype(np.float32)
        alive = score > post_threshold
        if cut is None:
            break
        cut, last = cut
        first = (score > cut) | ((score == cut) & (candidates.cls <= last))
        if np.count_nonzero(alive & first) >= keep_top_k or not cut > post_threshold:
            break
    index, classes, decayed = candidates.index[alive], candidates.cls[alive], score[alive]
    best = np.argsort(-decayed, kind="stable")
    if keep_top_k > -1:
        best = best[:keep_top_k]
    return _detections(boxes, classes[best], decayed[best], index[best], return_index)
