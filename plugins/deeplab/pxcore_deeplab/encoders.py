"""The backbone under DeepLabv3+: any registered backbone (or a built pxcore Backbone),
and the two levels the network reads from its feature report, by stride: the deepest
map (for the ASPP encoder) and a low-level map (for the decoder, stride 4 unless told).

PaddleX 1.3's backbone names ("MobileNetV2_x1.0", "Xception65",
"MobileNetV3_large_x1_0_ssld") are the registered backbones with the arguments PaddleX's
``DeepLabv3p._get_backbone`` builds them with (``PADDLEX_BACKBONES``): a width, and for
the MobileNets the level their decoder reads (PaddleX's "decode point": an expanded
depthwise output, which the backbone reports as a level when asked).

A backbone with more than its levels to give declares it: ``deeplab_extras()`` returns
``(name, layer, channels out)`` to run on its deepest map, in order; the network holds
those layers under those names (MobileNetV3 "large_seg": PaddleX's ``conv_last``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from paddle import nn

from pxcore.compose import build_backbone, declared_arguments
from pxcore.errors import IncompatiblePartsError, PxError
from pxcore.nn.features import FeatureInfo

DEFAULT_LOW_LEVEL_STRIDE = 4


@attrs.frozen
class PaddleXBackbone:
    """A PaddleX 1.3 backbone name: the registered backbone and its arguments; the stride
    of PaddleX's decode point (the decoder's low-level map) and whether it is the expanded
    depthwise output there (the backbone's ``expanded_strides``); the output strides
    PaddleX's DeepLabv3p allows on it (None: any of DeepLabV3P's)."""

    backbone: str
    args: Mapping[str, Any] = attrs.field(factory=dict)
    decode_stride: int = DEFAULT_LOW_LEVEL_STRIDE
    expanded: bool = False
    output_strides: tuple[int, ...] | None = None

    def backbone_args(self) -> dict[str, Any]:
        return {**self.args, **({"expanded_strides": (self.decode_stride,)} if self.expanded else {})}


# MobileNetV2: the decoder reads the expanded depthwise output of conv3's last block
# (stride 4, decode point 4); MobileNetV3 "large_seg" (PaddleX's for_seg network, only
# at output stride 32): block 5's (stride 8, 120 channels). Xception: its stride-4 level
# (entry block 2's second separable conv) as it is. Xception71 has no zoo weights and so
# no registered name: the Xception factory builds it from its depth.
PADDLEX_BACKBONES = {
    **{f"MobileNetV2_x{width}": PaddleXBackbone("MobileNetV2", {"scale": float(width)}, expanded=True)
       for width in ("0.25", "0.5", "1.0", "1.5", "2.0")},
    "Xception41": PaddleXBackbone("Xception41"),
    "Xception65": PaddleXBackbone("Xception65"),
    "Xception71": PaddleXBackbone("Xception65", {"depth": 71}),
    **{name: PaddleXBackbone("MobileNetV3_large", {"config": "large_seg"}, decode_stride=8,
                             expanded=True, output_strides=(32,))
       for name in ("MobileNetV3_large_x1_0_ssld", "MobileNetV3_large_x1_0")},
}


def _paddlex(backbone: Any) -> PaddleXBackbone | None:
    return PADDLEX_BACKBONES.get(backbone) if isinstance(backbone, str) else None


def _build(backbone: Any, backbone_args: Mapping[str, Any] | None, output_stride: int,
           consumer: str):
    """The backbone, with PaddleX's arguments for a PaddleX name, and ``output_stride``
    where its factory declares one (MobileNetV2, Xception: their later stages keep the
    resolution); ``backbone_args`` come last and win."""
    args: dict[str, Any] = {}
    paddlex = _paddlex(backbone)
    if paddlex is not None:
        if paddlex.output_strides is not None and output_stride not in paddlex.output_strides:
            raise PxError(f"DeepLabV3P on {backbone}: output_stride must be "
                          f"{' or '.join(map(str, paddlex.output_strides))} (PaddleX's), "
                          f"got {output_stride!r}")
        backbone, args = paddlex.backbone, paddlex.backbone_args()
    if "output_stride" in (declared_arguments(backbone) or ()):
        args["output_stride"] = output_stride
    args.update(backbone_args or {})
    return build_backbone(backbone, args or None, consumer=consumer)


class Encoder:
    """The backbone, set to return the levels DeepLabv3+ reads, and what they are:
    ``deepest`` and ``low_level`` (FeatureInfo; without a decoder only the deepest is
    read, and ``low_level`` is reported where the backbone has one), ``channels`` (of the
    deepest map after the backbone's extras) and ``low_level_channels``; ``extras`` are
    the backbone's ``deeplab_extras()``. ``low_level_stride`` None: a PaddleX name's
    decode point, else 4."""

    def __init__(self, backbone: Any, backbone_args: Mapping[str, Any] | None,
                 output_stride: int, low_level_stride: int | None, with_decoder: bool) -> None:
        if low_level_stride is None:
            paddlex = _paddlex(backbone)
            low_level_stride = DEFAULT_LOW_LEVEL_STRIDE if paddlex is None else paddlex.decode_stride
        self.backbone = _build(backbone, backbone_args, output_stride, "DeepLabV3P")
        report = self.backbone.feature_info
        self.deepest: FeatureInfo = report[-1]
        self.output_stride = self.deepest.stride
        if with_decoder:
            consumer = (f"DeepLabV3P (low-level stride {low_level_stride}, deepest stride "
                        f"{self.deepest.stride})")
            if low_level_stride >= self.deepest.stride:
                levels = ", ".join(f"{f.name} (stride {f.stride})" for f in report)
                raise IncompatiblePartsError(
                    f"{consumer}: the decoder's low-level map must be shallower than the "
                    f"deepest, and {type(self.backbone).__name__}'s deepest level is at stride "
                    f"{self.deepest.stride}: it reports {levels}. Use a lower low_level_stride "
                    "or a backbone whose levels go deeper")
            self.low_level, self.deepest = self.backbone.select_strides(
                [low_level_stride, self.deepest.stride], consumer)
        else:
            # only the deepest is read; the low-level map is reported where there is one
            (self.deepest,) = self.backbone.select_strides(
                [self.deepest.stride], "DeepLabV3P (no decoder: the deepest level)")
            self.low_level = next((f for f in reversed(report) if f.stride == low_level_stride),
                                  None)
        self.low_level_channels = None if self.low_level is None else self.low_level.channels
        extras = getattr(self.backbone, "deeplab_extras", None)
        self.extras: list[tuple[str, nn.Layer, int]] = list(extras()) if extras else []
        self.channels = self.extras[-1][2] if self.extras else self.deepest.channels
