"""ShuffleNetV2 (Ma et al., 2018): units that split the channels in two, transform one
half (1x1 conv, 3x3 depthwise conv, 1x1 conv) and shuffle the halves back together;
each stage starts with a stride-2 unit that transforms both halves.

Tensor names are PaddleClas 2.6's (``model_zoo/shufflenet_v2.py``): the stem is
``_conv1``, unit j of stage s (2, 3, 4) is the sublayer ``"<s>_<j>"``, the classifier
adds ``_last_conv`` and ``_fc``; each conv + batch norm is ``_conv`` / ``_batch_norm``.
``weight_aliases`` gives the Paddle 1.x names of the zoo's .tar archives.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import paddle
from paddle import nn

from pxcore.errors import PxError
from pxcore.nn.backbone import Backbone, tap_levels
from pxcore.nn.features import FeatureInfo
from pxcore.nn.legacy import aliases_by_table

# Output channels of stages 2, 3, 4 and of the classifier's last 1x1 conv, per width
# (the paper's table 5; 0.25 and 0.33 are PaddleClas's additions).
WIDTHS = {
    0.25: (24, 48, 96, 512),
    0.33: (32, 64, 128, 512),
    0.5: (48, 96, 192, 1024),
    1.0: (116, 232, 464, 1024),
    1.5: (176, 352, 704, 1024),
    2.0: (244, 488, 976, 2048),
}
STAGE_UNITS = (4, 8, 4)
FIRST_STAGE = 2  # the stem is stage 1
STEM_CHANNELS = 24
ACTIVATIONS = {"relu": nn.ReLU, "swish": nn.Swish}

# The forwards below have no control flow that depends on tensor values, so they run the
# same eagerly and while a static graph is built; not_to_static spares dy2static's source
# rewrite of every unit (it redoes it per layer instance).
static_safe = paddle.jit.not_to_static


class ConvBN(nn.Layer):
    """Bias-free conv, batch norm, optional activation (PaddleClas's ConvBNLayer names)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 groups: int = 1, act: str | None = None) -> None:
        super().__init__()
        self._conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                               padding=(kernel_size - 1) // 2, groups=groups,
                               weight_attr=nn.initializer.KaimingNormal(), bias_attr=False)
        self._batch_norm = nn.BatchNorm2D(out_channels)
        self._act = ACTIVATIONS[act]() if act else None

    @static_safe
    def forward(self, x):
        x = self._batch_norm(self._conv(x))
        return self._act(x) if self._act is not None else x


