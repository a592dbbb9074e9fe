"""The region proposal network: one small conv head shared by every level, anchors
per level, and, for training, the proposals it keeps in Paddle ops (decoded, clipped,
NMS'd per level, then the best of all levels per image). Evaluation, prediction and
every runtime propose in numpy instead (``pipeline.propose``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import _C_ops, nn
from paddle.vision import ops

from pxcore.errors import PxError

from .boxes import cell_anchors


def grid_anchors(feature, stride: int, cells: np.ndarray):
    """Anchors for every cell of ``feature`` ([B, C, H, W]) in Paddle ops, ordered (y, x,
    anchor) as ``generate_proposals`` reads the scores: ``[H * W * A, 4]`` (what
    ``boxes.level_anchors`` gives in numpy)."""
    height, width = paddle.shape(feature)[2], paddle.shape(feature)[3]
    ys = paddle.arange(0, height, dtype="float32") * float(stride)
    xs = paddle.arange(0, width, dtype="float32") * float(stride)
    yy, xx = paddle.meshgrid(ys, xs)
    shifts = paddle.stack([xx, yy, xx, yy], axis=-1).reshape([-1, 1, 4])
    return (shifts + paddle.to_tensor(cells)).reshape([-1, 4])


class RPNHead(nn.Layer):
    """A 3x3 conv and ReLU, then per anchor one objectness logit and four deltas."""

    def __init__(self, channels: int, num_anchors: int) -> None:
        super().__init__()
        normal = nn.initializer.Normal(std=0.01)
        self.conv = nn.Conv2D(channels, channels, 3, padding=1, weight_attr=normal)
        self.score = nn.Conv2D(channels, num_anchors, 1, weight_attr=normal)
        self.delta = nn.Conv2D(channels, 4 * num_anchors, 1, weight_attr=normal)

    def forward(self, features):
        scores, deltas = [], []
        for feature in features:
            x = F.relu(self.conv(feature))
            scores.append(self.score(x))
            deltas.append(self.delta(x))
        return scores, deltas


class ProposalSettings:
    """How many proposals each stage keeps: before NMS per level, after NMS per
    image; train and test differ (PaddleDetection's FPN defaults)."""

    def __init__(self, pre_nms_top_n: int = 2000, post_nms_top_n: int = 1000,
                 nms_thresh: float = 0.7, min_size: float = 0.0) -> None:
        for name, value in (("pre_nms_top_n", pre_nms_top_n), ("post_nms_top_n", post_nms_top_n)):
            if not isinstance(value, int) or value < 1:
                raise PxError(f"RPN proposals: {name} must be a positive integer, got {value!r}")
        self.pre_nms_top_n = pre_nms_top_n
        self.post_nms_top_n = post_nms_top_n
        self.nms_thresh = nms_thresh
        self.min_size = min_size


class AnchorGenerator:
    """Anchors of ``sizes`` (one tuple per level) and ``ratios`` at each level's stride,
    in ``convention`` (``boxes.cell_anchors``: "exact" or Paddle 1.x's "rounded")."""

    def __init__(self, sizes: Sequence[Sequence[float]], ratios: Sequence[float],
                 strides: Sequence[int], convention: str = "exact") -> None:
        if len(sizes) != len(strides):
            raise PxError(f"RPN anchors: {len(sizes)} anchor size groups for {len(strides)} "
                          "levels; give one group per level")
        self.sizes = [tuple(float(v) for v in s) for s in sizes]
        self.ratios = [float(r) for r in ratios]
        self.convention = convention
        self.cells = [cell_anchors(s, ratios, stride, convention)
                      for s, stride in zip(sizes, strides, strict=True)]
        if len({len(c) for c in self.cells}) != 1:
            raise PxError("RPN anchors: every level needs the same number of anchor sizes")
        self.strides = list(strides)
        self.num_anchors = len(self.cells[0])

    def __call__(self, features):
        return [grid_anchors(f, s, c) for f, s, c in zip(features, self.strides, self.cells)]  # noqa: B905


def propose(scores, deltas, anchors, image_hw, settings: ProposalSettings, batch: int,
            pixel_offset: bool = False):
    """``(rois [R, 4], rois_num [B])``: per image, per level the top ``pre_nms_top_n``
    boxes through NMS, then the ``post_nms_top_n`` best of all levels.

    Images are taken one at a time (a Python loop over a batch size known when the
    graph is built), since Paddle's level-merging op ranks a whole batch together."""
    if batch is None or batch < 1:
        raise PxError("R-CNN proposals need a known batch size; export with batch_size=1 "
                      "(the default for R-CNN models)")
    # One level keeps post_nms_top_n straight away; several keep pre_nms_top_n each
    # and are merged afterwards (PaddleDetection's choice for both).
    per_level = settings.post_nms_top_n if len(scores) == 1 else settings.pre_nms_top_n
    rois, counts = [], []
    for i in range(batch):
        level_rois, level_probs, level_nums = [], [], []
        for score, delta, anchor in zip(scores, deltas, anchors):  # noqa: B905
            variances = paddle.ones_like(anchor)
            r, p, n = ops.generate_proposals(
                F.sigmoid(score[i:i + 1]), delta[i:i + 1], image_hw, anchor, variances,
                pre_nms_top_n=settings.pre_nms_top_n, post_nms_top_n=per_level,
                nms_thresh=settings.nms_thresh, min_size=settings.min_size, eta=1.0,
                pixel_offset=pixel_offset, return_rois_num=True)
            level_rois.append(r)
            level_probs.append(p.reshape([-1, 1]))
            level_nums.append(n)
        if len(level_rois) == 1:
            r = level_rois[0]
        else:
            r, _ = _C_ops.collect_fpn_proposals(level_rois, level_probs, level_nums,
                                                settings.post_nms_top_n)
        rois.append(r)
        # The count is read off the boxes: in a static graph Paddle 3.3 types the
        # count generate_proposals returns as float32 while it holds int32, and any op
        # that then reads it (a concat) fails.
        counts.append(paddle.shape(r)[0:1].astype("int32"))
    return paddle.concat(rois), paddle.concat(counts)


def anchors_numpy(anchors) -> np.ndarray:
    """All levels' anchors as one numpy array (for the training targets)."""
    return np.concatenate([a.numpy() for a in anchors]).astype(np.float32)
