"""The hooks pxcore calls. Every spec is generated from the two tables below; nothing
is imported until a part is built."""

from __future__ import annotations

import pxcore

_MODULE = "pxcore_darknet.darknet"

# Backbone name -> architecture arguments. The backbone is the network the zoo's
# ImageNet weights were trained as (ReLU); YOLOv3 builds it with act="leaky_relu".
ARCHITECTURES = {
    "DarkNet53": {"depth": 53, "act": "relu"},
}

# Zoo model -> (architecture, what its weights are).
MODELS = {
    "DarkNet53": ("DarkNet53", "ImageNet-1k"),
}


@pxcore.hookimpl
def px_register_backbones(registry):
    for name, arch_args in ARCHITECTURES.items():
        registry.add(name=name, factory=f"{_MODULE}:DarkNet", defaults=dict(arch_args),
                     summary=f"DarkNet-{arch_args['depth']} feature levels at strides 4-32 "
                             "(YOLOv3 takes 8, 16, 32; PaddleClas layout)")


@pxcore.hookimpl
def px_register_models(registry):
    for name, (arch, weights) in MODELS.items():
        arch_args = ARCHITECTURES[arch]
        registry.add(
            name=name,
            factory=f"{_MODULE}:DarkNetClassifier",
            defaults={**arch_args, "num_classes": 1000},
            task="classification",
            paddlex={"class": name},
            metadata={"input_size": 224, "architecture": arch},
            summary=f"DarkNet-{arch_args['depth']} classifier ({weights} weights; "
                    "PaddleClas tensor names)",
        )


@pxcore.hookimpl
def px_register_zoo(registry):
    from .zoo_rows import ROWS  # the zoo rows this plugin owns

    for row in ROWS:
        registry.add(row)
