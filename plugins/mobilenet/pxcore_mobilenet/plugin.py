"""The hooks pxcore calls. Every spec is generated from the two tables below; nothing
is imported until a part is built."""

from __future__ import annotations

import pxcore

_PACKAGE = "pxcore_mobilenet"

# Backbone name -> (module, backbone class, classifier class, architecture arguments).
ARCHITECTURES = {
    "MobileNetV1": ("mobilenet_v1", "MobileNetV1", "MobileNetV1Classifier", {}),
    "MobileNetV2": ("mobilenet_v2", "MobileNetV2", "MobileNetV2Classifier", {}),
    "MobileNetV3_large": ("mobilenet_v3", "MobileNetV3", "MobileNetV3Classifier", {"config": "large"}),
    "MobileNetV3_small": ("mobilenet_v3", "MobileNetV3", "MobileNetV3Classifier", {"config": "small"}),
}

# Zoo model -> (architecture, what its weights are). The _ssld rows are the same
# networks, distilled (PaddleClas's SSLD) to a higher accuracy.
MODELS = {
    "MobileNetV1": ("MobileNetV1", "ImageNet-1k"),
    "MobileNetV2": ("MobileNetV2", "ImageNet-1k"),
    "MobileNetV3_large": ("MobileNetV3_large", "ImageNet-1k"),
    "MobileNetV3_small": ("MobileNetV3_small", "ImageNet-1k"),
    "MobileNetV3_large_ssld": ("MobileNetV3_large", "ImageNet-1k, SSLD distillation"),
    "MobileNetV3_small_ssld": ("MobileNetV3_small", "ImageNet-1k, SSLD distillation"),
}

WIDTH = 1.0  # every zoo row is width x1.0; the classes take ``scale`` for the others


@pxcore.hookimpl
def px_register_backbones(registry):
    for name, (module, backbone, _, arch_args) in ARCHITECTURES.items():
        registry.add(name=name, factory=f"{_PACKAGE}.{module}:{backbone}",
                     defaults={**arch_args, "scale": WIDTH},
                     summary=f"{name} x{WIDTH} feature levels at strides 4-32 (PaddleClas layout)")


@pxcore.hookimpl
def px_register_models(registry):
    for name, (arch, weights) in MODELS.items():
        module, _, classifier, arch_args = ARCHITECTURES[arch]
        registry.add(
            name=name,
            factory=f"{_PACKAGE}.{module}:{classifier}",
            defaults={**arch_args, "scale": WIDTH, "num_classes": 1000},
            task="classification",
            paddlex={"class": name},
            metadata={"input_size": 224, "architecture": arch},
            summary=f"{arch} x{WIDTH} classifier ({weights} weights; PaddleClas tensor names)",
        )


@pxcore.hookimpl
def px_register_zoo(registry):
    from .zoo_rows import ROWS  # the zoo rows this plugin owns

    for row in ROWS:
        registry.add(row)
