"""The hooks pxcore calls. Every spec is generated from the table below; nothing is
imported until a part is built."""

from __future__ import annotations

import pxcore

_BACKBONE = "pxcore_hrnet.hrnet:HRNet"
_CLASSIFIER = "pxcore_hrnet.hrnet:HRNetClassifier"

# Zoo name -> (width, PaddleClas's class name). Only W18 is in the zoo; the classes take
# any ``width`` (PaddleClas has 18, 30, 32, 40, 44, 48, 60 and 64).
ARCHITECTURES = {
    "HRNet_W18": (18, "HRNet_W18_C"),
}


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
