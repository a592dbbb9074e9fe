"""MobileNetV2 (Sandler et al., 2018): inverted residual blocks with linear bottlenecks,
grouped in seven stages. Tensor names are PaddleClas 2.6's (model_zoo/mobilenet_v2.py),
whose stages are sublayers ``conv2`` ... ``conv8``: a stage's first block is
``_first_block`` and block j > 1 is ``conv<stage>_<j>``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import paddle
from paddle import nn

from pxcore.errors import PxError
from pxcore.nn.backbone import Backbone, tap_levels

from ._layers import (
    Chain,
    conv_bn_act,
    expand_levels,
    feature_levels,
    legacy_aliases,
    static_safe,
)

# (expansion, output channels, blocks, stride of the first block) per stage at width 1.0.
STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
          (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
STEM_CHANNELS = 32
LAST_CHANNELS = 1280
FIRST_STAGE = 2  # the stem is conv1; stages are conv2 ... conv8, the last conv is conv9


def conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
            groups: int = 1, act: bool = True) -> Chain:
    """Conv, batch norm, optional ReLU6, with PaddleClas's MobileNetV2 sublayer names."""
    return conv_bn_act(in_channels, out_channels, kernel_size, stride, groups,
                       act="relu6" if act else None, names=("_conv", "_batch_norm", "_act"))


class InvertedResidual(nn.Layer):
    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = int(round(in_channels * expansion))
        self.hidden_channels = hidden
        self._expand_conv = conv_bn(in_channels, hidden, 1)
        self._bottleneck_conv = conv_bn(hidden, hidden, 3, stride, groups=hidden)
        self._linear_conv = conv_bn(hidden, out_channels, 1, act=False)
        self.residual = stride == 1 and in_channels == out_channels

    @static_safe
    def forward(self, x):
        return self.forward_with_hidden(x)[0]

    @static_safe
    def forward_with_hidden(self, x):
        """The block's output and its depthwise conv's (expanded, after ReLU6)."""
        hidden = self._bottleneck_conv(self._expand_conv(x))
        y = self._linear_conv(hidden)
        return (x + y if self.residual else y), hidden


class InvertedResidualStage(nn.Layer):
    def __init__(self, number: int, in_channels: int, out_channels: int, blocks: int,
                 stride: int, expansion: int) -> None:
        super().__init__()
        self._first_block = InvertedResidual(in_channels, out_channels, stride, expansion)
        self._later_blocks = [
            self.add_sublayer(f"conv{number}_{j}",
                              InvertedResidual(out_channels, out_channels, 1, expansion))
            for j in range(2, blocks + 1)]
        # what forward_with_hidden gives: the last block's expanded depthwise output
        self.hidden_channels = (self._later_blocks or [self._first_block])[-1].hidden_channels

    @static_safe
    def forward(self, x):
        return self.forward_with_hidden(x)[0]

    @static_safe
    def forward_with_hidden(self, x):
        """The stage's output and its last block's depthwise output."""
        x, hidden = self._first_block.forward_with_hidden(x)
        for block in self._later_blocks:
            x, hidden = block.forward_with_hidden(x)
        return x, hidden


def stage_strides(output_stride: int | None = None) -> list[int]:
    """The first-block stride of each stage. With DeepLab's ``output_stride`` (PaddleX 1.x
    ``paddlex/cv/nets/mobilenet_v2.py``, ``modify_bottle_params``) a stage whose running
    stride would pass it keeps the resolution instead; no dilation is added."""
    strides, running = [], 2  # the stem's stride
    for _, _, _, stride in STAGES:
        running *= stride
        strides.append(1 if output_stride is not None and running > output_stride else stride)
    return strides


