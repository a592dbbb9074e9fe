"""UNet as PaddleX 1.x (and PaddleSeg's legacy static code, whose COCO weights the zoo
has) builds it: a five-level encoder of double 3x3 conv-BN-ReLU blocks joined by 2x2 max
pooling, a symmetric decoder that upsamples (bilinear with aligned corners, or a 2x2
transposed conv), concatenates the encoder's map of that level and applies a double
conv, and a 3x3 conv to the class logits. No conv has a bias (batch norm follows each).

PaddleSeg 2.x's UNet (paddleseg ``models/unet.py``, which PaddleX 2.x's ``UNet`` builds) is
the same network with a bias on every conv (its ``ConvBNReLU``, the transposed conv and
the logits) and half-pixel resizes (``align_corners=False``): ``conv_bias=True``, and the
``UNet_PaddleSeg`` preset; its state-dict names map through ``weight_aliases``.

Channels: encoder 64, 128, 256, 512, 512; decoder 256, 128, 64, 64.
"""

from __future__ import annotations

import paddle
from paddle import nn

from pxcore.nn.resize import resize_bilinear

ENCODER_CHANNELS = (64, 128, 256, 512, 512)
DECODER_CHANNELS = (256, 128, 64, 64)
UPSAMPLE_MODES = ("bilinear", "deconv")


class ConvBNReLU(nn.Layer):
    """3x3 conv (no bias), batch norm (Paddle 1.x's momentum 0.99, eps 1e-5), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2D(in_channels, out_channels, 3, padding=1, bias_attr=None if bias else False)
        self.bn = nn.BatchNorm2D(out_channels, momentum=0.99, epsilon=1e-5)

    def forward(self, x):
        return nn.functional.relu(self.bn(self.conv(x)))


class DoubleConv(nn.Layer):
    def __init__(self, in_channels: int, out_channels: int, pool: bool = False,
                 bias: bool = False) -> None:
        super().__init__()
        self.pool = pool
        self.conv0 = ConvBNReLU(in_channels, out_channels, bias)
        self.conv1 = ConvBNReLU(out_channels, out_channels, bias)

    def forward(self, x):
        if self.pool:
            x = nn.functional.max_pool2d(x, 2, 2)
        return self.conv1(self.conv0(x))


class Up(nn.Layer):
    """Upsample to the skip connection's size, concatenate [upsampled, skip], double conv."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, mode: str,
                 align_corners: bool, bias: bool = False) -> None:
        super().__init__()
        self.mode, self.align_corners = mode, align_corners
        if mode == "deconv":
            self.deconv = nn.Conv2DTranspose(in_channels, out_channels // 2, 2, stride=2,
                                             bias_attr=None if bias else False)
            in_channels = out_channels // 2
        self.convs = DoubleConv(in_channels + skip_channels, out_channels, bias=bias)

    def forward(self, x, skip):
        if self.mode == "deconv":
            x = self.deconv(x)
        else:
            x = resize_bilinear(x, skip, align_corners=self.align_corners)
        return self.convs(paddle.concat([x, skip], axis=1))


class UNet(nn.Layer):
    """UNet for semantic segmentation.

    Args:
        num_classes: output channels of the logits.
        upsample_mode: "bilinear" (PaddleX's default and the COCO weights') or "deconv"
            (PaddleX's other option: a 2x2 stride-2 transposed conv to half the
            decoder level's channels).
        align_corners: the bilinear upsampling's corner rule; True is Paddle 1.x's
            ``resize_bilinear``, which the published weights were trained with.
        in_channels: image channels.
        conv_bias: a bias on every conv (PaddleSeg 2.x's UNet); False is PaddleX 1.x's.

    ``forward(images)`` takes [N, in_channels, H, W] with H and W multiples of 16 and
    returns logits [N, num_classes, H, W] in both modes.
    """

    head_prefixes = ("logit.",)

    def __init__(self, num_classes: int, upsample_mode: str = "bilinear",
                 align_corners: bool = True, in_channels: int = 3, conv_bias: bool = False) -> None:
        super().__init__()
        if upsample_mode not in UPSAMPLE_MODES:
            raise ValueError(f"UNet: upsample_mode must be one of {UPSAMPLE_MODES}, got {upsample_mode!r}")
        self.num_classes, self.upsample_mode, self.conv_bias = num_classes, upsample_mode, conv_bias
        channels = [in_channels, *ENCODER_CHANNELS]
        self.encode = nn.LayerList([DoubleConv(channels[i], channels[i + 1], pool=i > 0, bias=conv_bias)
                                    for i in range(len(ENCODER_CHANNELS))])
        ups, previous = [], ENCODER_CHANNELS[-1]
        for level, out in enumerate(DECODER_CHANNELS):
            skip = ENCODER_CHANNELS[-2 - level]
            ups.append(Up(previous, skip, out, upsample_mode, align_corners, conv_bias))
            previous = out
        self.decode = nn.LayerList(ups)
        self.logit = nn.Conv2D(previous, num_classes, 3, padding=1,
                               bias_attr=None if conv_bias else False)
        self.loss_weights = (1.0,)

    def forward(self, images):
        x, skips = images, []
        for block in self.encode:
            x = block(x)
            skips.append(x)
        x = skips.pop()
        for up in self.decode:
            x = up(x, skips.pop())
        return self.logit(x)

    def weight_aliases(self) -> dict[str, str]:
        """Other layouts' names -> our keys: PaddleX 1.x / PaddleSeg legacy static variable
        names (the zoo's ``unet_coco_v3.tgz``) or, with ``conv_bias``, PaddleSeg 2.x's
        state-dict keys (a PaddleX 2.x ``model.pdparams``)."""
        from .legacy_names import paddleseg_names, static_names

        return paddleseg_names(self) if self.conv_bias else static_names(self)

    def convert_weights(self, state):
        """PaddleSeg 2.x's UNet registers its logits conv twice (``self.cls = self.conv``),
        so its state dict holds ``conv.*`` beside ``cls.*``, the same tensors: dropped."""
        if not (self.conv_bias and "cls.weight" in state):
            return state
        return {k: v for k, v in state.items() if k not in ("conv.weight", "conv.bias")}
