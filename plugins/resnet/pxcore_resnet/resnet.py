"""ResNet (He et al., 2015) and its "vd" variant (He et al., 2018, "Bag of Tricks"), as
one configurable family.

Variant "b" is the usual ResNet: a 7x7 stride-2 stem, the stride in the bottleneck's
3x3 conv, 1x1 stride-2 projection shortcuts. Variant "vd" has a stem of three 3x3 convs
and lets a 2x2 average pool do the striding of the projection shortcuts.

Module names are those of PaddleClas 2.6's ``legendary_models/resnet.py``, so its
``.pdparams`` load without renaming (``stem.0.conv.weight``, ``blocks.3.short.bn._mean``,
``fc.weight``); the Paddle 1.x names of the zoo's ``.tar`` archives come from
``weight_aliases()``. The first block of every stage has a projection shortcut, even
where the shapes would allow the identity (ResNet18/34's first block), as in the
pretrained nets.

``dcn_stages`` makes the 3x3 conv of every block of those stages a modulated deformable
conv (DCNv2, as PP-YOLO's backbone has in its last stage): the bottleneck's ``conv1``,
the basic block's second conv ``conv1``, as in PaddleDetection 2.6's ResNet. Its kernel
keeps the key ``<block>.conv1.conv.weight`` and its shape, so ImageNet weights seed it;
``<block>.conv1.conv_offset.weight`` / ``.bias`` is the conv predicting offsets and mask
(PaddleDetection's ``conv_offset``, zero-initialised as there: at first the conv samples
the regular grid with every mask 0.5, half the plain conv).

``output_stride`` 16 or 8 dilates the last stages instead of striding them, as PaddleSeg
2.x's ``ResNet_vd`` (``paddleseg/models/backbones/resnet_vd.py``) does for DeepLabv3+: at
16 the C5 blocks run at stride 1 with dilation 2, at 8 the C4 blocks with dilation 2 and
the C5 blocks with dilation 4; every 3x3 conv of a dilated stage is dilated (its first
block's too), its projection shortcut is a plain 1x1 conv (no pooling, no stride), and
``multi_grid`` multiplies the C5 blocks' dilations one by one. The levels report the
strides they reach. Dilation changes no tensor, so any weights of the depth load.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import paddle
import paddle.nn.functional as F
from paddle import nn
from paddle.vision.ops import DeformConv2D

from pxcore.errors import PxError
from pxcore.nn.backbone import Backbone, tap_levels
from pxcore.nn.features import FeatureInfo

from .legacy_names import legacy_weight_names

# depth -> (block kind, blocks per stage)
ARCHITECTURES = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
    200: ("bottleneck", (3, 12, 48, 3)),
}
# variant -> stem convs as (out channels, kernel, stride)
STEMS = {
    "b": ((64, 7, 2),),
    "vd": ((32, 3, 2), (32, 3, 1), (64, 3, 1)),
}
STAGE_WIDTHS = (64, 128, 256, 512)
# output stride -> {stage: dilation} (PaddleSeg 2.x's ResNet_vd; stage 2 is C4, 3 is C5)
STAGE_DILATIONS = {32: {}, 16: {3: 2}, 8: {2: 2, 3: 4}}


class ConvBN(nn.Layer):
    """Conv without bias, BatchNorm, optional ReLU. With ``pool_stride`` a 2x2 average
    pool does the striding and the conv runs at stride 1 (the vd shortcut). With
    ``deformable`` the conv is DCNv2: ``conv_offset`` predicts 2k² offsets and k² mask
    logits (sigmoid) per position from the input."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 relu: bool = False, pool_stride: bool = False, deformable: bool = False,
                 dilation: int = 1) -> None:
        super().__init__()
        self.pool_stride = pool_stride
        self.relu = relu
        self.deformable = deformable
        if pool_stride:
            # ceil_mode: odd sizes round up, the missing row/column left out of the mean.
            # (padding="SAME" computes the same but fails in Paddle Inference's oneDNN pool.)
            self.pool = nn.AvgPool2D(2, stride=stride, padding=0, ceil_mode=True)
        conv_type = DeformConv2D if deformable else nn.Conv2D
        self.conv = conv_type(in_channels, out_channels, kernel_size,
                              stride=1 if pool_stride else stride,
                              padding=(kernel_size - 1) // 2 * dilation, dilation=dilation,
                              bias_attr=False)
        if deformable:
            self._offset_channels = 2 * kernel_size ** 2
            zero = paddle.ParamAttr(initializer=nn.initializer.Constant(0.0))
            self.conv_offset = nn.Conv2D(in_channels, 3 * kernel_size ** 2, kernel_size,
                                         stride=stride, padding=(kernel_size - 1) // 2,
                                         weight_attr=zero, bias_attr=zero)
        self.bn = nn.BatchNorm2D(out_channels)

    def forward(self, x):
        if self.pool_stride:
            x = self.pool(x)
        if self.deformable:
            offset_mask = self.conv_offset(x)
            offset = offset_mask[:, :self._offset_channels]
            mask = F.sigmoid(offset_mask[:, self._offset_channels:])
            x = self.conv(x, offset, mask=mask)
        else:
            x = self.conv(x)
        x = self.bn(x)
        return F.relu(x) if self.relu else x


