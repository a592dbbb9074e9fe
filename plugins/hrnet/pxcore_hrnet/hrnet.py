"""HRNet (Wang et al., 2019, "Deep High-Resolution Representation Learning"): a stem of
two stride-2 convs and four bottlenecks, then stages that keep one branch per
resolution (strides 4, 8, 16, 32; widths w, 2w, 4w, 8w) and fuse the branches after
every module. The classifier (HRNet-W*-C) adds PaddleClas's head: a bottleneck per
branch, a chain of stride-2 convs adding the branches from fine to coarse, a 1x1 conv
to 2048 channels, global pooling and ``fc``. The segmentation network (``seg.py``)
builds the same body with another upsampling in the fusions (``FUSE_UPSAMPLING``).

Module names are those of PaddleClas 2.6's ``legendary_models/hrnet.py``, so its
``.pdparams`` load without renaming (``st3.stage_func_list.2.fuse_func.
residual_func_list.4.bn._mean``, ``last_cls.func_list.0.conv_down.conv.weight``,
``fc.weight``); ``weight_aliases()`` gives the Paddle 1.x names of the zoo's ``.tar``
archives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import paddle
import paddle.nn.functional as F
from paddle import nn

from pxcore.errors import PxError
from pxcore.nn.backbone import Backbone
from pxcore.nn.features import FeatureInfo
from pxcore.nn.resize import resize_bilinear, resize_nearest_align_corners, upsample_nearest

STEM_CHANNELS = 64
STEM_BLOCKS = 4  # bottlenecks of width 64 (256 channels out) before the first branching
BOTTLENECK_EXPANSION = 4
BRANCH_BLOCKS = 4  # basic blocks per branch in every module
STAGE_MODULES = (1, 4, 3)  # high-resolution modules in stages 2, 3 and 4
# The classifier's head: bottleneck widths per branch (x4 channels out); stride-2 convs
# carry the sum from each branch to the next, so they end at the next one's channels.
HEAD_WIDTHS = (32, 64, 128, 256)
HEAD_DOWNSAMPLE_CHANNELS = tuple(w * BOTTLENECK_EXPANSION for w in HEAD_WIDTHS[1:])
HEAD_CHANNELS = 2048

# How a fusion brings a coarser branch to a finer one's size, by whose code:
# "nearest": PaddleClas's classifier, PaddleDetection 2.x's HRNetV2p and PaddleX 1.x's
#   detection HRNet (fluid resize_nearest(align_corners=False)): pixel repetition;
# "nearest_align_corners": PaddleDetection 0.x's HRNetV2p, which trained the zoo's
#   FasterRCNN-HRNet_W18-FPN archive (fluid resize_nearest's default, corners aligned:
#   the same as repetition by 2, other rows by 4 and 8);
# "bilinear": PaddleX 1.x's segmentation HRNet (fluid resize_bilinear with
#   align_corners=False, align_mode=1: source = destination * in / out, no half-pixel
#   shift, the last rows repeating the edge);
# "bilinear_align_corners": PaddleSeg's legacy (static) HRNet, which trained the zoo's
#   Cityscapes weights (fluid resize_bilinear's defaults: corners aligned);
# "bilinear_half_pixel": PaddleSeg 2.x's HRNet (F.interpolate, align_corners=False), which
#   PaddleX 2.x's segmentation HRNet builds.
FUSE_UPSAMPLING = ("nearest", "nearest_align_corners", "bilinear", "bilinear_align_corners",
                   "bilinear_half_pixel")

# Every forward below runs the same eagerly and while a static graph is built (no
# control flow on tensor values): not_to_static spares dy2static's source rewrite of
# each of the ~300 layers (to_static of the classifier: 12 s without, 7.8 s with, here).
static_safe = paddle.jit.not_to_static


class ConvBN(nn.Layer):
    """A conv (bias-free unless ``bias``), BatchNorm, and an optional ReLU. The conv pads
    (k - 1) / 2 on every side; ``pad_same`` pads as Paddle's ``padding="same"``, which
    PaddleSeg 2.x's HRNet uses: the same at stride 1, but at stride 2 on an even size
    only the bottom and right (one row and column), so the sampling grid moves by one."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 relu: bool = True, bias: bool = False, pad_same: bool = False) -> None:
        super().__init__()
        self.relu = relu
        self.conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                              padding="same" if pad_same else (kernel_size - 1) // 2,
                              bias_attr=None if bias else False)
        self.bn = nn.BatchNorm2D(out_channels)

    @static_safe
    def forward(self, x):
        x = self.bn(self.conv(x))
        return F.relu(x) if self.relu else x


