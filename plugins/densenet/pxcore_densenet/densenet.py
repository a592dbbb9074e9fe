"""DenseNet (Huang et al., 2017, "Densely Connected Convolutional Networks") as one
configurable family: ``depth`` 121, 161, 169, 201 or 264.

A 7x7 stride-2 stem and a 3x3 max pool, then four dense blocks. Each dense layer is
pre-activated (BatchNorm, ReLU, 1x1 conv to ``4 * growth`` channels, BatchNorm, ReLU,
3x3 conv to ``growth`` channels) and its output is concatenated to its input, so a block
of ``n`` layers adds ``n * growth`` channels. Between blocks a transition (BatchNorm,
ReLU, 1x1 conv halving the channels, 2x2 average pool) halves the resolution; after the
last block a BatchNorm and ReLU.

Module names are those of PaddleClas 2.6's ``model_zoo/densenet.py`` (``conv1_func``,
``db_conv_2.conv2_1.bn_ac_func1``, ``tr_conv2_blk.conv_ac_func``, ``batch_norm``,
``out``), so its ``.pdparams`` load without renaming; the Paddle 1.x names of the zoo's
``.tar`` archives come from ``weight_aliases()``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import paddle
import paddle.nn.functional as F
from paddle import nn

from pxcore.errors import PxError
from pxcore.nn.backbone import Backbone
from pxcore.nn.features import FeatureInfo
from pxcore.nn.legacy import aliases_by_layer, check_coverage

# depth -> (stem channels, growth rate, dense layers per block)
ARCHITECTURES = {
    121: (64, 32, (6, 12, 24, 16)),
    161: (96, 48, (6, 12, 36, 24)),
    169: (64, 32, (6, 12, 32, 32)),
    201: (64, 32, (6, 12, 48, 32)),
    264: (64, 32, (6, 12, 64, 48)),
}
# A dense layer's 1x1 conv widens to this many times the growth rate.
BOTTLENECK_WIDTH = 4
# Paddle 1.x numbered the blocks from 2 (conv1 is the stem): conv2_1 ... conv5_16.
FIRST_BLOCK_NUMBER = 2

# These forwards have no control flow that depends on tensor values: they run the same
# eagerly and while a static graph is traced, so dy2static need not rewrite their source
# (it would, once per layer instance: hundreds of times in a DenseNet).
static_safe = paddle.jit.not_to_static


class ConvBNReLU(nn.Layer):
    """The stem: conv without bias, BatchNorm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self._conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                               padding=(kernel_size - 1) // 2, bias_attr=False)
        self._batch_norm = nn.BatchNorm2D(out_channels)

    @static_safe
    def forward(self, x):
        return F.relu(self._batch_norm(self._conv(x)))


