"""The hooks pxcore calls. Every spec is generated from the two tables below; nothing
is imported until a part is built."""

from __future__ import annotations

import pxcore

_MODULE = "pxcore_shufflenet.shufflenet_v2"

# Backbone name -> architecture arguments (ShuffleNetV2's width and activation).
ARCHITECTURES = {
    "ShuffleNetV2": {"scale": 1.0, "act": "relu"},
}

# Zoo model -> (architecture, what its weights are).
MODELS = {
    "ShuffleNetV2": ("ShuffleNetV2", "ImageNet-1k"),
}


def _describe(arch_args: dict) -> str:
    return f"ShuffleNetV2 x{arch_args['scale']} ({arch_args['act']})"


@pxcore.hookimpl
def px_register_backbones(registry):
    for name, arch_args in ARCHITECTURES.items():
        registry.add(name=name, factory=f"{_MODULE}:ShuffleNetV2", defaults=dict(arch_args),
                     summary=f"{_describe(arch_args)} feature levels at strides 4-32 "
                             "(PaddleClas layout)")


@pxcore.hookimpl
def px_register_models(registry):
    for name, (arch, weights) in MODELS.items():
        arch_args = ARCHITECTURES[arch]
        registry.add(
            name=name,
            factory=f"{_MODULE}:ShuffleNetV2Classifier",
            defaults={**arch_args, "num_classes": 1000},
            task="classification",
            paddlex={"class": name},
            metadata={"input_size": 224, "architecture": arch},
            summary=f"{_describe(arch_args)} classifier ({weights} weights; PaddleClas tensor names)",
        )


@pxcore.hookimpl
def px_register_zoo(registry):
    from .zoo_rows import ROWS  # the zoo rows this plugin owns

    for row in ROWS:
        registry.add(row)
