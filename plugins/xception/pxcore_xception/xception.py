"""Xception as DeepLab modified it (Chen et al., 2018, "Encoder-Decoder with Atrous
Separable Convolution"), as one configurable family: ``depth`` 41, 65 or 71.

Two 3x3 convs (the first at stride 2), then the entry flow, the middle flow of 728-channel
blocks and the exit flow. A block is three separable convs (3x3 depthwise, BatchNorm,
1x1 pointwise, BatchNorm), each after a ReLU; the last one carries the block's stride,
and a projection shortcut (1x1 conv, BatchNorm) or the identity is added. The last exit
block has no shortcut, runs its separable convs at dilation 2 with a ReLU after each
BatchNorm instead, and widens to 2048 channels. BatchNorm uses epsilon 1e-3 and
momentum 0.99, as the TensorFlow original did.

``output_stride`` (32, 16 or 8) is DeepLab's: once the running stride would pass it, a
block's stride becomes 1, exactly as in the Paddle 1.x code the DeepLab weights were
trained with (PaddleClas release/static ``xception_deeplab.py``, PaddleX 1.x
``paddlex/cv/nets/xception.py``): no dilation is added beyond the last exit block's 2.
The classifiers run at 32.

Module names are those of PaddleClas 2.6's ``model_zoo/xception_deeplab.py``: the stem
is ``_conv1``/``_conv2``, the entry and middle blocks are registered under their Paddle
1.x scopes (``xception_65/entry_flow/block1``, ``xception_65/middle_flow/block16``),
the exit blocks are ``_exit_flow_1``/``_exit_flow_2``, the classifier ``_fc``. So its
``.pdparams`` load without renaming; ``weight_aliases()`` gives the Paddle 1.x names.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import paddle
import paddle.nn.functional as F
from paddle import nn

from pxcore.errors import PxError
from pxcore.nn.backbone import Backbone
from pxcore.nn.features import FeatureInfo

# depth -> (entry flow blocks as (channels, stride), number of middle flow blocks)
ARCHITECTURES = {
    41: (((128, 2), (256, 2), (728, 2)), 8),
    65: (((128, 2), (256, 2), (728, 2)), 16),
    71: (((128, 2), (256, 1), (256, 2), (728, 1), (728, 2)), 16),
}
STEM = ((32, 2), (64, 1))  # (channels, stride) of the two stem convs
MIDDLE_CHANNELS = 728
# The two exit blocks: the channels of their separable convs, stride, dilation.
EXIT_FLOW = (((728, 1024, 1024), 2, 1), ((1536, 1536, 2048), 1, 2))
OUTPUT_STRIDES = (8, 16, 32)
BN_EPSILON, BN_MOMENTUM = 1e-3, 0.99
# The feature levels start at this stride (the stem's stride-2 map is not one).
MIN_LEVEL_STRIDE = 4

# These forwards have no control flow that depends on tensor values: they run the same
# eagerly and while a static graph is traced, so dy2static need not rewrite their source
# once per layer instance.
static_safe = paddle.jit.not_to_static


def batch_norm(channels: int) -> nn.BatchNorm2D:
    return nn.BatchNorm2D(channels, momentum=BN_MOMENTUM, epsilon=BN_EPSILON)


class ConvBN(nn.Layer):
    """Conv without bias and BatchNorm, optionally followed by a ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 relu: bool = False) -> None:
        super().__init__()
        self.relu = relu
        self._conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                               padding=(kernel_size - 1) // 2, bias_attr=False)
        self._bn = batch_norm(out_channels)

    @static_safe
    def forward(self, x):
        x = self._bn(self._conv(x))
        return F.relu(x) if self.relu else x