class BasicBlock(nn.Layer):
    expansion = 1

    def __init__(self, in_channels: int, width: int, stride: int, projection: bool,
                 pool_shortcut: bool, deformable: bool = False, dilation: int = 1) -> None:
        super().__init__()
        self.projection = projection
        self.conv0 = ConvBN(in_channels, width, 3, stride, relu=True, dilation=dilation)
        self.conv1 = ConvBN(width, width, 3, deformable=deformable, dilation=dilation)
        if projection:
            self.short = ConvBN(in_channels, width, 1, stride, pool_stride=pool_shortcut)

    def forward(self, x):
        shortcut = self.short(x) if self.projection else x
        return F.relu(self.conv1(self.conv0(x)) + shortcut)


class BottleneckBlock(nn.Layer):
    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int, projection: bool,
                 pool_shortcut: bool, deformable: bool = False, dilation: int = 1) -> None:
        super().__init__()
        self.projection = projection
        self.conv0 = ConvBN(in_channels, width, 1, relu=True)
        self.conv1 = ConvBN(width, width, 3, stride, relu=True, deformable=deformable,
                            dilation=dilation)
        self.conv2 = ConvBN(width, width * 4, 1)
        if projection:
            self.short = ConvBN(in_channels, width * 4, 1, stride, pool_stride=pool_shortcut)

    def forward(self, x):
        shortcut = self.short(x) if self.projection else x
        return F.relu(self.conv2(self.conv1(self.conv0(x))) + shortcut)


_BLOCKS = {"basic": BasicBlock, "bottleneck": BottleneckBlock}


