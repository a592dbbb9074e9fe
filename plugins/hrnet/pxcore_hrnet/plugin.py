"""The hooks pxcore calls. Every spec is generated from the table below; nothing is
imported until a part is built."""

from __future__ import annotations

import pxcore

_BACKBONE = "pxcore_hrnet.hrnet:HRNet"
_CLASSIFIER = "pxcore_hrnet.hrnet:HRNetClassifier"
_SEGMENTER = "pxcore_hrnet.seg:HRNetSegmentation"

# Zoo name -> (width, PaddleClas's class name). Only W18 is in the zoo; the classes take
# any ``width`` (PaddleClas has 18, 30, 32, 40, 44, 48, 60 and 64).
ARCHITECTURES = {
    "HRNet_W18": (18, "HRNet_W18_C"),
}

# Segmentation preset -> width. The zoo's Cityscapes row "HRNet_W18" is built by
# "HRNet_W18_seg" (its zoo row in zoo_rows.py names it): one zoo name, two architectures.
SEGMENTATION = {
    "HRNet_W18_seg": 18,
}
# PaddleX 1.x trained its Cityscapes rows on 769x769 crops, inputs scaled to [-1, 1]
# (mean and std 0.5); HRNet.train's defaults (momentum 0.9, weight decay 5e-4, the
# learning rate decaying polynomially to 0).
_SEG_METADATA = {
    "input_size": 769, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
    "test_input_size": 64, "size_divisor": 32,
    "train_defaults": {"train_batch_size": 2, "learning_rate": 0.01, "lr_decay_power": 0.9},
}


# PaddleSeg 2.x's FCN on HRNet_W18 / HRNet_W48 as PaddleX 2.x's HRNet builds it
# (align_corners=False; paddlex/cv/models/segmenter.py): the same class, see seg.py.
PADDLESEG = {"HRNet_W18_PaddleSeg": 18, "HRNet_W48_PaddleSeg": 48}
PADDLESEG_OPTIONS = {"fuse_upsample": "bilinear_half_pixel", "pad_same": True,
                     "conv_bias": True, "align_corners": False}


@pxcore.hookimpl
def px_register_backbones(registry):
    for name, (width, _) in ARCHITECTURES.items():
        registry.add(name=name, factory=_BACKBONE, defaults={"width": width},
                     summary=f"HRNet-W{width} backbone: its four branches C2..C5 (strides 4-32, "
                             f"{width}-{width * 8} channels)")


@pxcore.hookimpl
def px_register_models(registry):
    for name, (width, paddleclas_name) in ARCHITECTURES.items():
        registry.add(
            name=name,
            factory=_CLASSIFIER,
            defaults={"width": width, "num_classes": 1000},
            task="classification",
            paddlex={"class": paddleclas_name},
            metadata={"input_size": 224, "architecture": paddleclas_name},
            summary=f"HRNet-W{width}-C ImageNet classifier (PaddleClas tensor names)",
        )
    for name, width in SEGMENTATION.items():
        registry.add(
            name=name,
            factory=_SEGMENTER,
            defaults={"width": width, "num_classes": 19},
            task="semantic_segmentation",
            paddlex={"class": "HRNet", "width": width},
            metadata={**_SEG_METADATA, "architecture": f"HRNet_W{width} (PaddleX 1.x HRNet)"},
            summary=f"HRNet-W{width} segmentation: four branches joined at stride 4, 1x1 convs "
                    "(PaddleX 1.x / PaddleSeg legacy tensor names)",
        )
    for name, width in PADDLESEG.items():
        registry.add(
            name=name,
            factory=_SEGMENTER,
            defaults={"width": width, "num_classes": 2, **PADDLESEG_OPTIONS},
            task="semantic_segmentation",
            metadata={**_SEG_METADATA, "architecture": f"HRNet_W{width} (PaddleSeg 2.x FCN)"},
            summary=f"HRNet-W{width} segmentation as PaddleSeg 2.x / PaddleX 2.x build it: "
                    "'same'-padded stride-2 convs, half-pixel resizes, a biased FCN head",
        )


@pxcore.hookimpl
def px_register_zoo(registry):
    from .zoo_rows import ROWS  # the zoo rows this plugin owns

    for row in ROWS:
        registry.add(row)
