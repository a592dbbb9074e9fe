"""MobileNetV1 (Howard et al., 2017): a stem convolution and thirteen depthwise-separable
blocks. Tensor names are PaddleClas 2.6's (legendary_models/mobilenet_v1.py)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import paddle
from paddle import nn

from pxcore.nn.backbone import Backbone, tap_levels

from ._layers import Chain, conv_bn_act, feature_levels, legacy_aliases

# (output channels, stride) of each depthwise-separable block at width 1.0.
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
          (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))
STEM_CHANNELS = 32


def depthwise_separable(in_channels: int, out_channels: int, stride: int) -> Chain:
    return Chain(
        ("depthwise_conv", conv_bn_act(in_channels, in_channels, 3, stride, groups=in_channels)),
        ("pointwise_conv", conv_bn_act(in_channels, out_channels, 1)))


class MobileNetV1(Backbone):
    """``scale`` multiplies every width (PaddleClas's x0_25 ... x1_0). Levels: the last
    block at strides 4, 8, 16 and 32, or the blocks (0-12) that ``level_blocks`` names:
    PaddleDetection's YOLOv3 taps (3, 5, 12), the first block at strides 8 and 16
    (conv3_2, conv4_2) and the last at 32 (conv6)."""

    # What its classifier adds: a classifier checkpoint loads into the backbone.
    unused_prefixes = ("fc.",)

    def __init__(self, scale: float = 1.0, out_indices: Sequence[int] | None = None,
                 level_blocks: Sequence[int] | None = None) -> None:
        super().__init__(out_indices)
        self.scale = scale
        widths = [int(STEM_CHANNELS * scale)] + [int(c * scale) for c, _ in BLOCKS]
        self.conv = conv_bn_act(3, widths[0], 3, stride=2)
        self.blocks = nn.Sequential(*[
            depthwise_separable(widths[i], widths[i + 1], stride)
            for i, (_, stride) in enumerate(BLOCKS)])
        self._level_blocks, self.feature_info = feature_levels(
            [s for _, s in BLOCKS], widths[1:], blocks=level_blocks)

    def forward_features(self, x):
        return tap_levels(self.conv(x), self.blocks, self._level_blocks)

    def _legacy_stems(self) -> Iterator[tuple[str, str]]:
        # Paddle 1.x numbered the blocks by stage, a stage ending at its stride-2 block:
        # conv2_1, conv2_2, conv3_1, ..., conv5_6; a stage of one block is plain conv6.
        yield "conv", "conv1"
        stages, current = [], []
        for index, (_, stride) in enumerate(BLOCKS):
            current.append(index)
            if stride == 2:
                stages.append(current)
                current = []
        stages += [current] if current else []
        for number, blocks in enumerate(stages, start=2):
            for position, index in enumerate(blocks, start=1):
                name = f"conv{number}_{position}" if len(blocks) > 1 else f"conv{number}"
                yield f"blocks.{index}.depthwise_conv", name + "_dw"
                yield f"blocks.{index}.pointwise_conv", name + "_sep"

    def weight_aliases(self) -> dict[str, str]:
        """Paddle 1.x variable names (the zoo's .tar archives) -> our keys. A bare backbone
        also names its classifier's head, which a classifier's archive carries: those
        tensors then fall under unused_prefixes and are left out."""
        aliases = legacy_aliases(self, self._legacy_stems())
        if type(self) is MobileNetV1:
            aliases.update(MobileNetV1Classifier(num_classes=1, scale=self.scale).weight_aliases())
        return aliases


class MobileNetV1Classifier(MobileNetV1):
    """MobileNetV1 for ImageNet-style classification: global average pooling and one
    fully connected layer, with PaddleClas's tensor names."""

    head_prefixes = ("fc.",)

    def __init__(self, num_classes: int = 1000, scale: float = 1.0) -> None:
        super().__init__(scale=scale)
        self.num_classes = num_classes
        self.num_features = self.feature_info[-1].channels
        self.avg_pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(self.num_features, num_classes)

    def forward(self, x):
        x = self.avg_pool(self.forward_features(x)[-1])
        # reshape, not flatten: Paddle Lite crashed on flatten (seen in MobileNetV3_small)
        return self.fc(paddle.reshape(x, [-1, self.num_features]))

    def _legacy_stems(self) -> Iterator[tuple[str, str]]:
        yield from super()._legacy_stems()
        yield "fc", "fc7"