class SeparableConv(nn.Layer):
    """3x3 depthwise conv (carrying stride and dilation), BatchNorm, 1x1 pointwise conv,
    BatchNorm; with ``relu`` a ReLU after each BatchNorm."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, dilation: int,
                 relu: bool) -> None:
        super().__init__()
        self.relu = relu
        self._conv1 = nn.Conv2D(in_channels, in_channels, 3, stride=stride, padding=dilation,
                                dilation=dilation, groups=in_channels, bias_attr=False)
        self._bn1 = batch_norm(in_channels)
        self._conv2 = nn.Conv2D(in_channels, out_channels, 1, bias_attr=False)
        self._bn2 = batch_norm(out_channels)

    @static_safe
    def forward(self, x):
        x = self._bn1(self._conv1(x))
        if self.relu:
            x = F.relu(x)
        x = self._bn2(self._conv2(x))
        return F.relu(x) if self.relu else x


class XceptionBlock(nn.Layer):
    """Three separable convs, the third with the block's stride, plus a ``shortcut``:
    "conv" (1x1 projection), "identity", or None. ``relu_inside`` puts the ReLUs after
    the BatchNorms instead of before each separable conv.

    ``forward`` returns the block's output and its second separable conv's output, the
    last map before the block's stride (DeepLab's decoder takes it from entry block 2)."""

    def __init__(self, in_channels: int, channels: Sequence[int], stride: int, dilation: int = 1,
                 shortcut: str | None = "conv", relu_inside: bool = False) -> None:
        super().__init__()
        if shortcut not in ("conv", "identity", None):
            raise PxError(f"XceptionBlock: shortcut {shortcut!r} is not 'conv', 'identity' or None")
        self.shortcut = shortcut
        self.relu_inside = relu_inside
        widths = [in_channels, *channels]
        strides = (1, 1, stride)
        for index in range(3):
            self.add_sublayer(f"_conv{index + 1}", SeparableConv(
                widths[index], widths[index + 1], strides[index], dilation, relu_inside))
        if shortcut == "conv":
            self._short = ConvBN(in_channels, channels[-1], 1, stride=stride)

    @static_safe
    def forward(self, x):
        if self.relu_inside:
            inner = self._conv2(self._conv1(x))
            out = self._conv3(inner)
        else:
            inner = self._conv2(F.relu(self._conv1(F.relu(x))))
            out = self._conv3(F.relu(inner))
        if self.shortcut == "conv":
            out = out + self._short(x)
        elif self.shortcut == "identity":
            out = out + x
        return out, inner


def _taps(units: Sequence[tuple[int, int, int, int]]) -> tuple[dict, list[FeatureInfo]]:
    """The feature levels: for each stride from MIN_LEVEL_STRIDE on, the deepest map at
    that stride. ``units`` are, per block in order, (stride before it, stride after it,
    its inner map's channels, its output's channels). Returns {block index: which maps
    ("inner", "out") to take} and a FeatureInfo per level, named C<log2 stride>."""
    last: dict[int, tuple[int, str, int]] = {}
    for index, (stride_in, stride_out, inner_channels, out_channels) in enumerate(units):
        last[stride_in] = (index, "inner", inner_channels)
        last[stride_out] = (index, "out", out_channels)
    picked = sorted((s, tap) for s, tap in last.items() if s >= MIN_LEVEL_STRIDE)
    taps: dict[int, list[str]] = {}
    for _, (index, kind, _) in picked:
        taps.setdefault(index, []).append(kind)
    infos = [FeatureInfo(f"C{s.bit_length() - 1}", channels, s) for s, (_, _, channels) in picked]
    return taps, infos


class Xception(Backbone):
    """An Xception (DeepLab variant) backbone of ``depth`` 41, 65 or 71 at
    ``output_stride`` 32, 16 or 8. It reports the deepest map at each stride from 4 on:
    at output stride 32 (depth 41/65) entry block 2's second separable conv (256 channels,
    stride 4, the low-level feature of DeepLabv3+'s decoder), entry block 3's (728, 8),
    exit block 1's (1024, 16) and the output (2048, 32). At output stride 16 the levels
    are strides 4, 8 and 16, the last being the output."""

    # What its classifier adds: the backbone loads a classifier checkpoint without it.
    unused_prefixes = ("_fc.",)

    def __init__(self, depth: int = 65, output_stride: int = 32,
                 out_indices: Sequence[int] | None = None) -> None:
        super().__init__(out_indices)
        if depth not in ARCHITECTURES:
            raise PxError(f"Xception: depth {depth!r} is not one of {sorted(ARCHITECTURES)}")
        if output_stride not in OUTPUT_STRIDES:
            raise PxError(f"Xception: output_stride {output_stride!r} is not one of {OUTPUT_STRIDES}")
        self.depth = depth
        self.output_stride = output_stride
        self.scope = f"xception_{depth}"  # the Paddle 1.x name scope of everything
        entry_flow, middle_blocks = ARCHITECTURES[depth]

        (stem1, stride1), (stem2, stride2) = STEM
        self._conv1 = ConvBN(3, stem1, 3, stride=stride1, relu=True)
        self._conv2 = ConvBN(stem1, stem2, 3, stride=stride2, relu=True)
        stride, channels = stride1 * stride2, stem2

        # (attribute, Paddle 1.x scope, separable conv widths, stride, options) per block
        plan = []
        for index, (width, block_stride) in enumerate(entry_flow):
            scope = f"{self.scope}/entry_flow/block{index + 1}"
            plan.append((scope, scope, (width,) * 3, block_stride, {}))
        for index in range(middle_blocks):
            scope = f"{self.scope}/middle_flow/block{index + 1}"
            plan.append((scope, scope, (MIDDLE_CHANNELS,) * 3, 1, {"shortcut": "identity"}))
        (widths1, stride_1, dilation1), (widths2, stride_2, dilation2) = EXIT_FLOW
        plan.append(("_exit_flow_1", f"{self.scope}/exit_flow/block1", widths1, stride_1,
                     {"dilation": dilation1}))
        plan.append(("_exit_flow_2", f"{self.scope}/exit_flow/block2", widths2, stride_2,
                     {"dilation": dilation2, "shortcut": None, "relu_inside": True}))

        self._blocks: list[tuple[str, XceptionBlock]] = []  # (Paddle 1.x scope, block)
        units = []
        for attribute, legacy_scope, widths, block_stride, options in plan:
            # Past the output stride a block keeps the resolution (DeepLab's rule).
            block_stride = block_stride if stride * block_stride <= output_stride else 1
            block = XceptionBlock(channels, widths, block_stride, **options)
            self.add_sublayer(attribute, block)
            self._blocks.append((legacy_scope, block))
            units.append((stride, stride * block_stride, widths[1], widths[2]))
            stride, channels = stride * block_stride, widths[-1]
        self._taps, self.feature_info = _taps(units)

    @static_safe
    def forward_features(self, x):
        x = self._conv2(self._conv1(x))
        levels = []
        for index, (_, block) in enumerate(self._blocks):
            x, inner = block(x)
            for kind in self._taps.get(index, ()):
                levels.append(inner if kind == "inner" else x)
        return levels

    def _legacy_stems(self) -> Iterator[tuple[str, str]]:
        """(path of a conv or BatchNorm, its Paddle 1.x name scope): the stem convs are
        ``<scope>/entry_flow/conv1`` and ``conv2``; in a block, the separable convs are
        ``<block scope>/separable_conv<k>/depthwise`` and ``/pointwise``, the projection
        ``<block scope>/shortcut``."""
        for index in (1, 2):
            for part in ("_conv", "_bn"):
                yield f"_conv{index}.{part}", f"{self.scope}/entry_flow/conv{index}"
        paths = {id(layer): path for path, layer in self.named_children()}
        for legacy_scope, block in self._blocks:
            path = paths[id(block)]
            for k in (1, 2, 3):
                separable = f"{legacy_scope}/separable_conv{k}"
                yield f"{path}._conv{k}._conv1", f"{separable}/depthwise"
                yield f"{path}._conv{k}._bn1", f"{separable}/depthwise"
                yield f"{path}._conv{k}._conv2", f"{separable}/pointwise"
                yield f"{path}._conv{k}._bn2", f"{separable}/pointwise"
            if block.shortcut == "conv":
                yield f"{path}._short._conv", f"{legacy_scope}/shortcut"
                yield f"{path}._short._bn", f"{legacy_scope}/shortcut"

    def weight_aliases(self) -> dict[str, str]:
        """``{Paddle 1.x variable name: our key}``: the zoo's archives (PaddleClas's static
        code: the classifier is ``fc_weights``/``fc_bias``) and PaddleX 1.x's classifiers,
        whose fc is ``weights``/``bias``; a backbone leaves the fc out as unused."""
        layers = dict(self.named_sublayers())
        pairs = [(f"{legacy_scope}/{_SUFFIXES[type(layers[path])][leaf]}", f"{path}.{leaf}")
                 for path, legacy_scope in self._legacy_stems()
                 for leaf in layers[path].state_dict(include_sublayers=False)]
        aliases = dict(pairs)
        if len(aliases) != len(pairs) or len(set(aliases.values())) != len(pairs):
            raise ValueError(f"{type(self).__name__}: the legacy name rules give a name or a tensor twice")
        unnamed = set(self.state_dict()) - set(aliases.values()) - set(FC_ALIASES.values())
        if unnamed:  # a layer added without a naming rule
            raise ValueError(f"{type(self).__name__}: no legacy name rule covers {sorted(unnamed)[:5]}")
        aliases.update(FC_ALIASES)
        aliases.update(PADDLEX_FC_ALIASES)
        return aliases


# Paddle 1.x tensor names within a conv's or BatchNorm's scope.
_SUFFIXES = {
    nn.Conv2D: {"weight": "weights"},
    nn.BatchNorm2D: {"weight": "BatchNorm/gamma", "bias": "BatchNorm/beta",
                     "_mean": "BatchNorm/moving_mean", "_variance": "BatchNorm/moving_variance"},
}
FC_ALIASES = {"fc_weights": "_fc.weight", "fc_bias": "_fc.bias"}
PADDLEX_FC_ALIASES = {"weights": "_fc.weight", "bias": "_fc.bias"}


class XceptionClassifier(Xception):
    """The ImageNet classifier at output stride 32: the backbone, dropout (0.5, scaled at
    inference as PaddleClas does), global average pooling and ``_fc``. Its state dict
    is PaddleClas 2.6's Xception*_deeplab's, key for key."""

    # Weights for another class count leave ``_fc`` freshly initialised.
    head_prefixes = ("_fc.",)

    def __init__(self, depth: int = 65, num_classes: int = 1000) -> None:
        super().__init__(depth, output_stride=32, out_indices=(-1,))
        self.num_classes = num_classes
        self._pooled_channels = self.feature_info[-1].channels
        # downscale_in_infer: training drops without rescaling; inference multiplies by 0.5.
        self._drop = nn.Dropout(p=0.5, mode="downscale_in_infer")
        self._pool = nn.AdaptiveAvgPool2D(1)
        self._fc = nn.Linear(self._pooled_channels, num_classes)

    def forward(self, x):
        x = self._pool(self._drop(self.forward_features(x)[-1]))
        # reshape, not squeeze/flatten: Paddle Lite's optimizer crashes on flatten.
        return self._fc(paddle.reshape(x, [-1, self._pooled_channels]))
