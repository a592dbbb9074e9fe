"""HRNet for semantic segmentation, PaddleX 1.x's ``HRNet`` (``paddlex.seg.HRNet``, the zoo's
Cityscapes ``HRNet_W18``): the HRNet body (``hrnet.HRNet``, its fusions upsampling
bilinearly), its four branches brought to the finest one's size (stride 4) and
concatenated (w + 2w + 4w + 8w channels, 270 for W18), a 1x1 conv + BatchNorm + ReLU
keeping that width, a bias-free 1x1 conv to the classes, and the logits resized to the
input's size.

The resizes are those of the reference (fluid's ``resize_bilinear``): the head's with
corners aligned (fluid's default), the fusions' as ``fuse_upsample`` says. PaddleX 1.x,
which the zoo's numbers and exported models come from, upsamples in its fusions with
``align_corners=False, align_mode=1`` ("bilinear", the default); PaddleSeg's legacy
HRNet, which trained the archive ``hrnet_w18_bn_cityscapes``, with corners aligned
("bilinear_align_corners"). The tensors are the same either way; the zoo row records
the archive's choice (``legacy_args``), so ``create_model("HRNet_W18", pretrained=archive)``
builds with corners aligned unless ``fuse_upsample`` is given.

The state dict: the body under ``backbone.`` (the classifier's keys, PaddleClas's
names), ``last_conv`` and ``cls``; ``weight_aliases()`` gives the Paddle 1.x variable
names of the zoo's archive (``legacy_names.segmentation_weight_names``).

PaddleSeg 2.x's ``FCN`` on its ``HRNet_W18``/``W48`` (``paddleseg/models/fcn.py``,
``backbones/hrnet.py``), which PaddleX 2.x's ``HRNet`` builds, is the same network with
``pad_same`` (its stride-2 convs pad "same"), ``fuse_upsample="bilinear_half_pixel"``,
``conv_bias`` (a bias on the head's two convs) and ``align_corners=False`` (the head's
resizes half-pixel): the ``HRNet_W18_PaddleSeg`` and ``HRNet_W48_PaddleSeg`` presets;
``weight_aliases()`` then gives PaddleSeg 2.x's state-dict keys
(``legacy_names.paddleseg_segmentation_names``).
"""

from __future__ import annotations

import paddle
from paddle import nn

from pxcore.errors import PxError
from pxcore.nn.resize import resize_bilinear

from .hrnet import ConvBN, HRNet, branch_channels


class HRNetSegmentation(nn.Layer):
    """PaddleX 1.x's segmentation HRNet of ``width`` (18 in the zoo). ``forward(images)``
    takes [N, 3, H, W] with H and W multiples of 32 and returns the logits
    [N, num_classes, H, W], in training and evaluation alike."""

    # Weights for another class count leave the classifier conv freshly initialised.
    head_prefixes = ("cls.",)
    # One output, trained with one loss (PaddleX: softmax cross-entropy on the logits).
    loss_weights = (1.0,)

    def __init__(self, num_classes: int = 19, width: int = 18,
                 fuse_upsample: str = "bilinear", pad_same: bool = False,
                 conv_bias: bool = False, align_corners: bool = True) -> None:
        super().__init__()
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise PxError(f"HRNetSegmentation: num_classes must be a positive integer, "
                          f"got {num_classes!r}")
        if fuse_upsample in ("nearest", "nearest_align_corners"):
            raise PxError("HRNetSegmentation: the segmentation HRNet upsamples bilinearly in its "
                          "fusions: fuse_upsample must be 'bilinear' (PaddleX 1.x) or "
                          "'bilinear_align_corners' (PaddleSeg's legacy HRNet) or "
                          "'bilinear_half_pixel' (PaddleSeg 2.x)")
        self.num_classes, self.conv_bias, self.align_corners = num_classes, conv_bias, align_corners
        self.backbone = HRNet(width=width, fuse_upsample=fuse_upsample, pad_same=pad_same)
        channels = sum(branch_channels(width))
        self.last_conv = ConvBN(channels, channels, 1, bias=conv_bias)
        self.cls = nn.Conv2D(channels, num_classes, 1, bias_attr=None if conv_bias else False,
                             weight_attr=paddle.ParamAttr(
                                 initializer=nn.initializer.KaimingUniform()))  # fluid's MSRA() default

    def forward(self, images):
        branches = self.backbone.forward_features(images)
        finest = branches[0]
        corners = self.align_corners
        joined = paddle.concat(
            [finest, *[resize_bilinear(b, finest, align_corners=corners) for b in branches[1:]]],
            axis=1)
        logits = self.cls(self.last_conv(joined))
        return resize_bilinear(logits, images, align_corners=corners)

    def weight_aliases(self) -> dict[str, str]:
        """Paddle 1.x variable names (the zoo's archive, PaddleX 1.x's program) -> our keys;
        with ``conv_bias``, PaddleSeg 2.x's FCN keys (a PaddleX 2.x ``model.pdparams``)."""
        from .legacy_names import checked_segmentation_aliases, paddleseg_segmentation_names

        if self.conv_bias:
            return paddleseg_segmentation_names()
        return checked_segmentation_aliases(self)
