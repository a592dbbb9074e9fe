"""The hooks pxcore calls. Every variant is generated from the table below; nothing is
imported until a part is built."""

from __future__ import annotations

import pxcore

_BACKBONE_FACTORY = "pxcore_xception.xception:Xception"
_FACTORY = "pxcore_xception.xception:XceptionClassifier"

# zoo name -> depth: one backbone and one ImageNet classifier each, the DeepLab variant
# the zoo's weights are for (PaddleClas's Xception41_deeplab, Xception65_deeplab). The
# class also builds depth 71.
ARCHITECTURES = {
    "Xception41": 41,
    "Xception65": 65,
}
# Classifiers run at output stride 32; DeepLab asks the backbone for 16 (or 8).
BACKBONE_OUTPUT_STRIDE = 32


@pxcore.hookimpl
def px_register_backbones(registry):
    for name, depth in ARCHITECTURES.items():
        registry.add(name=name, factory=_BACKBONE_FACTORY,
                     defaults={"depth": depth, "output_stride": BACKBONE_OUTPUT_STRIDE},
                     summary=f"Xception-{depth} (DeepLab variant) backbone, levels at strides "
                             "4-32; output_stride 32/16/8")


@pxcore.hookimpl
def px_register_models(registry):
    for name, depth in ARCHITECTURES.items():
        registry.add(
            name=name,
            factory=_FACTORY,
            defaults={"depth": depth, "num_classes": 1000},
            task="classification",
            paddlex={"class": name},
            metadata={"input_size": 224},
            summary=f"Xception-{depth} (DeepLab variant) ImageNet classifier "
                    "(PaddleClas tensor names)",
        )


@pxcore.hookimpl
def px_register_zoo(registry):
    from .zoo_rows import ROWS  # the zoo rows this plugin owns

    for row in ROWS:
        registry.add(row)
