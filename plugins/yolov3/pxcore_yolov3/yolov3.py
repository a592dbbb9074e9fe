"""YOLOv3 on any backbone, and PP-YOLO as a configuration of it.

The network is a backbone (anything that reports its feature levels), the YOLOv3 FPN
built from the three deepest levels' channels, and one 1x1 output conv per level. It
ends at the raw outputs; ``loss`` trains them, ``postprocess`` (numpy) turns them into
boxes. PP-YOLO (Long et al., 2020) switches on CoordConv, SPP, DropBlock, the
grid-sensitive centre, the IoU loss and IoU-aware branch, and Matrix NMS, over a
ResNet50_vd with deformable convolutions in its last stage.

Module names follow PaddleDetection's dygraph YOLOv3 (``yolo_block.0.conv_module.conv0``,
``yolo_transition.0``, ``yolo_output.0``) so its weights find their places.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import paddle
from paddle import nn

from pxcore.compose import build_backbone
from pxcore.errors import PxError
from pxcore.nn.features import FeatureInfo
from pxcore.nn.resize import upsample_nearest

from . import legacy_names
from .anchors import ANCHOR_MASKS, COCO_ANCHORS, yolo_targets
from .layers import SPP, ConvBNLayer, CoordConv, DropBlock
from .loss import YOLOLoss
from .postprocess import YOLOPostprocess


def _conv(ch_in: int, ch_out: int, kernel: int, coord: Any = False) -> nn.Layer:
    """ConvBNLayer, or a CoordConv when ``coord`` is True (coordinates from -1 to 1) or
    a (first, last) coordinate pair: PaddleDetection 2.x's PP-YOLO runs them from -1 to
    -0.5 (``PADDLEDETECTION_COORD_RANGE``), which its checkpoints expect."""
    if coord:
        span = tuple(coord) if isinstance(coord, list | tuple) else (-1.0, 1.0)
        return CoordConv(ch_in, ch_out, kernel, padding=(kernel - 1) // 2, coord_range=span)
    return ConvBNLayer(ch_in, ch_out, kernel, padding=(kernel - 1) // 2)


class YOLODetBlock(nn.Layer):
    """Five convs alternating 1x1 (``channel``) and 3x3 (2x``channel``); the last 1x1
    output (``route``) feeds the next level, the ``tip`` 3x3 feeds the output conv.
    PP-YOLO makes the 1x1 convs CoordConvs, puts SPP in the deepest block, and DropBlock
    before the route in the deepest (``first``) block, after ``conv1`` in the others
    (PaddleDetection's places)."""

    def __init__(self, ch_in: int, channel: int, coord_conv: Any = False, spp: bool = False,
                 drop_block: bool = False, first: bool = True) -> None:
        super().__init__()
        drop = [("drop_block", DropBlock(block_size=3, keep_prob=0.9))] if drop_block else []
        layers = [("conv0", _conv(ch_in, channel, 1, coord_conv)),
                  ("conv1", _conv(channel, channel * 2, 3)),
                  *([] if first else drop),
                  ("conv2", _conv(channel * 2, channel, 1, coord_conv))]
        if spp:
            layers.append(("spp", SPP(channel, channel, 1)))
        layers.append(("conv3", _conv(channel, channel * 2, 3)))
        if first:
            layers += drop
        layers.append(("route", _conv(channel * 2, channel, 1, coord_conv)))
        self.conv_module = nn.Sequential(*layers)
        self.tip = _conv(channel, channel * 2, 3, coord_conv)

    def forward(self, x):
        route = self.conv_module(x)
        return route, self.tip(route)


class YOLOv3FPN(nn.Layer):
    """From the backbone's levels (``input_shapes``, shallow to deep), one detection
    block per level, deepest first; each route is halved in channels, upsampled and
    joined to the next level. Returns the tips, deepest first, as ``out_features``
    says (the deepest block is ``channels`` wide, each next one half; PaddleDetection's
    512, which at small inputs costs more than a light backbone: a narrower neck trains
    several times faster on a CPU)."""

    def __init__(self, input_shapes: Sequence[FeatureInfo], coord_conv: Any = False,
                 spp: bool = False, drop_block: bool = False, channels: int = 512) -> None:
        super().__init__()
        levels = list(reversed(list(input_shapes)))
        if not isinstance(channels, int) or channels < 2 ** len(levels):
            raise PxError(f"YOLOv3FPN: channels must be an integer of at least "
                          f"{2 ** len(levels)} (halved per level), got {channels!r}")
        self.out_features = []
        routes = 0
        blocks, transitions = [], []
        for i, info in enumerate(levels):
            channel = channels // 2 ** i
            blocks.append(YOLODetBlock(info.channels + routes, channel, coord_conv,
                                       spp and i == 0, drop_block, first=i == 0))
            self.out_features.append(FeatureInfo(f"yolo{i}", channel * 2, info.stride))
            if i < len(levels) - 1:
                transitions.append(_conv(channel, channel // 2, 1))
                routes = channel // 2
        # add_sublayer keeps PaddleDetection's names (yolo_block.0, yolo_transition.0).
        self._blocks = [self.add_sublayer(f"yolo_block.{i}", b) for i, b in enumerate(blocks)]
        self._transitions = [self.add_sublayer(f"yolo_transition.{i}", t)
                             for i, t in enumerate(transitions)]

    def forward(self, features):
        tips, route = [], None
        for i, feature in enumerate(reversed(features)):
            if route is not None:
                feature = paddle.concat([upsample_nearest(route, 2, feature), feature], axis=1)
            route, tip = self._blocks[i](feature)
            tips.append(tip)
            if i < len(self._transitions):
                route = self._transitions[i](route)
        return tips


def _numpy(value):
    return None if value is None else (value.numpy() if hasattr(value, "numpy") else np.asarray(value))


def yolo_strides(levels: int) -> list[int]:
    """The strides YOLOv3 reads, shallow to deep: the deepest at 32, each next halved."""
    return [32 // 2 ** i for i in reversed(range(levels))]


class YOLOv3(nn.Layer):
    """``num_classes`` foreground classes; ``anchors`` in input pixels, ``anchor_masks``
    picking them per level, deepest level first; ``neck_channels`` the FPN's deepest
    block width (512, PaddleDetection's, by default); ``box_size_offset`` 1 for weights
    of PaddleDetection 0.x / PaddleX 1.x, whose boxes count whole pixels (see
    ``YOLOPostprocess``; the zoo's archive rows set it)."""

    # Where only the wiring is tested (pxcore.testing.composition): a narrow neck.
    smoke_arguments = {"neck_channels": 32}

    def __init__(self, num_classes: int = 80, backbone: Any = "DarkNet53",
                 backbone_args: Mapping[str, Any] | None = None,
                 anchors: Sequence[Sequence[float]] = COCO_ANCHORS,
                 anchor_masks: Sequence[Sequence[int]] = ANCHOR_MASKS,
                 coord_conv: Any = False, spp: bool = False, drop_block: bool = False,
                 ignore_thresh: float = 0.7, label_smooth: bool = False, scale_x_y: float = 1.0,
                 iou_loss_weight: float = 0.0, iou_aware: bool = False,
                 iou_aware_factor: float = 0.4, target_iou_thresh: float = 1.0,
                 nms: Mapping[str, Any] | None = None, neck_channels: int = 512,
                 box_size_offset: float = 0.0) -> None:
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 1:
            raise PxError(f"YOLOv3: num_classes must be a positive integer, got {num_classes!r}")
        used = sorted(a for mask in anchor_masks for a in mask)
        if used != list(range(len(anchors))):
            raise PxError(f"YOLOv3: anchor_masks {anchor_masks} must use each of the "
                          f"{len(anchors)} anchors exactly once")
        self.num_classes = num_classes
        # Any backbone: it is built whole and gives the levels at strides 8/16/32.
        self.backbone = build_backbone(backbone, backbone_args, consumer="YOLOv3")
        levels = self.backbone.select_strides(yolo_strides(len(anchor_masks)), "YOLOv3")
        self.neck = YOLOv3FPN(levels, coord_conv, spp, drop_block, neck_channels)
        strides = [f.stride for f in self.neck.out_features]
        self.target_iou_thresh = target_iou_thresh
        outputs_per_anchor = 5 + num_classes + (1 if iou_aware else 0)
        prior = -math.log((1 - 0.01) / 0.01)  # start every objectness and class near 1%
        heads = []
        for i, (info, mask) in enumerate(zip(self.neck.out_features, anchor_masks, strict=True)):
            conv = nn.Conv2D(info.channels, len(mask) * outputs_per_anchor, 1)
            bias = np.zeros([len(mask), outputs_per_anchor], np.float32)
            bias[:, (5 if iou_aware else 4):] = prior
            conv.bias.set_value(bias.reshape(-1))
            heads.append(self.add_sublayer(f"yolo_output.{i}", conv))
        self._heads = heads
        self.loss_fn = YOLOLoss(num_classes, anchors, anchor_masks, strides, ignore_thresh,
                                label_smooth, scale_x_y, iou_loss_weight, iou_aware)
        self.postprocess = YOLOPostprocess(
            anchors, anchor_masks, strides, num_classes, scale_x_y, iou_aware, iou_aware_factor,
            dict(nms or {"type": "multiclass"}), box_size_offset)

    # The classification head convention: a checkpoint for another class count
    # leaves these freshly initialised.
    head_prefixes = ("yolo_output.",)

    def weight_aliases(self) -> dict[str, str]:
        """PaddleDetection's names -> our keys: the static 0.x variable names (the zoo's
        archives and static-era .pdparams) and the 2.x dygraph keys; see legacy_names."""
        return legacy_names.weight_aliases(self)

    def forward(self, image):
        """The raw output of every level, deepest first: ``[B, A*(5+C), H/s, W/s]``
        (PP-YOLO's IoU-aware branch adds A channels in front)."""
        tips = self.neck(self.backbone(image))
        return [head(tip) for head, tip in zip(self._heads, tips)]  # noqa: B905 (dy2static has no strict)

    def loss(self, outputs, gt_bbox, gt_class, gt_score=None) -> dict:
        """Losses for a batch: ``gt_bbox [B, M, 4]`` (x1, y1, x2, y2 in input pixels,
        zero rows are padding), ``gt_class [B, M]``, ``gt_score [B, M]`` (mixup
        weights, default 1)."""
        height = outputs[0].shape[2] * self.loss_fn.strides[0]
        width = outputs[0].shape[3] * self.loss_fn.strides[0]
        targets = yolo_targets(_numpy(gt_bbox), _numpy(gt_class), _numpy(gt_score), (height, width),
                               self.loss_fn.anchors, self.loss_fn.anchor_masks, self.loss_fn.strides,
                               self.num_classes, self.target_iou_thresh)
        boxes = paddle.to_tensor(_numpy(gt_bbox), "float32")
        return self.loss_fn(outputs, [paddle.to_tensor(t) for t in targets], boxes)