class ResNet(Backbone):
    """A ResNet backbone of ``depth`` (18, 34, 50, 101, 152, 200) in ``variant`` "b" or
    "vd". It reports the four stages C2..C5 (strides 4, 8, 16, 32; at ``output_stride``
    16 or 8 the dilated stages stay at that stride). The blocks of the stages in
    ``dcn_stages`` (0..3 for C2..C5) have a deformable 3x3 conv (DCNv2). ``multi_grid``
    (one factor per C5 block, PaddleSeg's (1, 2, 4) for instance) needs a dilated C5."""

    def __init__(self, depth: int = 50, variant: str = "b",
                 out_indices: Sequence[int] | None = None,
                 dcn_stages: Sequence[int] = (), output_stride: int = 32,
                 multi_grid: Sequence[int] | None = None) -> None:
        super().__init__(out_indices)
        if depth not in ARCHITECTURES:
            raise PxError(f"ResNet: depth {depth!r} is not one of {sorted(ARCHITECTURES)}")
        if variant not in STEMS:
            raise PxError(f"ResNet: variant {variant!r} is not one of {sorted(STEMS)}")
        dcn_stages = (dcn_stages,) if isinstance(dcn_stages, int) else tuple(dcn_stages)
        if any(not isinstance(s, int) or isinstance(s, bool) or not 0 <= s < len(STAGE_WIDTHS)
               for s in dcn_stages):
            raise PxError(f"ResNet: dcn_stages {dcn_stages!r} must be stage indices 0..3 "
                          "(C2..C5); PP-YOLO uses (3,)")
        if output_stride not in STAGE_DILATIONS:
            raise PxError(f"ResNet: output_stride {output_stride!r} is not one of "
                          f"{sorted(STAGE_DILATIONS)} (8 and 16 dilate the last stages)")
        block_kind, stage_depths = ARCHITECTURES[depth]
        dilations = STAGE_DILATIONS[output_stride]
        if any(stage in dilations for stage in dcn_stages):
            raise PxError(f"ResNet: dcn_stages {dcn_stages!r} and output_stride {output_stride} "
                          "both change the same stage's 3x3 convs; pxcore builds one or the other")
        grid = tuple(multi_grid) if multi_grid is not None else (1,) * stage_depths[-1]
        if len(grid) != stage_depths[-1] or any(
                not isinstance(g, int) or isinstance(g, bool) or g < 1 for g in grid):
            raise PxError(f"ResNet: multi_grid {multi_grid!r} must be {stage_depths[-1]} positive "
                          f"integers, one per C5 block of ResNet{depth}")
        if grid != (1,) * len(grid) and 3 not in dilations:
            raise PxError(f"ResNet: multi_grid {multi_grid!r} multiplies C5's dilation, which "
                          "output_stride 32 leaves undilated; use output_stride 16 or 8")
        self.depth = depth
        self.variant = variant
        self.dcn_stages = dcn_stages
        self.output_stride = output_stride
        self.multi_grid = grid
        self._block_kind, self._stage_depths = block_kind, stage_depths

        stem, channels = [], 3
        for out_channels, kernel_size, stride in STEMS[variant]:
            stem.append(ConvBN(channels, out_channels, kernel_size, stride, relu=True))
            channels = out_channels
        self.stem = nn.Sequential(*stem)
        self.max_pool = nn.MaxPool2D(3, stride=2, padding=1)

        block_type = _BLOCKS[block_kind]
        blocks, self._stage_ends, self.feature_info = [], [], []
        reached = 4  # after the stem and max pool
        for stage, (count, width) in enumerate(zip(stage_depths, STAGE_WIDTHS, strict=True)):
            dilated = stage in dilations
            for index in range(count):
                first = index == 0
                strided = first and stage > 0 and not dilated
                blocks.append(block_type(
                    channels, width,
                    stride=2 if strided else 1,
                    projection=first,
                    # vd: the stride-2 shortcuts pool; the first stage's shortcut has no stride.
                    pool_shortcut=variant == "vd" and strided,
                    deformable=stage in dcn_stages,
                    dilation=dilations.get(stage, 1) * (grid[index] if stage == 3 else 1)))
                channels = width * block_type.expansion
            reached *= 2 if stage > 0 and not dilated else 1
            self._stage_ends.append(len(blocks) - 1)
            self.feature_info.append(FeatureInfo(f"C{stage + 2}", channels, reached))
        self.blocks = nn.Sequential(*blocks)

    def forward_features(self, x):
        # Only the blocks up to the deepest requested level run: an R-CNN C4 head that
        # takes C5's blocks for itself (``stage_blocks``) does not pay for them twice.
        last = self._stage_ends[max(self.out_indices)]
        return tap_levels(self.max_pool(self.stem(x)), list(self.blocks)[:last + 1],
                          self._stage_ends)

    def stage_blocks(self, stage: int) -> list[nn.Layer]:
        """The blocks of ``stage`` (0..3 for C2..C5), for heads that run a stage on
        their own (R-CNN's C4 head runs C5 on each region)."""
        start = self._stage_ends[stage - 1] + 1 if stage > 0 else 0
        return list(self.blocks)[start:self._stage_ends[stage] + 1]

    # What the classifier adds: the backbone loads a classifier checkpoint without it.
    unused_prefixes = ("fc.",)

    def weight_aliases(self) -> dict[str, str]:
        """``{Paddle 1.x variable name: our key}`` for the zoo's legacy archives (the
        classifier's fc included, which a backbone leaves out as unused)."""
        return legacy_weight_names(self._block_kind, self._stage_depths, self.variant,
                                   classifier=True)

    def paddleseg_aliases(self) -> dict[str, str]:
        """``{PaddleSeg 2.x ResNet_vd state-dict key: our key}`` (``conv1_1._conv.weight``,
        ``bb_2_0.short._batch_norm._mean``), for a PaddleSeg / PaddleX 2.x segmenter's
        backbone. PaddleSeg 2.x has only the vd variant."""
        from .legacy_names import paddleseg_names

        if self.variant != "vd":
            raise PxError(f"ResNet{self.depth} (variant {self.variant!r}): PaddleSeg 2.x's "
                          "ResNets are all vd; its tensors need variant='vd'")
        return paddleseg_names(self._block_kind, self._stage_depths)


class ResNetClassifier(ResNet):
    """The ImageNet classifier: the backbone, global average pooling and ``fc``. Its
    state dict is PaddleClas 2.6's legendary ResNet's, key for key."""

    # Weights for another class count leave the fc freshly initialised.
    head_prefixes = ("fc.",)

    def __init__(self, depth: int = 50, variant: str = "b", num_classes: int = 1000) -> None:
        super().__init__(depth, variant, out_indices=(-1,))
        self.num_classes = num_classes
        self._pooled_channels = self.feature_info[-1].channels
        self.avg_pool = nn.AdaptiveAvgPool2D(1)
        bound = 1.0 / math.sqrt(self._pooled_channels)
        self.fc = nn.Linear(self._pooled_channels, num_classes, weight_attr=paddle.ParamAttr(
            initializer=nn.initializer.Uniform(-bound, bound)))

    def forward(self, x):
        x = self.avg_pool(self.forward_features(x)[-1])
        # reshape, not flatten: Paddle Lite has no flatten op.
        return self.fc(paddle.reshape(x, [-1, self._pooled_channels]))
