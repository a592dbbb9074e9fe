"""MobileNetV3 (Howard et al., 2019), large and small: inverted residual blocks with
optional squeeze-and-excitation and hard-swish. Tensor names are PaddleClas 2.6's
(legendary_models/mobilenet_v3.py); weight_aliases gives the Paddle 1.x names of the
zoo's .tar archives. The architecture is that of the fluid and 2.0 dygraph models the
zoo's weights were trained with: SE blocks, and a last 1x1 conv without bias."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import paddle
import paddle.nn.functional as F
from paddle import nn

from pxcore.errors import PxError
from pxcore.nn.backbone import Backbone, tap_levels

from ._layers import (
    ACTIVATIONS,
    conv_bn_act,
    expand_levels,
    feature_levels,
    legacy_aliases,
    make_divisible,
    static_safe,
)

# Per block: kernel size, expanded channels, output channels, squeeze-excite, activation,
# stride (the paper's tables 1 and 2), and the widths after the blocks.
CONFIGS = {
    "large": {
        "blocks": ((3, 16, 16, False, "relu", 1),
                   (3, 64, 24, False, "relu", 2),
                   (3, 72, 24, False, "relu", 1),
                   (5, 72, 40, True, "relu", 2),
                   (5, 120, 40, True, "relu", 1),
                   (5, 120, 40, True, "relu", 1),
                   (3, 240, 80, False, "hardswish", 2),
                   (3, 200, 80, False, "hardswish", 1),
                   (3, 184, 80, False, "hardswish", 1),
                   (3, 184, 80, False, "hardswish", 1),
                   (3, 480, 112, True, "hardswish", 1),
                   (3, 672, 112, True, "hardswish", 1),
                   (5, 672, 160, True, "hardswish", 2),
                   (5, 960, 160, True, "hardswish", 1),
                   (5, 960, 160, True, "hardswish", 1)),
        "squeeze": 960,
    },
    "small": {
        "blocks": ((3, 16, 16, True, "relu", 2),
                   (3, 72, 24, False, "relu", 2),
                   (3, 88, 24, False, "relu", 1),
                   (5, 96, 40, True, "hardswish", 2),
                   (5, 240, 40, True, "hardswish", 1),
                   (5, 240, 40, True, "hardswish", 1),
                   (5, 120, 48, True, "hardswish", 1),
                   (5, 144, 48, True, "hardswish", 1),
                   (5, 288, 96, True, "hardswish", 2),
                   (5, 576, 96, True, "hardswish", 1),
                   (5, 576, 96, True, "hardswish", 1)),
        "squeeze": 576,
    },
}
# PaddleX 1.x's segmentation variant (``MobileNetV3(for_seg=True)``, LR-ASPP's backbone
# in Howard et al.): the last three blocks at half width; its last 1x1 conv ("conv_last",
# 480 channels) belongs to the segmentation model (``MobileNetV3.deeplab_extras``).
CONFIGS["large_seg"] = {
    "blocks": CONFIGS["large"]["blocks"][:12] + ((5, 336, 80, True, "hardswish", 2),
                                                 (5, 480, 80, True, "hardswish", 1),
                                                 (5, 480, 80, True, "hardswish", 1)),
    "squeeze": 480,
    "segmentation": True,
}
STEM_CHANNELS = 16
EXPAND_CHANNELS = 1280  # the classifier's last 1x1 conv; not scaled
SE_REDUCTION = 4


class SqueezeExcite(nn.Layer):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2D(1)
        self.conv1 = nn.Conv2D(channels, channels // SE_REDUCTION, 1)
        self.conv2 = nn.Conv2D(channels // SE_REDUCTION, channels, 1)

    @static_safe
    def forward(self, x):
        gate = self.conv2(F.relu(self.conv1(self.avg_pool(x))))
        # Paddle's hard sigmoid, slope 0.2 and offset 0.5 as the weights were trained with
        return x * F.hardsigmoid(gate, slope=0.2, offset=0.5)


class ResidualUnit(nn.Layer):
    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, kernel_size: int,
                 stride: int, use_se: bool, act: str) -> None:
        super().__init__()
        self.expand_conv = conv_bn_act(in_channels, mid_channels, 1, act=act)
        self.bottleneck_conv = conv_bn_act(mid_channels, mid_channels, kernel_size, stride,
                                           groups=mid_channels, act=act)
        self.mid_se = SqueezeExcite(mid_channels) if use_se else None
        self.linear_conv = conv_bn_act(mid_channels, out_channels, 1, act=None)
        self.hidden_channels = mid_channels
        self.residual = stride == 1 and in_channels == out_channels

    @static_safe
    def forward(self, x):
        return self.forward_with_hidden(x)[0]

    @static_safe
    def forward_with_hidden(self, x):
        """The unit's output and its depthwise conv's (expanded, activated, before SE)."""
        hidden = self.bottleneck_conv(self.expand_conv(x))
        y = self.mid_se(hidden) if self.mid_se is not None else hidden
        y = self.linear_conv(y)
        return (x + y if self.residual else y), hidden


class MobileNetV3(Backbone):
    """``config`` is "large" or "small" (or "large_seg", PaddleX's segmentation variant);
    ``scale`` multiplies every width, rounded to a multiple of 8 (PaddleClas's x0_35 ...
    x1_25). Levels: the last block at strides 4, 8, 16 and 32.

    ``expanded_strides`` (e.g. ``(8,)``): at those strides the level is instead the
    block's expanded depthwise output (activated, before SE), ``C3_expanded`` (120
    channels at stride 8, "large"): the low-level map PaddleX 1.x's DeepLabv3+ decodes
    from on "large_seg". The parameters are the same either way."""

    # What its classifier adds: a classifier checkpoint loads into the backbone.
    unused_prefixes = ("last_second_conv.", "last_conv.", "fc.")

    def __init__(self, config: str = "large", scale: float = 1.0,
                 out_indices: Sequence[int] | None = None,
                 expanded_strides: Sequence[int] = ()) -> None:
        super().__init__(out_indices)
        if config not in CONFIGS:
            raise PxError(f"MobileNetV3: config {config!r} is not one of {sorted(CONFIGS)}")
        self.config, self.scale = config, scale
        blocks = CONFIGS[config]["blocks"]
        in_channels = make_divisible(STEM_CHANNELS * scale)
        self.conv = conv_bn_act(3, in_channels, 3, stride=2, act="hardswish")
        units = []
        for kernel, mid, out, use_se, act, stride in blocks:
            out_channels = make_divisible(out * scale)
            units.append(ResidualUnit(in_channels, make_divisible(mid * scale), out_channels,
                                      kernel, stride, use_se, act))
            in_channels = out_channels
        self.blocks = nn.Sequential(*units)
        self.out_channels = in_channels  # the last block's
        self._level_blocks, levels = feature_levels(
            [b[5] for b in blocks], [make_divisible(b[2] * scale) for b in blocks])
        self._expanded_blocks, self.feature_info = expand_levels(
            type(self).__name__, levels, self._level_blocks, expanded_strides,
            [unit.hidden_channels for unit in units])

    @static_safe
    def forward_features(self, x):
        return tap_levels(self.conv(x), self.blocks, self._level_blocks, self._expanded_blocks)

    def deeplab_extras(self) -> list[tuple[str, nn.Layer, int]]:
        """What PaddleX 1.x's DeepLabv3+ runs on this backbone's deepest level, as
        ``(name, layer, channels out)`` in order; the segmentation model holds the layers
        under those names (their Paddle 1.x scopes). The segmentation configs
        ("large_seg") end in a 1x1 conv, BatchNorm and hard swish to the config's squeeze
        width, ``conv_last`` (480 channels): their classifier's ``last_second_conv``, which
        PaddleX's ``for_seg`` network keeps. The classifier configs: none."""
        spec = CONFIGS[self.config]
        if not spec.get("segmentation"):
            return []
        squeeze = make_divisible(spec["squeeze"] * self.scale)
        layer = conv_bn_act(self.out_channels, squeeze, 1, act="hardswish")
        return [("conv_last", layer, squeeze)]

    def forward_with_hidden(self, x, block: int):
        """The last block's output and block ``block``'s depthwise output (expanded,
        activated, before SE): PaddleX 1.x's DeepLabv3+ on ``large_seg`` takes block 5's
        (stride 8, 120 channels) as its low-level feature."""
        x = self.conv(x)
        hidden = None
        for index, unit in enumerate(self.blocks):
            if index == block:
                x, hidden = unit.forward_with_hidden(x)
            else:
                x = unit(x)
        return x, hidden

    def _legacy_stems(self) -> Iterator[tuple[str, str]]:
        # Paddle 1.x: conv1 for the stem, block i is conv<i + 2>.
        yield "conv", "conv1"
        for index, block in enumerate(self.blocks):
            stem = f"conv{index + 2}"
            yield f"blocks.{index}.expand_conv", stem + "_expand"
            yield f"blocks.{index}.bottleneck_conv", stem + "_depthwise"
            if block.mid_se is not None:
                yield f"blocks.{index}.mid_se.conv1", stem + "_se_1"
                yield f"blocks.{index}.mid_se.conv2", stem + "_se_2"
            yield f"blocks.{index}.linear_conv", stem + "_linear"

    def weight_aliases(self) -> dict[str, str]:
        """Paddle 1.x variable names (the zoo's .tar archives) -> our keys. A bare backbone
        also names its classifier's head, which a classifier's archive carries: those
        tensors then fall under unused_prefixes and are left out."""
        aliases = legacy_aliases(self, self._legacy_stems())
        if type(self) is MobileNetV3:
            aliases.update(MobileNetV3Classifier(config=self.config, scale=self.scale, num_classes=1).weight_aliases())
        return aliases