class BasicBlock(nn.Layer):
    """Two 3x3 convs and an identity shortcut, at a branch's width."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = ConvBN(channels, channels, 3)
        self.conv2 = ConvBN(channels, channels, 3, relu=False)

    @static_safe
    def forward(self, x):
        return F.relu(x + self.conv2(self.conv1(x)))


class BottleneckBlock(nn.Layer):
    """1x1, 3x3, 1x1 (x4 channels) convs; ``project`` adds a 1x1 conv on the shortcut."""

    def __init__(self, in_channels: int, width: int, project: bool) -> None:
        super().__init__()
        out_channels = width * BOTTLENECK_EXPANSION
        self.project = project
        self.conv1 = ConvBN(in_channels, width, 1)
        self.conv2 = ConvBN(width, width, 3)
        self.conv3 = ConvBN(width, out_channels, 1, relu=False)
        if project:
            self.conv_down = ConvBN(in_channels, out_channels, 1, relu=False)

    @static_safe
    def forward(self, x):
        shortcut = self.conv_down(x) if self.project else x
        return F.relu(shortcut + self.conv3(self.conv2(self.conv1(x))))


def _shift_up(x, axis: int):
    """``x`` moved one row (axis 2) or column (axis 3) towards the start, the last one
    repeated: the next pixel of each pixel, clamped at the edge."""
    tail = x[:, :, 1:] if axis == 2 else x[:, :, :, 1:]
    edge = x[:, :, -1:] if axis == 2 else x[:, :, :, -1:]
    return paddle.concat([tail, edge], axis=axis)


def upsample_bilinear_asymmetric(x, factor: int, like):
    """Bilinear upsampling of ``x`` by an integer ``factor`` to ``like``'s height and
    width, sampling at source = destination / factor: output pixel ``f * n + r`` is
    ``(1 - r / f) * x[n] + r / f * x[min(n + 1, last)]`` along each axis. Exactly
    ``F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False,
    align_mode=1)``, Paddle 1.x's ``resize_bilinear(align_corners=False, align_mode=1)``.

    Written as weighted sums of shifted copies, stacked and reshaped (to a shape read
    from the tensors), for the reason ``pxcore.nn.resize`` gives: Paddle Inference's
    oneDNN rejects every interpolation op Paddle 3.3 exports."""
    steps = [r / factor for r in range(factor)]
    right = _shift_up(x, 3)
    x = paddle.stack([x * (1.0 - t) + right * t for t in steps], axis=4)  # [N, C, H, W, f]
    below = _shift_up(x, 2)
    x = paddle.stack([x * (1.0 - t) + below * t for t in steps], axis=3)  # [N, C, H, f, W, f]
    shape = paddle.concat([paddle.shape(x)[:2], paddle.shape(like)[2:]])
    return paddle.reshape(x, shape)


def upsample_branch(x, factor: int, like, mode: str):
    """A coarser branch brought to ``like``'s size in a fusion, by ``mode`` (one of
    ``FUSE_UPSAMPLING``)."""
    if mode == "nearest":
        return upsample_nearest(x, factor, like)
    if mode == "nearest_align_corners":
        return resize_nearest_align_corners(x, like)
    if mode == "bilinear":
        return upsample_bilinear_asymmetric(x, factor, like)
    return resize_bilinear(x, like, align_corners=mode == "bilinear_align_corners")


def fuse_plan(branches: int) -> list[list[tuple[int, int]]]:
    """For each output branch i, the other branches j it takes and how many convs each
    passes through: one 1x1 from a coarser branch (j > i), i - j stride-2 3x3 from a
    finer one (j < i)."""
    return [[(j, 1 if j > i else i - j) for j in range(branches) if j != i]
            for i in range(branches)]


class FuseLayers(nn.Layer):
    """Every output branch i is the ReLU of the sum over all input branches j: branch i
    itself; a coarser branch (j > i) through a 1x1 conv to i's width, then upsampled by
    2^(j-i); a finer branch (j < i) through i-j stride-2 3x3 convs, ReLU between them,
    the last one to i's width. The convs are one flat list in that order (i, then j,
    then step), as PaddleClas keeps them. ``upsample`` is one of ``FUSE_UPSAMPLING``;
    ``pad_same``: the stride-2 convs pad as ``ConvBN`` says."""

    def __init__(self, channels: Sequence[int], upsample: str = "nearest",
                 pad_same: bool = False) -> None:
        super().__init__()
        self.upsample = upsample
        self.residual_func_list = nn.LayerList()
        # per output branch: (input branch, indices of its convs in the list)
        self.paths: list[list[tuple[int, list[int]]]] = []
        for i, sources in enumerate(fuse_plan(len(channels))):
            paths = []
            for j, steps in sources:
                first = len(self.residual_func_list)
                if j > i:
                    self.residual_func_list.append(ConvBN(channels[j], channels[i], 1, relu=False))
                else:
                    for step in range(steps):
                        last = step == steps - 1
                        self.residual_func_list.append(ConvBN(
                            channels[j], channels[i] if last else channels[j], 3, stride=2,
                            relu=not last, pad_same=pad_same))
                paths.append((j, list(range(first, len(self.residual_func_list)))))
            self.paths.append(paths)

    @static_safe
    def forward(self, branches: list) -> list:
        fused = []
        for i, paths in enumerate(self.paths):
            total = branches[i]
            for j, steps in paths:
                y = branches[j]
                for index in steps:
                    y = self.residual_func_list[index](y)
                if j > i:
                    y = upsample_branch(y, 2 ** (j - i), total, self.upsample)
                total = total + y
            fused.append(F.relu(total))
        return fused


class HighResolutionModule(nn.Layer):
    """Four basic blocks on each branch, then the fusion of all branches."""

    def __init__(self, channels: Sequence[int], upsample: str = "nearest",
                 pad_same: bool = False) -> None:
        super().__init__()
        self.basic_block_list = nn.LayerList([
            nn.Sequential(*[BasicBlock(c) for _ in range(BRANCH_BLOCKS)]) for c in channels])
        self.fuse_func = FuseLayers(channels, upsample, pad_same)

    @static_safe
    def forward(self, branches: list) -> list:
        return self.fuse_func([blocks(x) for blocks, x in zip(self.basic_block_list, branches,
                                                               strict=True)])


class Stage(nn.Layer):
    def __init__(self, modules: int, channels: Sequence[int], upsample: str = "nearest",
                 pad_same: bool = False) -> None:
        super().__init__()
        self.stage_func_list = nn.LayerList([HighResolutionModule(channels, upsample, pad_same)
                                             for _ in range(modules)])

    @static_safe
    def forward(self, branches: list) -> list:
        for module in self.stage_func_list:
            branches = module(branches)
        return branches


def branch_channels(width: int) -> tuple[int, ...]:
    """The widths of the four branches: w, 2w, 4w, 8w."""
    return tuple(width * 2**i for i in range(len(STAGE_MODULES) + 1))


def _check_input_size(shape) -> None:
    """Each branch must be exactly half the size of the one above it for the fusion to
    add them, as in the reference: the input's height and width, divided by 4 and
    rounded up, must be multiples of 8. Checked where sizes are known (not while a
    static graph with dynamic sizes is built)."""
    height, width = shape[2:]
    for size in (height, width):
        if isinstance(size, int) and size > 0 and -(-size // 4) % 8:
            raise PxError(
                f"HRNet: a {height}x{width} input does not fit: its four branches must halve "
                "exactly, so the height and width divided by 4 (rounded up) must be multiples "
                "of 8, as every multiple of 32 is; resize or pad the image")


class HRNet(Backbone):
    """The HRNet body of ``width`` (PaddleClas has 18, 30, 32, 40, 44, 48, 60, 64). Its
    levels are the four branches after the last stage: C2..C5 at strides 4, 8, 16 and
    32 with w, 2w, 4w and 8w channels (HRNetV2p's inputs). ``fuse_upsample`` (one of
    ``FUSE_UPSAMPLING``) is how the fusions upsample: "nearest" for the classifier and
    the detectors ("nearest_align_corners" for PaddleDetection 0.x's archives), bilinear
    for the segmentation network; it changes no tensor. ``pad_same``: the stride-2 convs
    pad as PaddleSeg 2.x's (``ConvBN``)."""

    # What its classifier adds: a classifier checkpoint loads into the backbone.
    unused_prefixes = ("last_cls.", "cls_head_conv_list.", "conv_last.", "fc.")

    def __init__(self, width: int = 18, out_indices: Sequence[int] | None = None,
                 fuse_upsample: str = "nearest", pad_same: bool = False) -> None:
        super().__init__(out_indices)
        if not isinstance(width, int) or width < 1:
            raise PxError(f"HRNet: width must be a positive integer, got {width!r}")
        if fuse_upsample not in FUSE_UPSAMPLING:
            raise PxError(f"HRNet: fuse_upsample must be one of {', '.join(FUSE_UPSAMPLING)}, "
                          f"got {fuse_upsample!r}")
        self.width = width
        self.fuse_upsample = fuse_upsample
        channels = branch_channels(width)
        self.conv_layer1_1 = ConvBN(3, STEM_CHANNELS, 3, stride=2, pad_same=pad_same)
        self.conv_layer1_2 = ConvBN(STEM_CHANNELS, STEM_CHANNELS, 3, stride=2, pad_same=pad_same)
        stem_out = STEM_CHANNELS * BOTTLENECK_EXPANSION
        self.layer1 = nn.Sequential(*[
            BottleneckBlock(STEM_CHANNELS if i == 0 else stem_out, STEM_CHANNELS, project=i == 0)
            for i in range(STEM_BLOCKS)])
        # Transitions: the stem splits into two branches; each later stage adds a branch,
        # a stride-2 conv from the coarsest one. PaddleClas's attribute names.
        self.conv_tr1_1 = ConvBN(stem_out, channels[0], 3)
        self.conv_tr1_2 = ConvBN(stem_out, channels[1], 3, stride=2, pad_same=pad_same)
        self.st2 = Stage(STAGE_MODULES[0], channels[:2], fuse_upsample, pad_same)
        self.conv_tr2 = ConvBN(channels[1], channels[2], 3, stride=2, pad_same=pad_same)
        self.st3 = Stage(STAGE_MODULES[1], channels[:3], fuse_upsample, pad_same)
        self.conv_tr3 = ConvBN(channels[2], channels[3], 3, stride=2, pad_same=pad_same)
        self.st4 = Stage(STAGE_MODULES[2], channels, fuse_upsample, pad_same)
        self.feature_info = [FeatureInfo(f"C{i + 2}", c, 2 ** (i + 2)) for i, c in enumerate(channels)]

    def forward_features(self, x):
        _check_input_size(x.shape)
        x = self.layer1(self.conv_layer1_2(self.conv_layer1_1(x)))
        branches = self.st2([self.conv_tr1_1(x), self.conv_tr1_2(x)])
        branches = self.st3([*branches, self.conv_tr2(branches[-1])])
        return self.st4([*branches, self.conv_tr3(branches[-1])])

    def weight_aliases(self) -> dict[str, str]:
        """Paddle 1.x variable names (the zoo's .tar archive) -> our keys, the classifier's
        included (a backbone drops those as unused)."""
        from .legacy_names import checked_aliases  # it imports this module's structure

        return checked_aliases(self)


class LastClsOut(nn.Layer):
    """One projecting bottleneck per branch, widening it for the classifier."""

    def __init__(self, channels: Sequence[int]) -> None:
        super().__init__()
        self.func_list = nn.LayerList([BottleneckBlock(c, width, project=True)
                                       for c, width in zip(channels, HEAD_WIDTHS, strict=True)])

    @static_safe
    def forward(self, branches: list) -> list:
        return [block(x) for block, x in zip(self.func_list, branches, strict=True)]


class HRNetClassifier(HRNet):
    """HRNet-W*-C for classification, PaddleClas 2.6's state dict key for key: the
    branches widened by ``last_cls``, summed from the finest down through the stride-2
    ``cls_head_conv_list``, ``conv_last`` to 2048 channels, global pooling, ``fc``."""

    # Weights for another class count leave fc freshly initialised.
    head_prefixes = ("fc.",)

    def __init__(self, num_classes: int = 1000, width: int = 18) -> None:
        super().__init__(width=width)
        self.num_classes = num_classes
        self.last_cls = LastClsOut(branch_channels(width))
        self.cls_head_conv_list = nn.LayerList([
            ConvBN(width_in * BOTTLENECK_EXPANSION, width_out, 3, stride=2)
            for width_in, width_out in zip(HEAD_WIDTHS[:-1], HEAD_DOWNSAMPLE_CHANNELS, strict=True)])
        self.conv_last = ConvBN(HEAD_DOWNSAMPLE_CHANNELS[-1], HEAD_CHANNELS, 1)
        self.avg_pool = nn.AdaptiveAvgPool2D(1)
        bound = 1.0 / math.sqrt(HEAD_CHANNELS)
        self.fc = nn.Linear(HEAD_CHANNELS, num_classes, weight_attr=paddle.ParamAttr(
            initializer=nn.initializer.Uniform(-bound, bound)))

    def forward(self, x):
        branches = self.last_cls(self.forward_features(x))
        y = branches[0]
        for index, downsample in enumerate(self.cls_head_conv_list):
            y = branches[index + 1] + downsample(y)
        y = self.avg_pool(self.conv_last(y))
        # reshape, not flatten: Paddle Lite crashed on flatten_contiguous_range
        return self.fc(paddle.reshape(y, [-1, HEAD_CHANNELS]))