def channel_shuffle(x, channels: int, groups: int = 2):
    """Interleave the channel groups: channel c of group g goes to c * groups + g.
    ``channels`` is passed in, not read from ``x``, so that the static graph keeps it
    known; batch, height and width are read at run time (the export takes any size)."""
    size = paddle.shape(x)
    x = paddle.reshape(x, [0, groups, channels // groups, -1])
    x = paddle.transpose(x, [0, 2, 1, 3])
    return paddle.reshape(x, [size[0], channels, size[2], size[3]])


class ShuffleUnit(nn.Layer):
    """Stride 1: the second half of the channels goes through pw conv, dw conv, pw conv;
    the first half passes unchanged."""

    def __init__(self, channels: int, act: str) -> None:
        super().__init__()
        half = channels // 2
        self.half = half
        self._conv_pw = ConvBN(half, half, 1, act=act)
        self._conv_dw = ConvBN(half, half, 3, groups=half)
        self._conv_linear = ConvBN(half, half, 1, act=act)

    @static_safe
    def forward(self, x):
        kept, transformed = paddle.split(x, [self.half, self.half], axis=1)
        transformed = self._conv_linear(self._conv_dw(self._conv_pw(transformed)))
        return channel_shuffle(paddle.concat([kept, transformed], axis=1), 2 * self.half)


class DownsampleUnit(nn.Layer):
    """Stride 2: both branches see the whole input; their outputs are concatenated."""

    def __init__(self, in_channels: int, out_channels: int, act: str) -> None:
        super().__init__()
        half = out_channels // 2
        self.out_channels = 2 * half
        # branch 1: dw conv, pw conv
        self._conv_dw_1 = ConvBN(in_channels, in_channels, 3, stride=2, groups=in_channels)
        self._conv_linear_1 = ConvBN(in_channels, half, 1, act=act)
        # branch 2: pw conv, dw conv, pw conv
        self._conv_pw_2 = ConvBN(in_channels, half, 1, act=act)
        self._conv_dw_2 = ConvBN(half, half, 3, stride=2, groups=half)
        self._conv_linear_2 = ConvBN(half, half, 1, act=act)

    @static_safe
    def forward(self, x):
        first = self._conv_linear_1(self._conv_dw_1(x))
        second = self._conv_linear_2(self._conv_dw_2(self._conv_pw_2(x)))
        return channel_shuffle(paddle.concat([first, second], axis=1), self.out_channels)


def _widths(scale: float) -> tuple[int, ...]:
    if scale not in WIDTHS:
        raise PxError(f"ShuffleNetV2: scale {scale!r} is not one of {sorted(WIDTHS)}")
    return WIDTHS[scale]


class ShuffleNetV2(Backbone):
    """``scale`` picks the width (0.25, 0.33, 0.5, 1.0, 1.5, 2.0); ``act`` is "relu" or
    "swish" (PaddleClas's ShuffleNetV2_swish). Levels: the max-pooled stem (stride 4)
    and the last unit of stages 2, 3 and 4 (strides 8, 16, 32)."""

    # What its classifier adds: a classifier checkpoint loads into the backbone.
    unused_prefixes = ("_last_conv.", "_fc.")

    def __init__(self, scale: float = 1.0, act: str = "relu",
                 out_indices: Sequence[int] | None = None) -> None:
        super().__init__(out_indices)
        if act not in ACTIVATIONS:
            raise PxError(f"ShuffleNetV2: act {act!r} is not one of {sorted(ACTIVATIONS)}")
        self.scale, self.act = scale, act
        stage_channels = _widths(scale)[:3]
        self._conv1 = ConvBN(3, STEM_CHANNELS, 3, stride=2, act=act)
        self._max_pool = nn.MaxPool2D(3, stride=2, padding=1)
        self.feature_info = [FeatureInfo("C2", STEM_CHANNELS, 4)]
        self._block_list, self._unit_names, self._stage_ends = [], [], []
        in_channels = STEM_CHANNELS
        for stage, (units, channels) in enumerate(zip(STAGE_UNITS, stage_channels, strict=True),
                                                  start=FIRST_STAGE):
            for unit in range(1, units + 1):
                layer = (DownsampleUnit(in_channels, channels, act) if unit == 1
                         else ShuffleUnit(channels, act))
                self._unit_names.append(f"{stage}_{unit}")
                self._block_list.append(self.add_sublayer(self._unit_names[-1], layer))
                in_channels = channels
            self._stage_ends.append(len(self._block_list) - 1)
            self.feature_info.append(FeatureInfo(f"C{stage + 1}", channels, 2 ** (stage + 1)))

    def forward_features(self, x):
        x = self._max_pool(self._conv1(x))
        return [x, *tap_levels(x, self._block_list, self._stage_ends)]

    def _legacy_stems(self) -> Iterator[tuple[str, str, Mapping[str, str]]]:
        # Paddle 1.x: the stem is stage1_conv; in unit "<s>_<j>" each conv is
        # stage_<s>_<j>_conv<k>, k = 1, 2, 3 for the pw-dw-pw branch, 4, 5 for the
        # stride-2 unit's dw-pw branch; the classifier's are conv5 and fc6.
        yield "_conv1", "stage1_conv", CONV_BN_TENSORS
        branch = {"_conv_pw": 1, "_conv_dw": 2, "_conv_linear": 3,
                  "_conv_pw_2": 1, "_conv_dw_2": 2, "_conv_linear_2": 3,
                  "_conv_dw_1": 4, "_conv_linear_1": 5}
        for unit_name, unit in zip(self._unit_names, self._block_list, strict=True):
            for conv, _ in unit.named_children():
                yield f"{unit_name}.{conv}", f"stage_{unit_name}_conv{branch[conv]}", CONV_BN_TENSORS
        yield "_last_conv", "conv5", CONV_BN_TENSORS
        yield "_fc", "fc6", LINEAR_TENSORS

    def weight_aliases(self) -> dict[str, str]:
        """Paddle 1.x variable names (the zoo's .tar archives) -> our keys; the backbone
        gets the classifier's too, so that it takes a classifier archive (they land
        under ``unused_prefixes`` and are left out)."""
        return aliases_by_table(self, self._legacy_stems())


class ShuffleNetV2Classifier(ShuffleNetV2):
    """ShuffleNetV2 for classification: a 1x1 conv to 1024 channels (2048 at width 2.0,
    512 below 0.5), global average pooling and a fully connected layer ``_fc``."""

    head_prefixes = ("_fc.",)

    def __init__(self, num_classes: int = 1000, scale: float = 1.0, act: str = "relu") -> None:
        super().__init__(scale=scale, act=act)
        self.num_classes = num_classes
        self.num_features = _widths(scale)[3]
        self._last_conv = ConvBN(self.feature_info[-1].channels, self.num_features, 1, act=act)
        self._pool2d_avg = nn.AdaptiveAvgPool2D(1)
        self._fc = nn.Linear(self.num_features, num_classes)

    def forward(self, x):
        x = self._pool2d_avg(self._last_conv(self.forward_features(x)[-1]))
        # reshape, not flatten: Paddle Lite crashes on flatten_contiguous_range
        return self._fc(paddle.reshape(x, [-1, self.num_features]))


# Paddle 1.x named a variable after its layer ("stem") plus a suffix per tensor: a conv's
# weight "_weights", its batch norm "_bn_scale", "_bn_offset", "_bn_mean",
# "_bn_variance"; an fc's "_weights" and "_offset". Keyed by the tensor's path in the layer.
CONV_BN_TENSORS = {"_conv.weight": "_weights", "_batch_norm.weight": "_bn_scale",
                   "_batch_norm.bias": "_bn_offset", "_batch_norm._mean": "_bn_mean",
                   "_batch_norm._variance": "_bn_variance"}
LINEAR_TENSORS = {"weight": "_weights", "bias": "_offset"}