class MobileNetV3Classifier(MobileNetV3):
    """MobileNetV3 for classification: a 1x1 conv-BN-hardswish (960 or 576 channels,
    scaled), global average pooling, a bias-free 1x1 conv to 1280, hardswish, dropout,
    and a fully connected layer."""

    head_prefixes = ("fc.",)

    def __init__(self, num_classes: int = 1000, config: str = "large", scale: float = 1.0,
                 dropout: float = 0.2) -> None:
        super().__init__(config=config, scale=scale)
        self.num_classes = num_classes
        squeeze = make_divisible(CONFIGS[config]["squeeze"] * scale)
        self.last_second_conv = conv_bn_act(self.feature_info[-1].channels, squeeze, 1,
                                            act="hardswish")
        self.avg_pool = nn.AdaptiveAvgPool2D(1)
        self.last_conv = nn.Conv2D(squeeze, EXPAND_CHANNELS, 1, bias_attr=False)
        self.hardswish = ACTIVATIONS["hardswish"]()
        self.dropout = nn.Dropout(p=dropout, mode="downscale_in_infer") if dropout else None
        self.fc = nn.Linear(EXPAND_CHANNELS, num_classes)

    def forward(self, x):
        x = self.avg_pool(self.last_second_conv(self.forward_features(x)[-1]))
        x = self.hardswish(self.last_conv(x))
        if self.dropout is not None:
            x = self.dropout(x)
        # reshape, not flatten: Paddle Lite crashed on flatten (seen in MobileNetV3_small)
        return self.fc(paddle.reshape(x, [-1, EXPAND_CHANNELS]))

    def _legacy_stems(self) -> Iterator[tuple[str, str]]:
        yield from super()._legacy_stems()
        yield "last_second_conv", "conv_last"
        yield "last_conv", "last_1x1_conv"
        yield "fc", "fc"
