"""DarkNet-53 (Redmon and Farhadi, 2018, "YOLOv3"): a 3x3 stem, then five stages, each
entered by a stride-2 3x3 conv and made of residual blocks (1x1 conv halving the
channels, 3x3 conv restoring them). Every conv is followed by batch norm and an
activation: ReLU in the ImageNet classifier PaddleClas trained (the zoo's weights),
leaky ReLU (slope 0.1) in YOLOv3.

Tensor names are PaddleClas 2.6's (``model_zoo/darknet.py``): the stem ``_conv1``, the
first downsampling ``_conv2``, block i (1-based) of stage s (0-4) ``_basic_block_<s><i>``
with ``_conv1`` and ``_conv2``, the downsampling after stage s ``_downsample_<s>``;
each conv + batch norm is ``_conv`` / ``_bn``; the classifier adds ``_out``.
``weight_aliases`` gives the Paddle 1.x names (``yolo_input.conv.weights``,
``stage.2.7.1.bn.var``, ``fc_weights``, ...) of the zoo's .tar archives.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence

import paddle
import paddle.nn.functional as F
from paddle import nn

from pxcore.errors import PxError
from pxcore.nn.activations import leaky_relu
from pxcore.nn.backbone import Backbone, tap_levels
from pxcore.nn.features import FeatureInfo
from pxcore.nn.legacy import aliases_by_table

# depth -> residual blocks per stage
DEPTHS = {53: (1, 2, 8, 8, 4)}
STEM_CHANNELS = 32
LEAKY_SLOPE = 0.1
ACTIVATIONS = ("relu", "leaky_relu")
FIRST_LEVEL_STAGE = 1  # stage 0 works at stride 2; stages 1-4 are the levels at 4 ... 32

# The forwards below have no control flow that depends on tensor values, so they run the
# same eagerly and while a static graph is built; not_to_static spares dy2static's source
# rewrite of every block (it redoes it per layer instance).
static_safe = paddle.jit.not_to_static


class ConvBN(nn.Layer):
    """Bias-free conv, batch norm, then ReLU or leaky ReLU (PaddleClas's ConvBNLayer)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 act: str = "relu") -> None:
        super().__init__()
        self._conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                               padding=(kernel_size - 1) // 2, bias_attr=False)
        self._bn = nn.BatchNorm2D(out_channels)
        self.act = act

    @static_safe
    def forward(self, x):
        x = self._bn(self._conv(x))
        return F.relu(x) if self.act == "relu" else leaky_relu(x, LEAKY_SLOPE)


class ResidualBlock(nn.Layer):
    def __init__(self, channels: int, act: str) -> None:
        super().__init__()
        self._conv1 = ConvBN(channels, channels // 2, 1, act=act)
        self._conv2 = ConvBN(channels // 2, channels, 3, act=act)

    @static_safe
    def forward(self, x):
        return x + self._conv2(self._conv1(x))


class DarkNet(Backbone):
    """``depth`` 53 (the only one published); ``act`` "relu" (the ImageNet classifier,
    whose weights the zoo has) or "leaky_relu" (YOLOv3). Levels: the last block of
    stages 1-4, at strides 4, 8, 16 and 32 (128, 256, 512, 1024 channels); YOLOv3 takes
    the last three."""

    # What its classifier adds: a classifier checkpoint loads into the backbone.
    unused_prefixes = ("_out.",)

    def __init__(self, depth: int = 53, act: str = "relu",
                 out_indices: Sequence[int] | None = None) -> None:
        super().__init__(out_indices)
        if depth not in DEPTHS:
            raise PxError(f"DarkNet: depth {depth!r} is not one of {sorted(DEPTHS)}")
        if act not in ACTIVATIONS:
            raise PxError(f"DarkNet: act {act!r} is not one of {list(ACTIVATIONS)}")
        self.depth, self.act = depth, act
        self._chain, self._legacy = [], []  # in order: (attribute, layer), (attribute, stem)
        self._add("_conv1", ConvBN(3, STEM_CHANNELS, 3, act=act), "yolo_input")
        channels = STEM_CHANNELS * 2
        self._add("_conv2", ConvBN(STEM_CHANNELS, channels, 3, stride=2, act=act),
                  "yolo_input.downsample")
        stages = DEPTHS[depth]
        level_layers, self.feature_info = [], []
        for stage, blocks in enumerate(stages):
            for block in range(blocks):
                self._add(f"_basic_block_{stage}{block + 1}", ResidualBlock(channels, act),
                          f"stage.{stage}.{block}")
            stride = 2 ** (stage + 1)
            if stage >= FIRST_LEVEL_STAGE:
                level_layers.append(len(self._chain) - 1)
                self.feature_info.append(FeatureInfo(f"C{stage + 1}", channels, stride))
            if stage < len(stages) - 1:
                self._add(f"_downsample_{stage}", ConvBN(channels, channels * 2, 3, stride=2, act=act),
                          f"stage.{stage}.downsample")
                channels *= 2
        self._level_layers = tuple(level_layers)

    def _add(self, attribute: str, layer: nn.Layer, legacy_stem: str) -> None:
        self._chain.append(self.add_sublayer(attribute, layer))
        self._legacy.append((attribute, legacy_stem))

    def forward_features(self, x):
        return tap_levels(x, self._chain, self._level_layers)

    def _legacy_stems(self) -> Iterator[tuple[str, str, Mapping[str, str]]]:
        # Paddle 1.x: each conv + batch norm is named "<stem>.conv" / "<stem>.bn"; a
        # residual block's two are "<block>.0" and "<block>.1"; the classifier's fc "fc".
        for attribute, stem in self._legacy:
            if isinstance(getattr(self, attribute), ResidualBlock):
                yield f"{attribute}._conv1", f"{stem}.0", CONV_BN_TENSORS
                yield f"{attribute}._conv2", f"{stem}.1", CONV_BN_TENSORS
            else:
                yield attribute, stem, CONV_BN_TENSORS
        yield "_out", "fc", LINEAR_TENSORS

    def weight_aliases(self) -> dict[str, str]:
        """Paddle 1.x variable names (the zoo's .tar archives) -> our keys; the backbone
        gets the classifier's too, so that it takes a classifier archive (they land
        under ``unused_prefixes`` and are left out)."""
        return aliases_by_table(self, self._legacy_stems())


class DarkNetClassifier(DarkNet):
    """DarkNet for classification: global average pooling and a fully connected layer
    ``_out``."""

    head_prefixes = ("_out.",)

    def __init__(self, num_classes: int = 1000, depth: int = 53, act: str = "relu") -> None:
        super().__init__(depth=depth, act=act, out_indices=(-1,))
        self.num_classes = num_classes
        self.num_features = self.feature_info[-1].channels
        self._pool = nn.AdaptiveAvgPool2D(1)
        bound = 1.0 / math.sqrt(self.num_features)
        self._out = nn.Linear(self.num_features, num_classes, weight_attr=paddle.ParamAttr(
            initializer=nn.initializer.Uniform(-bound, bound)))

    def forward(self, x):
        x = self._pool(self.forward_features(x)[-1])
        # reshape, not flatten: Paddle Lite crashes on flatten_contiguous_range
        return self._out(paddle.reshape(x, [-1, self.num_features]))


# Paddle 1.x names: a conv's weight "<stem>.conv.weights"; its batch norm's
# "<stem>.bn.scale", ".bn.offset", ".bn.mean", ".bn.var"; the fc's "fc_weights" and
# "fc_offset". Keyed by the tensor's path in the layer.
CONV_BN_TENSORS = {"_conv.weight": ".conv.weights", "_bn.weight": ".bn.scale",
                   "_bn.bias": ".bn.offset", "_bn._mean": ".bn.mean", "_bn._variance": ".bn.var"}
LINEAR_TENSORS = {"weight": "_weights", "bias": "_offset"}
