"""The hooks pxcore calls. Every variant is generated from the table below; nothing is
imported until a part is built."""

from __future__ import annotations

import pxcore

_BACKBONE_FACTORY = "pxcore_densenet.densenet:DenseNet"
_FACTORY = "pxcore_densenet.densenet:DenseNetClassifier"

# zoo name -> depth: one backbone and one ImageNet classifier each. The class also
# builds depths 169 and 264 (PaddleClas has them; the zoo does not).
ARCHITECTURES = {
    "DenseNet121": 121,
    "DenseNet161": 161,
    "DenseNet201": 201,
}


@pxcore.hookimpl
def px_register_backbones(registry):
    for name, depth in ARCHITECTURES.items():
        registry.add(name=name, factory=_BACKBONE_FACTORY, defaults={"depth": depth},
                     summary=f"DenseNet-{depth} backbone, dense block outputs C2..C5")


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
            summary=f"DenseNet-{depth} ImageNet classifier (PaddleClas tensor names)",
        )


@pxcore.hookimpl
def px_register_zoo(registry):
    from .zoo_rows import ROWS  # the zoo rows this plugin owns

    for row in ROWS:
        registry.add(row)