class MobileNetV2(Backbone):
    """``scale`` multiplies every width (PaddleClas's x0_25 ... x2_0). Levels: the last
    stage at strides 4, 8, 16 and 32. ``output_stride`` (DeepLab's, e.g. 16) caps the
    stride: later stages keep the resolution, and the levels stop at it.

    ``expanded_strides`` (e.g. ``(4,)``): at those strides the level is instead the
    expanded depthwise output (after ReLU6) of the stage's last block, ``C2_expanded``
    (144 channels at stride 4, width 1.0): the low-level map PaddleX 1.x's DeepLabv3+
    decodes from, its "decode point" 4. The parameters are the same either way."""

    # What its classifier adds: a classifier checkpoint loads into the backbone.
    unused_prefixes = ("conv9.", "out.")

    def __init__(self, scale: float = 1.0, out_indices: Sequence[int] | None = None,
                 output_stride: int | None = None, expanded_strides: Sequence[int] = ()) -> None:
        super().__init__(out_indices)
        if output_stride is not None and output_stride not in (4, 8, 16, 32):
            raise PxError(f"MobileNetV2: output_stride {output_stride!r} is not 4, 8, 16 or 32")
        self.scale = scale
        self.output_stride = output_stride
        strides = stage_strides(output_stride)
        in_channels = int(STEM_CHANNELS * scale)
        self.conv1 = conv_bn(3, in_channels, 3, stride=2)
        self._stages = []
        for number, (expansion, channels, blocks, _), stride in zip(
                range(FIRST_STAGE, FIRST_STAGE + len(STAGES)), STAGES, strides, strict=True):
            out_channels = int(channels * scale)
            stage = InvertedResidualStage(number, in_channels, out_channels, blocks, stride, expansion)
            self._stages.append(self.add_sublayer(f"conv{number}", stage))
            in_channels = out_channels
        self._level_stages, levels = feature_levels(strides, [int(s[1] * scale) for s in STAGES])
        self._expanded_stages, self.feature_info = expand_levels(
            type(self).__name__, levels, self._level_stages, expanded_strides,
            [stage.hidden_channels for stage in self._stages])

    @static_safe
    def forward_features(self, x):
        return tap_levels(self.conv1(x), self._stages, self._level_stages, self._expanded_stages)

    def forward_with_hidden(self, x, stage: int):
        """The last stage's output and the depthwise output (expanded channels, after
        ReLU6) of the last block of stage ``stage`` (0-based: 1 is ``conv3``, stride 4,
        DeepLabv3+'s low-level feature in PaddleX 1.x, its "decode point" 4)."""
        x = self.conv1(x)
        hidden = None
        for index, block in enumerate(self._stages):
            if index == stage:
                x, hidden = block.forward_with_hidden(x)
            else:
                x = block(x)
        return x, hidden

    def _legacy_stems(self) -> Iterator[tuple[str, str]]:
        # Paddle 1.x: conv1_1 for the stem, conv<stage>_<j>_{expand,dwise,linear}.
        yield "conv1", "conv1_1"
        for number, (_, _, blocks, _) in enumerate(STAGES, start=FIRST_STAGE):
            for j in range(1, blocks + 1):
                path = f"conv{number}." + ("_first_block" if j == 1 else f"conv{number}_{j}")
                stem = f"conv{number}_{j}"
                yield f"{path}._expand_conv", stem + "_expand"
                yield f"{path}._bottleneck_conv", stem + "_dwise"
                yield f"{path}._linear_conv", stem + "_linear"

    def weight_aliases(self) -> dict[str, str]:
        """Paddle 1.x variable names (the zoo's .tar archives) -> our keys. A bare backbone
        also names its classifier's head, which a classifier's archive carries: those
        tensors then fall under unused_prefixes and are left out."""
        aliases = legacy_aliases(self, self._legacy_stems())
        if type(self) is MobileNetV2:
            aliases.update(MobileNetV2Classifier(num_classes=1, scale=self.scale).weight_aliases())
        return aliases


class MobileNetV2Classifier(MobileNetV2):
    """MobileNetV2 for classification: a 1x1 conv to 1280 channels (wider only for
    scale > 1), global average pooling, and a fully connected layer ``out``."""

    head_prefixes = ("out.",)

    def __init__(self, num_classes: int = 1000, scale: float = 1.0) -> None:
        super().__init__(scale=scale)
        self.num_classes = num_classes
        self.num_features = int(LAST_CHANNELS * scale) if scale > 1.0 else LAST_CHANNELS
        self.conv9 = conv_bn(self.feature_info[-1].channels, self.num_features, 1)
        self.pool2d_avg = nn.AdaptiveAvgPool2D(1)
        self.out = nn.Linear(self.num_features, num_classes)

    def forward(self, x):
        x = self.pool2d_avg(self.conv9(self.forward_features(x)[-1]))
        # reshape, not flatten: Paddle Lite crashed on flatten (seen in MobileNetV3_small)
        return self.out(paddle.reshape(x, [-1, self.num_features]))

    def _legacy_stems(self) -> Iterator[tuple[str, str]]:
        yield from super()._legacy_stems()
        yield "conv9", "conv9"
        yield "out", "fc10"
