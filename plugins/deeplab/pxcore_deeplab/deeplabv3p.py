"""DeepLabv3+ (Chen et al., 2018, "Encoder-Decoder with Atrous Separable Convolution for
Semantic Image Segmentation"): a backbone, an ASPP encoder on its deepest map and a
decoder that merges it with a low-level map, as one configurable class.

The architecture, option for option, is PaddleX 1.3's (``paddlex/cv/nets/segmentation/
deeplabv3p.py``, whose weights the zoo's rows are; it is PaddleSeg's legacy static code):

- encoder (ASPP): image pooling (mean, or average pooling of a training crop's size),
  a 1x1 conv, three 3x3 convs at dilations 6/12/18 (output stride 16; 12/24/36 at 8;
  none at 32; see ``aspp_dilations`` for a backbone that cannot give the stride asked),
  separable or not; concatenated, projected by a 1x1 conv and dropped out
  with probability 0.9 in Paddle 1.x's "downgrade in infer" mode (training zeroes 90%
  without rescaling, inference multiplies by 0.1, as the weights were trained). With
  ``aspp_with_se`` the result is gated by the image pooling branch (LR-ASPP).
- decoder: either "concat" (a 1x1 conv to 48 channels on the low-level map, concatenated
  with the upsampled encoder output, two 3x3 convs, separable or not) or "sum" (1x1 convs
  on both to ``decoder_channels``, added).
- a 1x1 conv to the classes (``logit``), unless the decoder already gives them
  (``output_is_logits``), then bilinear resizing to the input (align corners, Paddle 1.x's
  ``resize_bilinear``).

A "separable conv" here is PaddleX's: 3x3 depthwise conv, BatchNorm, ReLU, 1x1 conv,
BatchNorm, ReLU (PaddleSeg 2.x's has no ReLU after the depthwise BatchNorm).

Module paths follow the Paddle 1.x name scopes (``encoder.aspp1.depthwise.conv`` is
``encoder/aspp1/depthwise/weights``), so ``weight_aliases()`` follows from them.

``variant="paddleseg"`` is PaddleSeg 2.x's DeepLabV3P (``paddleseg/models/deeplab.py``,
its ``ASPPModule`` in ``layers/pyramid_pool.py``; what PaddleX 2.x's ``DeepLabV3P``
builds) on the same modules: a bias on every conv but the image pooling's, no ReLU
after a separable conv's depthwise BatchNorm, the image pooling branch last in the
concatenation, dropout 0.1 scaled in training (nothing at inference), and the decoder's
resize following ``align_corners`` like the final one (PaddleSeg passes one flag to
all). ``weight_aliases()`` then maps PaddleSeg 2.x's keys (``head.aspp.aspp_blocks.1.
depthwise_conv._conv.weight``, ``backbone.bb_3_2.conv1._batch_norm._mean``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import paddle
import paddle.nn.functional as F
from paddle import nn

from pxcore.errors import PxError
from pxcore.nn.resize import resize_bilinear

from .encoders import Encoder

logger = logging.getLogger("pxcore")

BN_EPSILON = 1e-5  # PaddleX's segmentation layers (libs.bn); the backbones keep theirs
# PaddleX's (and PaddleSeg's) rates per output stride; none at 32 (LR-ASPP's 1x1 branch)
ASPP_DILATIONS = {16: (6, 12, 18), 8: (12, 24, 36)}
DECODER_SHORTCUT_CHANNELS = 48
ASPP_DROPOUT = 0.9  # fluid.layers.dropout(data, 0.9): a drop probability
# PaddleSeg 2.x's ASPPModule: nn.Dropout(p=0.1), scaled in training, identity at inference
PADDLESEG_ASPP_DROPOUT = 0.1
VARIANTS = ("paddlex", "paddleseg")

static_safe = paddle.jit.not_to_static


def qsigmoid(x):
    """PaddleX's "quick sigmoid": relu6(x + 3) * 0.16667 (a hard sigmoid)."""
    return paddle.clip(x + 3.0, 0.0, 6.0) * 0.16667


