"""The hooks pxcore calls: the zoo's UNet row (PaddleSeg's COCO weights, 81 classes) as
a preset of ``pxcore_unet.unet:UNet`` with PaddleX 1.x's defaults."""

from __future__ import annotations

import pxcore

# PaddleX 1.x UNet(num_classes=2, upsample_mode='bilinear', ...); the zoo row gives 81.
DEFAULTS = {"num_classes": 81, "upsample_mode": "bilinear", "align_corners": True}

# PaddleSeg legacy / PaddleX 1.x segmentation: 512x512 training crops, images scaled to
# [-1, 1] (mean 0.5, std 0.5 on a 0..1 scale).
METADATA = {"input_size": 512, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
            "test_input_size": 64, "size_divisor": 32}


# PaddleSeg 2.x's UNet as PaddleX 2.x builds it (UNet(num_classes=2, use_deconv=False,
# align_corners=False)): the same class with biased convs and half-pixel resizes.
PADDLESEG_DEFAULTS = {"num_classes": 2, "upsample_mode": "bilinear", "align_corners": False,
                      "conv_bias": True}


@pxcore.hookimpl
def px_register_models(registry):
    registry.add(name="UNet", factory="pxcore_unet.unet:UNet", defaults=DEFAULTS,
                 task="semantic_segmentation", paddlex={"class": "UNet"}, metadata=METADATA,
                 summary="UNet: 5-level conv-BN-ReLU encoder, bilinear-upsampling decoder "
                         "with skip concatenation")
    registry.add(name="UNet_PaddleSeg", factory="pxcore_unet.unet:UNet",
                 defaults=PADDLESEG_DEFAULTS, task="semantic_segmentation", metadata=METADATA,
                 summary="UNet as PaddleSeg 2.x / PaddleX 2.x build it: a bias on every conv, "
                         "half-pixel bilinear upsampling")


@pxcore.hookimpl
def px_register_zoo(registry):
    from .zoo_rows import ROWS  # the zoo rows this plugin owns

    for row in ROWS:
        registry.add(row)
