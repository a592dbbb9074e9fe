"""Pieces the three MobileNets share: conv + batch norm + activation, the width rounding
of MobileNetV3, and the Paddle 1.x weight-name rules."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import paddle
from paddle import nn

from pxcore.errors import PxError
from pxcore.nn.features import FeatureInfo
from pxcore.nn.legacy import aliases_by_layer, check_coverage


class ClipReLU6(nn.Layer):
    """min(max(x, 0), 6) as a clip op: Paddle 3 writes relu6 without the "threshold"
    attribute Paddle Lite's optimizer requires (it aborted on it), and clip means the same."""

    def forward(self, x):
        return paddle.clip(x, 0.0, 6.0)


ACTIVATIONS = {"relu": nn.ReLU, "relu6": ClipReLU6, "hardswish": nn.Hardswish}


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a scaled width to a multiple of ``divisor``, never losing more than 10%."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def feature_levels(block_strides: Iterable[int], block_channels: Iterable[int],
                   stem_stride: int = 2, min_stride: int = 4,
                   blocks: Sequence[int] | None = None) -> tuple[tuple[int, ...], list[FeatureInfo]]:
    """The feature levels of a chain of blocks: for each stride from ``min_stride`` on,
    the last block that works at it (the deepest map at that resolution), or the
    ``blocks`` given, one per stride. Returns the block indices and a FeatureInfo per
    level, named C<log2 stride> as in FPN."""
    last: dict[int, tuple[int, int]] = {}
    chosen: dict[int, tuple[int, int]] = {}
    wanted = None if blocks is None else [int(b) for b in blocks]
    stride = stem_stride
    for index, (block_stride, channels) in enumerate(zip(block_strides, block_channels, strict=True)):
        stride *= block_stride
        if stride >= min_stride:
            last[stride] = (index, channels)
        if wanted is not None and index in wanted:
            if stride in chosen:
                raise PxError(f"level blocks {wanted}: blocks {chosen[stride][0]} and {index} "
                              f"both work at stride {stride}")
            chosen[stride] = (index, channels)
    if wanted is not None:
        if sorted(set(wanted)) != wanted or [i for i, _ in chosen.values()] != wanted:
            raise PxError(f"level blocks {wanted} must be increasing block indices from 0 to "
                          f"{index}")
        last = chosen
    indices = tuple(index for index, _ in last.values())
    infos = [FeatureInfo(f"C{s.bit_length() - 1}", channels, s) for s, (_, channels) in last.items()]
    return indices, infos


def expand_levels(owner: str, infos: Sequence[FeatureInfo], level_blocks: Sequence[int],
                  expanded_strides: Iterable[int],
                  hidden_channels: Sequence[int]) -> tuple[tuple[int, ...], list[FeatureInfo]]:
    """The levels at ``expanded_strides`` swapped for the expanded depthwise output (after
    its activation) of the block that gives them, ``C<n>_expanded`` with that block's
    ``hidden_channels``: PaddleX 1.x's DeepLabv3+ "decode point", the low-level map its
    decoder reads from a MobileNet. Returns the swapped blocks and the levels."""
    wanted = tuple(int(s) for s in expanded_strides)
    strides = [info.stride for info in infos]
    missing = [s for s in wanted if s not in strides]
    if missing:
        raise PxError(f"{owner}: expanded_strides {list(wanted)}: it has no level at stride "
                      f"{', '.join(map(str, missing))}; its levels are at strides {strides}")
    blocks, levels = [], []
    for info, block in zip(infos, level_blocks, strict=True):
        if info.stride in wanted:
            blocks.append(block)
            info = FeatureInfo(f"{info.name}_expanded", hidden_channels[block], info.stride)
        levels.append(info)
    return tuple(blocks), levels


# The forwards below have no control flow that depends on tensor values, so they run the
# same eagerly and while a static graph is built. Marking them not_to_static spares
# dy2static's source rewrite, which it redoes for every layer instance: export and
# to_static of a MobileNetV3 take a third of the time. (SOT mode ignores the mark.)
static_safe = paddle.jit.not_to_static


class Chain(nn.Sequential):
    """A Sequential of named layers (``Chain(("conv", conv), ("bn", bn))``)."""

    @static_safe
    def forward(self, x):
        for layer in self._sub_layers.values():
            x = layer(x)
        return x


def conv_bn_act(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                groups: int = 1, act: str | None = "relu",
                names: tuple[str, str, str] = ("conv", "bn", "act")) -> Chain:
    """Bias-free convolution, batch norm, then an optional activation, under the given
    sublayer names (PaddleClas's: conv/bn in MobileNetV1 and V3, _conv/_batch_norm in V2)."""
    conv_name, bn_name, act_name = names
    layers = [(conv_name, nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                                    padding=(kernel_size - 1) // 2, groups=groups,
                                    bias_attr=False)),
              (bn_name, nn.BatchNorm2D(out_channels))]
    if act:
        layers.append((act_name, ACTIVATIONS[act]()))
    return Chain(*layers)


def legacy_aliases(net: nn.Layer, stems: Iterable[tuple[str, str]]) -> dict[str, str]:
    """``{Paddle 1.x name: state-dict key}`` from ``(sublayer path, legacy stem)`` pairs:
    Paddle 1.x named each variable after its layer ("stem") plus PaddleClas's suffix for
    the kind of layer (``pxcore.nn.legacy.PADDLECLAS_SUFFIXES``); every tensor once."""
    return check_coverage(net, aliases_by_layer(net, stems))
