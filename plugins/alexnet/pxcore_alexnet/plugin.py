"""The hooks pxcore calls. Every spec is generated from the two tables below; nothing
is imported until a part is built."""

from __future__ import annotations

import pxcore

_MODULE = "pxcore_alexnet.alexnet"

# Backbone name -> architecture arguments (AlexNet has one configuration).
ARCHITECTURES = {
    "AlexNet": {},
}

# Zoo model -> (architecture, what its weights are).
MODELS = {
    "AlexNet": ("AlexNet", "ImageNet-1k"),
}

# The fully connected layers take the 6x6 map of a 223-254 px input; the zoo's is 224.
INPUT_SIZE = 224
# The unpadded pools put every level one pixel short of size/stride unless the input is
# 32k - 1 px; 63 is the smallest such size, and what conformance feeds the backbone.
BACKBONE_TEST_SIZE = 63


@pxcore.hookimpl
def px_register_backbones(registry):
    for name, arch_args in ARCHITECTURES.items():
        registry.add(name=name, factory=f"{_MODULE}:AlexNet", defaults=dict(arch_args),
                     metadata={"test_input_size": BACKBONE_TEST_SIZE},
                     summary=f"{name} convolutions, feature levels at strides 4-32 "
                             "(PaddleClas layout)")


@pxcore.hookimpl
def px_register_models(registry):
    for name, (arch, weights) in MODELS.items():
        registry.add(
            name=name,
            factory=f"{_MODULE}:AlexNetClassifier",
            defaults={**ARCHITECTURES[arch], "num_classes": 1000},
            task="classification",
            paddlex={"class": name},
            metadata={"input_size": INPUT_SIZE, "min_input_size": INPUT_SIZE, "architecture": arch},
            summary=f"{arch} classifier for {INPUT_SIZE} px inputs ({weights} weights; "
                    "PaddleClas tensor names)",
        )


@pxcore.hookimpl
def px_register_zoo(registry):
    from .zoo_rows import ROWS  # the zoo rows this plugin owns

    for row in ROWS:
        registry.add(row)