class ConvBN(nn.Layer):
    """A bias-free conv (``conv``), then optionally BatchNorm (``bn``), then ``act``:
    "relu", "hardswish" or None."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1,
                 dilation: int = 1, groups: int = 1, bn: bool = True, act: str | None = "relu",
                 bias: bool = False) -> None:
        super().__init__()
        self.act = act
        self.conv = nn.Conv2D(in_channels, out_channels, kernel_size,
                              padding=(kernel_size // 2) * dilation, dilation=dilation,
                              groups=groups, bias_attr=None if bias else False)
        self.bn = nn.BatchNorm2D(out_channels, epsilon=BN_EPSILON) if bn else None

    @static_safe
    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.act == "relu":
            x = F.relu(x)
        elif self.act == "hardswish":
            x = F.hardswish(x)
        return x


class SeparableConv(nn.Layer):
    """3x3 depthwise conv (``depthwise``) and 1x1 conv (``pointwise``), each with
    BatchNorm and ReLU (PaddleSeg 2.x: biased, and no ReLU after the depthwise one)."""

    def __init__(self, in_channels: int, out_channels: int, dilation: int = 1,
                 paddleseg: bool = False) -> None:
        super().__init__()
        self.depthwise = ConvBN(in_channels, in_channels, 3, dilation, groups=in_channels,
                                act=None if paddleseg else "relu", bias=paddleseg)
        self.pointwise = ConvBN(in_channels, out_channels, 1, bias=paddleseg)

    @static_safe
    def forward(self, x):
        return self.pointwise(self.depthwise(x))


def _block(in_channels: int, out_channels: int, separable: bool, paddleseg: bool = False,
           dilation: int = 1) -> nn.Layer:
    """A 3x3 conv: separable, or conv, BatchNorm, ReLU (biased in PaddleSeg 2.x's)."""
    if separable:
        return SeparableConv(in_channels, out_channels, dilation, paddleseg)
    return ConvBN(in_channels, out_channels, 3, dilation, bias=paddleseg)


def aspp_dilations(output_stride: int, stride: int) -> tuple[int, ...]:
    """The ASPP's dilation rates for the ``output_stride`` asked when the deepest map is
    at ``stride``: PaddleX's rates for the stride asked (``ASPP_DILATIONS``), scaled by
    ``output_stride / stride``. They are the same when the backbone gives the stride asked
    (MobileNetV2 and Xception take ``output_stride``). A backbone that does not (ResNet,
    TinyNet: their deepest map is at stride 32) gets the rates that span the same image
    pixels: 6/12/18 at stride 16 are 3/6/9 at 32, as PaddleSeg's 12/24/36 at 8 are
    6/12/18 at 16. Asked for 32 (LR-ASPP), there are no dilated branches at any stride."""
    return tuple(max(1, rate * output_stride // stride)
                 for rate in ASPP_DILATIONS.get(output_stride, ()))


class ASPP(nn.Layer):
    """The encoder; sublayers ``image_pool``, ``aspp0`` ... ``aspp3``, ``concat``.
    ``output_stride`` is the stride of its input map, ``dilations`` its dilated branches'.
    ``paddleseg``: PaddleSeg 2.x's ASPPModule (biases but on ``image_pool``, the pooled
    branch concatenated last, dropout scaled in training)."""

    def __init__(self, in_channels: int, channels: int, output_stride: int,
                 dilations: Sequence[int], separable: bool,
                 image_level_feature: bool, concat_projection: bool, with_se: bool,
                 se_use_qsigmoid: bool, pooling_crop_size: Sequence[int] | None,
                 pooling_stride: Sequence[int], dropout: float, paddleseg: bool = False) -> None:
        super().__init__()
        self.paddleseg = paddleseg
        self.image_level_feature = image_level_feature
        self.with_se = with_se
        self.se_use_qsigmoid = se_use_qsigmoid
        if pooling_crop_size is not None:
            # PaddleX: pool_w from the crop's width [0], pool_h from its height [1]
            width, height = (int((c - 1.0) / output_stride + 1.0) for c in pooling_crop_size)
            self.pool_size = (height, width)
            self.pool_stride = tuple(int(s) for s in pooling_stride)
        else:
            self.pool_size = None
        # with the quick sigmoid the pooled conv has no BatchNorm
        self.image_pool = ConvBN(in_channels, channels, 1, bn=not se_use_qsigmoid,
                                 act=None if se_use_qsigmoid else "relu")
        self.aspp0 = ConvBN(in_channels, channels, 1, bias=paddleseg)
        self.dilations = tuple(dilations)
        self.branches = []
        for index, dilation in enumerate(self.dilations, start=1):
            branch = _block(in_channels, channels, separable, paddleseg, dilation)
            self.branches.append(self.add_sublayer(f"aspp{index}", branch))
        branches = 1 + len(self.dilations) + int(image_level_feature)
        self.concat = (ConvBN(branches * channels, channels, 1, bias=paddleseg)
                       if concat_projection else None)
        # Paddle 1.x's default dropout: no rescaling in training, times (1 - p) after;
        # PaddleSeg 2.x's: scaled in training, nothing at inference
        mode = "upscale_in_train" if paddleseg else "downscale_in_infer"
        self.dropout = (nn.Dropout(p=dropout, mode=mode)
                        if concat_projection and dropout else None)
        self.out_channels = channels if concat_projection else branches * channels

    @static_safe
    def forward(self, x):
        if self.pool_size is None:
            pooled = paddle.mean(x, axis=[2, 3], keepdim=True)
        else:
            pooled = F.avg_pool2d(x, self.pool_size, self.pool_stride, padding=0)
        pooled = self.image_pool(pooled)
        if self.se_use_qsigmoid:
            pooled = qsigmoid(pooled)
        aspp0 = self.aspp0(x)
        if self.pool_size is not None:  # else a 1x1 map, for which resizing is broadcasting
            pooled = resize_bilinear(pooled, aspp0, align_corners=True)
        outputs = [aspp0] + [branch(x) for branch in self.branches]
        if self.image_level_feature:
            # broadcast by an add: paddle2onnx 2.1 writes expand_as with the static shape
            # (-1 in it), which ONNX Runtime refuses. PaddleX 1.x puts it first, 2.x last.
            outputs.insert(len(outputs) if self.paddleseg else 0,
                           pooled + paddle.zeros_like(aspp0))
        data = paddle.concat(outputs, axis=1) if len(outputs) > 1 else outputs[0]
        if self.concat is not None:
            data = self.concat(data)
            if self.dropout is not None:
                data = self.dropout(data)
        if self.with_se:
            data = data * pooled
        return data


class ConcatDecoder(nn.Layer):
    """``concat``: 1x1 conv to 48 on the low-level map; the encoder output resized to it
    (corner-aligned in PaddleX 1.x, as ``align_corners`` in PaddleSeg 2.x) and
    concatenated; two 3x3 convs (``separable_conv1``/``2`` or ``decoder_conv1``/``2``)."""

    def __init__(self, encoder_channels: int, low_channels: int, channels: int,
                 separable: bool, paddleseg: bool = False, align_corners: bool = True) -> None:
        super().__init__()
        self.align_corners = align_corners
        self.concat = ConvBN(low_channels, DECODER_SHORTCUT_CHANNELS, 1, bias=paddleseg)
        width = encoder_channels + DECODER_SHORTCUT_CHANNELS
        names = ("separable_conv1", "separable_conv2") if separable else ("decoder_conv1", "decoder_conv2")
        self.convs = [self.add_sublayer(name, _block(w, channels, separable, paddleseg))
                      for name, w in zip(names, (width, channels), strict=True)]
        self.out_channels = channels

    @static_safe
    def forward(self, x, low):
        low = self.concat(low)
        x = paddle.concat([resize_bilinear(x, low, align_corners=self.align_corners), low], axis=1)
        for conv in self.convs:
            x = conv(x)
        return x


class SumDecoder(nn.Layer):
    """Sum merge (LR-ASPP): the encoder output resized to the low-level map and a 1x1
    conv (``conv``), plus a 1x1 conv on the low-level map (``merge``); no BatchNorm."""

    def __init__(self, encoder_channels: int, low_channels: int, channels: int) -> None:
        super().__init__()
        # PaddleX: "decoder/weights" directly under the decoder's scope, "decoder/merge/weights"
        self.conv = nn.Conv2D(encoder_channels, channels, 1, bias_attr=False)
        self.merge = ConvBN(low_channels, channels, 1, bn=False, act=None)
        self.out_channels = channels

    @static_safe
    def forward(self, x, low):
        return self.conv(resize_bilinear(x, low, align_corners=True)) + self.merge(low)


class DeepLabV3P(nn.Layer):
    """DeepLabv3+ with PaddleX 1.3's options (``paddlex.cv.models.DeepLabv3p`` passes
    these to ``paddlex.cv.nets.segmentation.DeepLabv3p``; ``pxcore_deeplab.plugin``
    holds the values it picks per backbone).

    ``backbone``: any registered backbone (built with ``backbone_args``), a ``{"type":
    ...}`` config, or a built pxcore Backbone; PaddleX's names ("MobileNetV2_x1.0" ...
    "MobileNetV2_x2.0", "Xception41", "Xception65", "Xception71",
    "MobileNetV3_large_x1_0_ssld") build the registered backbone as PaddleX does
    (``encoders.PADDLEX_BACKBONES``). The network reads two of the levels the backbone
    reports, by stride: the deepest, and for the decoder the one at ``low_level_stride``
    (None: 4, or a PaddleX name's decode point, 8 for MobileNetV3); a backbone without
    it raises ``IncompatiblePartsError``. ``output_stride`` 8, 16 or 32 is passed to a
    backbone that takes it (MobileNetV2, Xception); the ASPP dilations follow the stride
    the deepest level has (``aspp_dilations``), and ``self.output_stride`` is that stride.
    ``aspp_channels`` is PaddleX's ``aspp_convs_filters``, ``decoder_channels`` its
    ``conv_filters`` (the number of classes when ``output_is_logits``), ``decoder``
    "concat" or "sum" (``use_sum_merge``).
    ``pooling_crop_size`` ([width, height] of the training crop) makes the image pooling an
    average pool of that crop's feature size at ``pooling_stride`` ([h, w]), as in
    training; None (PaddleX's default) takes the mean. With it, inputs must be at least
    the crop's size.

    ``variant`` "paddlex" (PaddleX 1.3's static head, the zoo's) or "paddleseg"
    (PaddleSeg 2.x's, PaddleX 2.x's ``DeepLabV3P``: see the module's docstring; its
    ``aspp_dropout`` defaults to 0.1, and it has no LR-ASPP options). ``aspp_dropout``
    None: the variant's.

    ``forward(images)`` returns logits [N, num_classes, H, W] at the input's size, in
    training too (``loss_weights`` (1.0,)).
    """

    loss_weights = (1.0,)

    def __init__(self, num_classes: int, backbone: str = "MobileNetV2_x1.0",
                 output_stride: int = 16, aspp_with_sep_conv: bool = True,
                 decoder_use_sep_conv: bool = True, encoder_with_aspp: bool = True,
                 enable_decoder: bool = True, aspp_channels: int = 256,
                 aspp_with_concat_projection: bool = True, add_image_level_feature: bool = True,
                 aspp_with_se: bool = False, se_use_qsigmoid: bool = False,
                 pooling_crop_size: Sequence[int] | None = None,
                 pooling_stride: Sequence[int] = (1, 1), decoder: str = "concat",
                 decoder_channels: int = 256, output_is_logits: bool = False,
                 aspp_dropout: float | None = None, align_corners: bool = True,
                 backbone_args: Mapping[str, Any] | None = None,
                 low_level_stride: int | None = None, variant: str = "paddlex") -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise PxError(f"DeepLabV3P: variant {variant!r} is not one of {VARIANTS}")
        paddleseg = variant == "paddleseg"
        if paddleseg and (aspp_with_se or se_use_qsigmoid or decoder != "concat"
                          or output_is_logits or not encoder_with_aspp or not enable_decoder):
            raise PxError("DeepLabV3P: variant 'paddleseg' (PaddleSeg 2.x's head: ASPP and the "
                          "concat decoder) takes none of aspp_with_se, se_use_qsigmoid, "
                          "decoder='sum', output_is_logits, encoder_with_aspp=False, "
                          "enable_decoder=False; use variant 'paddlex'")
        if aspp_dropout is None:
            aspp_dropout = PADDLESEG_ASPP_DROPOUT if paddleseg else ASPP_DROPOUT
        self.variant = variant
        if output_stride not in (8, 16, 32):
            raise PxError(f"DeepLabV3P: output_stride {output_stride!r} is not 8, 16 or 32")
        if decoder not in ("concat", "sum"):
            raise PxError(f"DeepLabV3P: decoder {decoder!r} is not 'concat' or 'sum'")
        if output_is_logits and not enable_decoder:
            raise PxError("DeepLabV3P: output_is_logits needs the decoder to give the classes")
        if pooling_crop_size is not None and len(pooling_crop_size) != 2:
            raise PxError(f"DeepLabV3P: pooling_crop_size {pooling_crop_size!r} is not [width, height]")
        self.num_classes = num_classes
        # a name (a built backbone is not held twice: it would register as a sublayer)
        self.backbone_name = backbone if isinstance(backbone, str) else type(backbone).__name__
        self.align_corners = align_corners
        self.encoder_kind = Encoder(backbone, backbone_args, output_stride, low_level_stride,
                                    with_decoder=enable_decoder)
        self.backbone = self.encoder_kind.backbone
        # the backbone's extras on its deepest map, held here under their own names
        self._extras = [self.add_sublayer(name, layer) for name, layer, _ in self.encoder_kind.extras]
        # the stride of the deepest map: the one asked unless the backbone cannot give it
        self.output_stride = self.encoder_kind.output_stride
        dilations = aspp_dilations(output_stride, self.output_stride)
        if self.output_stride != output_stride:
            logger.info("DeepLabV3P: %s's deepest level is at stride %d, not the output_stride "
                        "%d asked (a backbone that does not take output_stride keeps its "
                        "own, and backbone_args may set another); ASPP dilations %s",
                        type(self.backbone).__name__, self.output_stride, output_stride,
                        dilations if encoder_with_aspp else "(no ASPP)")
        channels = self.encoder_kind.channels
        self.encoder = None
        if encoder_with_aspp:
            self.encoder = ASPP(channels, aspp_channels, self.output_stride, dilations,
                                aspp_with_sep_conv,
                                add_image_level_feature, aspp_with_concat_projection,
                                aspp_with_se, se_use_qsigmoid, pooling_crop_size,
                                pooling_stride, aspp_dropout, paddleseg)
            channels = self.encoder.out_channels
        if output_is_logits:
            decoder_channels = num_classes
        self.decoder = None
        if enable_decoder:
            low = self.encoder_kind.low_level_channels
            self.decoder = (SumDecoder(channels, low, decoder_channels) if decoder == "sum" else
                            ConcatDecoder(channels, low, decoder_channels, decoder_use_sep_conv,
                                          paddleseg, align_corners if paddleseg else True))
            channels = self.decoder.out_channels
        self.logit = None if output_is_logits else ConvBN(channels, num_classes, 1, bn=False,
                                                          act=None, bias=True)
        # the tensors whose shape follows the class count (fresh for another count)
        self.head_prefixes = (("logit.",) if self.logit is not None
                              else ("decoder.conv.", "decoder.merge."))

    def features(self, images):
        """The backbone's deepest map (through its extras) and low-level map (None
        without a decoder)."""
        levels = self.backbone(images)
        low, x = (levels[0], levels[1]) if self.decoder is not None else (None, levels[0])
        for layer in self._extras:
            x = layer(x)
        return x, low

    def forward(self, images):
        x, low = self.features(images)
        if self.encoder is not None:
            x = self.encoder(x)
        if self.decoder is not None:
            x = self.decoder(x, low)
        if self.logit is not None:
            x = self.logit(x)
        return resize_bilinear(x, images, align_corners=self.align_corners)

    def weight_aliases(self) -> dict[str, str]:
        """Paddle 1.x variable names (PaddleX 1.x / PaddleSeg legacy archives) -> our keys:
        the backbone's own legacy names (PaddleX's DeepLab programs name the backbone as
        its classifier does), and the head's name scopes; for variant "paddleseg",
        PaddleSeg 2.x's state-dict keys (a PaddleX 2.x ``model.pdparams``)."""
        from .legacy_names import legacy_aliases, paddleseg_aliases

        return paddleseg_aliases(self) if self.variant == "paddleseg" else legacy_aliases(self)