class BNReLUConv(nn.Layer):
    """Pre-activation: BatchNorm, ReLU, then a conv without bias."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self._batch_norm = nn.BatchNorm2D(in_channels)
        self._conv = nn.Conv2D(in_channels, out_channels, kernel_size,
                               padding=(kernel_size - 1) // 2, bias_attr=False)

    @static_safe
    def forward(self, x):
        return self._conv(F.relu(self._batch_norm(x)))


class DenseLayer(nn.Layer):
    def __init__(self, in_channels: int, growth_rate: int) -> None:
        super().__init__()
        self.bn_ac_func1 = BNReLUConv(in_channels, BOTTLENECK_WIDTH * growth_rate, 1)
        self.bn_ac_func2 = BNReLUConv(BOTTLENECK_WIDTH * growth_rate, growth_rate, 3)

    @static_safe
    def forward(self, x):
        return paddle.concat([x, self.bn_ac_func2(self.bn_ac_func1(x))], axis=1)


class DenseBlock(nn.Layer):
    """``num_layers`` dense layers, registered as ``conv<number>_1``, ``conv<number>_2``..."""

    def __init__(self, number: int, in_channels: int, num_layers: int, growth_rate: int) -> None:
        super().__init__()
        self.out_channels = in_channels + num_layers * growth_rate
        self._dense_layers = [
            self.add_sublayer(f"conv{number}_{index + 1}",
                              DenseLayer(in_channels + index * growth_rate, growth_rate))
            for index in range(num_layers)]

    @static_safe
    def forward(self, x):
        for layer in self._dense_layers:
            x = layer(x)
        return x


class Transition(nn.Layer):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv_ac_func = BNReLUConv(in_channels, out_channels, 1)
        self.pool2d_avg = nn.AvgPool2D(2, stride=2)

    @static_safe
    def forward(self, x):
        return self.pool2d_avg(self.conv_ac_func(x))


class DenseNet(Backbone):
    """A DenseNet backbone of ``depth`` (121, 161, 169, 201, 264). It reports the output
    of each dense block (``C2``..``C5``, strides 4, 8, 16, 32); the last one after the
    final BatchNorm and ReLU, as the classifier pools it."""

    # What its classifier adds: the backbone loads a classifier checkpoint without it.
    unused_prefixes = ("out.",)

    def __init__(self, depth: int = 121, out_indices: Sequence[int] | None = None) -> None:
        super().__init__(out_indices)
        if depth not in ARCHITECTURES:
            raise PxError(f"DenseNet: depth {depth!r} is not one of {sorted(ARCHITECTURES)}")
        self.depth = depth
        stem_channels, growth_rate, block_sizes = ARCHITECTURES[depth]

        self.conv1_func = ConvBNReLU(3, stem_channels, 7, stride=2)
        self.pool2d_max = nn.MaxPool2D(3, stride=2, padding=1)
        self._blocks, self._transitions, self.feature_info = [], [], []
        channels, stride = stem_channels, 4  # the stem conv and max pool halve twice
        for index, num_layers in enumerate(block_sizes):
            number = FIRST_BLOCK_NUMBER + index
            block = DenseBlock(number, channels, num_layers, growth_rate)
            self._blocks.append(self.add_sublayer(f"db_conv_{number}", block))
            channels = block.out_channels
            self.feature_info.append(FeatureInfo(f"C{index + 2}", channels, stride))
            if index < len(block_sizes) - 1:
                transition = Transition(channels, channels // 2)
                self._transitions.append(self.add_sublayer(f"tr_conv{number}_blk", transition))
                channels, stride = channels // 2, stride * 2
        self.batch_norm = nn.BatchNorm2D(channels)

    @static_safe
    def forward_features(self, x):
        x = self.pool2d_max(self.conv1_func(x))
        levels = []
        for block, transition in zip(self._blocks[:-1], self._transitions, strict=True):
            x = block(x)
            levels.append(x)
            x = transition(x)
        levels.append(F.relu(self.batch_norm(self._blocks[-1](x))))
        return levels

    def _legacy_stems(self) -> Iterator[tuple[str, str]]:
        """(sublayer path, Paddle 1.x name stem) of every conv/BatchNorm pair and the final
        BatchNorm: the stem ``conv1``; dense layer ``j`` of block ``b`` ``conv<b>_<j>_x1``
        and ``_x2``; the transition after block ``b`` ``conv<b>_blk``; the final BatchNorm
        ``conv<last block>_blk`` (conv5_blk), named as if a transition followed."""
        yield "conv1_func", "conv1"
        for path, layer in self.named_children():
            if isinstance(layer, DenseBlock):
                for name, _ in layer.named_children():
                    yield f"{path}.{name}.bn_ac_func1", f"{name}_x1"
                    yield f"{path}.{name}.bn_ac_func2", f"{name}_x2"
            elif isinstance(layer, Transition):
                yield f"{path}.conv_ac_func", path.removeprefix("tr_")
        yield "batch_norm", f"conv{FIRST_BLOCK_NUMBER + len(self._blocks) - 1}_blk"

    def weight_aliases(self) -> dict[str, str]:
        """``{Paddle 1.x variable name: our key}`` for the zoo's legacy archives (the
        classifier's ``out`` included, which a backbone leaves out as unused)."""
        return check_coverage(self, {**aliases_by_layer(self, self._legacy_stems()),
                                     "fc_weights": "out.weight", "fc_offset": "out.bias"})


class DenseNetClassifier(DenseNet):
    """The ImageNet classifier: the backbone, global average pooling and the fully
    connected ``out``. Its state dict is PaddleClas 2.6's DenseNet's, key for key."""

    # Weights for another class count leave ``out`` freshly initialised.
    head_prefixes = ("out.",)

    def __init__(self, depth: int = 121, num_classes: int = 1000) -> None:
        super().__init__(depth, out_indices=(-1,))
        self.num_classes = num_classes
        self._pooled_channels = self.feature_info[-1].channels
        self.pool2d_avg = nn.AdaptiveAvgPool2D(1)
        bound = 1.0 / math.sqrt(self._pooled_channels)
        self.out = nn.Linear(self._pooled_channels, num_classes, weight_attr=paddle.ParamAttr(
            initializer=nn.initializer.Uniform(-bound, bound)))

    def forward(self, x):
        x = self.pool2d_avg(self.forward_features(x)[-1])
        # reshape, not flatten: Paddle Lite's optimizer crashes on flatten_contiguous_range.
        return self.out(paddle.reshape(x, [-1, self._pooled_channels]))
