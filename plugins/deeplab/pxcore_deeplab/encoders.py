"""The backbones DeepLabv3+ runs on, as PaddleX 1.3's ``DeepLabv3p._get_backbone`` builds
them: pxcore's MobileNetV2, Xception and MobileNetV3 at the output stride, and which map
each hands the decoder (PaddleX's "decode points")."""

from __future__ import annotations

import re

from paddle import nn

from pxcore.errors import PxError

MOBILENETV2_SCALES = {"0.25": 0.25, "0.5": 0.5, "1.0": 1.0, "1.5": 1.5, "2.0": 2.0}
XCEPTION_DEPTHS = (41, 65, 71)
# MobileNetV2: the depthwise output of conv3's last block (decode point 4, stride 4).
MOBILENETV2_DECODE_STAGE = 1
# MobileNetV3 (segmentation variant): block 5's depthwise output (stride 8, 120 channels).
MOBILENETV3_DECODE_BLOCK = 5
MOBILENETV3_SEG_SQUEEZE = 480  # "conv_last": 1x1 conv, BatchNorm, hard swish


class Encoder:
    """A backbone, its extra layers (registered on the network under their names), the
    channels of its deepest and low-level maps, and how to run it."""

    channels: int
    low_level_channels: int

    def __init__(self, backbone: nn.Layer) -> None:
        self.backbone = backbone

    def extra_layers(self) -> dict[str, nn.Layer]:
        return {}

    def run(self, net, images):  # pragma: no cover - each kind's job
        raise NotImplementedError


class MobileNetV2Encoder(Encoder):
    def __init__(self, scale: float, output_stride: int) -> None:
        from pxcore_mobilenet.mobilenet_v2 import STAGES, MobileNetV2

        super().__init__(MobileNetV2(scale=scale, output_stride=output_stride))
        self.channels = int(STAGES[-1][1] * scale)
        expansion, width = STAGES[MOBILENETV2_DECODE_STAGE][:2]
        self.low_level_channels = int(round(int(width * scale) * expansion))

    def run(self, net, images):
        return net.backbone.forward_with_hidden(images, MOBILENETV2_DECODE_STAGE)


class XceptionEncoder(Encoder):
    def __init__(self, depth: int, output_stride: int) -> None:
        from pxcore_xception.xception import Xception

        # levels: the stride-4 map (entry block 2's second separable conv) and the output
        super().__init__(Xception(depth=depth, output_stride=output_stride, out_indices=(0, -1)))
        low, deep = self.backbone.out_features
        self.channels, self.low_level_channels = deep.channels, low.channels

    def run(self, net, images):
        low, deep = net.backbone(images)
        return deep, low


class MobileNetV3Encoder(Encoder):
    def __init__(self, output_stride: int) -> None:
        from pxcore_mobilenet.mobilenet_v3 import CONFIGS, MobileNetV3

        from .deeplabv3p import ConvBN

        if output_stride != 32:
            raise PxError(f"DeepLabV3P on MobileNetV3: output_stride must be 32 (PaddleX's), "
                          f"got {output_stride!r}")
        super().__init__(MobileNetV3(config="large_seg", scale=1.0))
        blocks = CONFIGS["large_seg"]["blocks"]
        self.channels = MOBILENETV3_SEG_SQUEEZE
        self.low_level_channels = blocks[MOBILENETV3_DECODE_BLOCK][1]
        self._conv_last = ConvBN(blocks[-1][2], MOBILENETV3_SEG_SQUEEZE, 1, act="hardswish")

    def extra_layers(self) -> dict[str, nn.Layer]:
        return {"conv_last": self._conv_last}

    def run(self, net, images):
        x, low = net.backbone.forward_with_hidden(images, MOBILENETV3_DECODE_BLOCK)
        return net.conv_last(x), low


def build_encoder(backbone: str, output_stride: int) -> Encoder:
    """PaddleX's backbone names: MobileNetV2_x<scale>, Xception<depth>,
    MobileNetV3_large_x1_0_ssld."""
    match = re.fullmatch(r"MobileNetV2_x(\d\.\d+)", backbone)
    if match and match.group(1) in MOBILENETV2_SCALES:
        return MobileNetV2Encoder(MOBILENETV2_SCALES[match.group(1)], output_stride)
    match = re.fullmatch(r"Xception(\d+)", backbone)
    if match and int(match.group(1)) in XCEPTION_DEPTHS:
        return XceptionEncoder(int(match.group(1)), output_stride)
    if backbone in ("MobileNetV3_large_x1_0_ssld", "MobileNetV3_large_x1_0"):
        return MobileNetV3Encoder(output_stride)
    raise PxError(f"DeepLabV3P: backbone {backbone!r} is not one of MobileNetV2_x0.25 ... "
                  "MobileNetV2_x2.0, Xception41/65/71, MobileNetV3_large_x1_0_ssld (PaddleX 1.3's)")
