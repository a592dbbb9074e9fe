"""The hooks pxcore calls. Every variant is generated from the table below; nothing is
imported until a part is built."""

from __future__ import annotations

import pxcore

_FACTORY = "pxcore_resnet.resnet:ResNetClassifier"
_BACKBONE_FACTORY = "pxcore_resnet.resnet:ResNet"

# name -> (depth, variant): one backbone and one classifier each.
ARCHITECTURES = {
    "ResNet18": (18, "b"),
    "ResNet34": (34, "b"),
    "ResNet50": (50, "b"),
    "ResNet101": (101, "b"),
    "ResNet50_vd": (50, "vd"),
    "ResNet101_vd": (101, "vd"),
}
# classifiers that are another architecture with other weights (SSLD distillation).
WEIGHT_VARIANTS = {
    "ResNet50_vd_ssld": "ResNet50_vd",
    "ResNet101_vd_ssld": "ResNet101_vd",
}


def _describe(depth: int, variant: str) -> str:
    if variant == "vd":
        return f"ResNet-{depth}-vd (three-conv stem, average-pool shortcuts)"
    return f"ResNet-{depth}"


def model_names() -> list[str]:
    return [*ARCHITECTURES, *WEIGHT_VARIANTS]


def architecture_of(name: str) -> tuple[int, str]:
    """(depth, variant) of a registered model name."""
    return ARCHITECTURES[WEIGHT_VARIANTS.get(name, name)]


@pxcore.hookimpl
def px_register_backbones(registry):
    for name, (depth, variant) in ARCHITECTURES.items():
        registry.add(name=name, factory=_BACKBONE_FACTORY,
                     defaults={"depth": depth, "variant": variant},
                     summary=f"{_describe(depth, variant)} backbone, levels C2..C5")


@pxcore.hookimpl
def px_register_models(registry):
    for name in model_names():
        depth, variant = architecture_of(name)
        weights = " with SSLD-distilled weights" if name in WEIGHT_VARIANTS else ""
        registry.add(
            name=name,
            factory=_FACTORY,
            defaults={"depth": depth, "variant": variant, "num_classes": 1000},
            task="classification",
            paddlex={"class": name},
            metadata={"input_size": 224},
            summary=f"{_describe(depth, variant)} ImageNet classifier{weights}",
        )


@pxcore.hookimpl
def px_register_zoo(registry):
    from .zoo_rows import ROWS  # the zoo rows this plugin owns

    for row in ROWS:
        registry.add(row)
