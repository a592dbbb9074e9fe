"""Segmentation rows against PaddleX 1.3's static networks (``paddlex/cv/nets``), which
pxcore follows: the zoo's archives are PaddleX 1.x / PaddleSeg legacy per-variable
files, and PaddleSeg 2.8's networks of the same names compute something else (biases on
every ConvBN, half-pixel resizes, other ASPP dropout: the layouts' "notes").

Each check runs the family's layout tool (plugins/<family>/tools/): pxcore's network
with random weights (batch norms calibrated) in one fresh process, the PaddleX 1.3
program through the tools' ``paddle.fluid`` stand-in in another (legacy static mode),
the same weights set by variable name; the program's variables must be exactly the
names ``weight_aliases()`` maps, with pxcore's shapes, and the logits (the program's
softmax input) must agree.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import paddlex_segmentation, require
from .harness import relative_difference
from .paddlex_segmentation import check_variables
from .tools import LEGACY_STATIC, call_tool, run_in_child


class Network(NamedTuple):
    family: str   # the plugin whose tool builds it
    preset: str


# Zoo row model -> its check. The rows of one model on two data sets (COCO, 81 classes;
# Cityscapes, 19) are checked each with its class count.
NETWORKS = {
    "DeepLabv3_MobileNetV2_x1.0": Network("deeplab", "DeepLabv3_MobileNetV2_x1.0"),
    "DeepLabv3_Xception65": Network("deeplab", "DeepLabv3_Xception65"),
    "DeepLabv3_MobileNetV3_large_x1_0_ssld": Network("deeplab", "DeepLabv3_MobileNetV3_large_x1_0_ssld"),
    "UNet": Network("unet", "UNet"),
    "Fast-SCNN": Network("fastscnn", "Fast-SCNN"),
    "HRNet_W18_seg": Network("hrnet", "HRNet_W18_seg"),
}


def _deeplab(preset: str, num_classes: int) -> dict[str, float]:
    paddlex = str(require("paddlex"))
    built = call_tool("deeplab", "make_layouts", "build", preset, num_classes)
    static = call_tool("deeplab", "make_layouts", "run_static", paddlex, built["args"],
                       built["archive"], built["image"], env=LEGACY_STATIC)
    manifest = built["manifest"]
    check_variables(preset, static["variables"], manifest["pdparams"], manifest["legacy"])
    return {"through weight_aliases()": relative_difference(built["ours"], static["logits"])}


def _unet_like(family: str, preset: str, num_classes: int, module: str, factory: str,
               overrides: dict) -> dict[str, float]:
    """UNet and Fast-SCNN (both families' mappings run reference/paddlex_segmentation.py): the logits,
    and Fast-SCNN's auxiliary logits (the resize in scope ``aux_layer_higher/``)."""
    paddlex = str(require("paddlex"))
    image = np.random.default_rng(1).standard_normal((2, 3, 64, 96)).astype("float32")
    built = run_in_child(paddlex_segmentation.build, preset, overrides, image)
    static = paddlex_segmentation.static_run(paddlex, module, factory,
                                             {"num_classes": num_classes, **overrides},
                                             built["archive"], image)
    check_variables(preset, static["variables"], built["shapes"], built["legacy"])
    recorded = static["recorded"]
    theirs = [next(v for kind, _, v in recorded if kind == "softmax")]
    aux = len(overrides.get("multi_loss_weight", [1.0])) - 1
    for scope in ("aux_layer_higher/", "aux_layer_lower/")[:aux]:
        theirs.append(next(v for kind, where, v in recorded if kind == "resize" and where == scope))
    assert len(built["ours"]) == len(theirs), f"{preset}: {len(built['ours'])} outputs, PaddleX {len(theirs)}"
    return {"by key": max(relative_difference(a, b) for a, b in zip(built["ours"], theirs, strict=True)),
            "through weight_aliases()": max(relative_difference(a, b) for a, b
                                            in zip(built["by_alias"], theirs, strict=True))}


def _hrnet() -> dict[str, float]:
    """PaddleX 1.3's program against pxcore's default fusions, and the same program with
    the fusions' resizes corner-aligned (PaddleSeg legacy's HRNet, which trained the
    archive) against ``fuse_upsample='bilinear_align_corners'``."""
    paddlex = str(require("paddlex"))
    differences = {}
    archive = None
    for fuse_upsample, corners in (("bilinear", False), ("bilinear_align_corners", True)):
        built = call_tool("hrnet", "make_seg_layouts", "build", fuse_upsample, archive)
        archive = built["archive"]
        static = call_tool("hrnet", "make_seg_layouts", "run_static", paddlex, corners, archive,
                           built["image"], env=LEGACY_STATIC)
        check_variables("HRNet_W18_seg", static["variables"], built["shapes"], built["legacy"])
        differences[f"fuse_upsample={fuse_upsample!r}"] = relative_difference(built["logits"],
                                                                              static["logits"])
    return differences


def check(model: str, num_classes: int) -> dict[str, float]:
    """Relative differences of pxcore's logits from PaddleX 1.3's program's."""
    network = NETWORKS[model]
    if network.family == "deeplab":
        return _deeplab(network.preset, num_classes)
    if network.family == "unet":
        return _unet_like("unet", "UNet", num_classes, "unet", "UNet",
                          {"num_classes": num_classes, "upsample_mode": "bilinear"})
    if network.family == "fastscnn":
        return _unet_like("fastscnn", "Fast-SCNN", num_classes, "fast_scnn", "FastSCNN",
                          {"num_classes": num_classes, "multi_loss_weight": [1.0, 0.4]})
    assert num_classes == 19, "the HRNet check builds the Cityscapes row's 19 classes"
    return _hrnet()


# PaddleSeg 2.8's layer modules whose names ``paddleseg.models.layers`` exports and the
# networks pxcore follows use (its package __init__ imports every layer there is).
PADDLESEG_LAYERS = ("activation", "layer_libs", "pyramid_pool", "wrap_functions")


def _no_pretrained_weights(model, pretrained) -> None:
    """PaddleSeg's ``load_pretrained_model``, which its backbones (``ResNet_vd``) call
    with ``pretrained=None`` on every build: nothing to load; a path would mean a download."""
    if pretrained is not None:
        raise ValueError(f"the reference checks build networks with random weights, not {pretrained!r}")


def paddleseg_network(module: str, factory: str, **args):
    """PaddleSeg 2.8's network ``factory`` of ``paddleseg/models/<module>.py`` (a PaddleX
    2.x segmenter's), imported through ``reference.loader`` with its registry and
    pretrained-weight helpers stubbed (nothing is downloaded) and ``layers`` filled from
    ``PADDLESEG_LAYERS``. Call it in a process of its own (``loader``'s rule)."""
    import importlib
    import sys
    from types import SimpleNamespace

    from .loader import import_module

    registry = SimpleNamespace(add_component=lambda component: component)
    stubs = {"paddleseg.cvlibs.manager": {"MODELS": registry, "BACKBONES": registry},
             "paddleseg.utils.utils": {"load_entire_model": None,
                                       "load_pretrained_model": _no_pretrained_weights}}
    import_module("paddleseg", "paddleseg.models.layers.activation", stubs)
    layers = sys.modules["paddleseg.models.layers"]
    sys.modules["paddleseg.utils"].utils = sys.modules["paddleseg.utils.utils"]
    for name in PADDLESEG_LAYERS:
        found = importlib.import_module(f"paddleseg.models.layers.{name}")
        layers.__dict__.update({k: v for k, v in vars(found).items() if not k.startswith("_")})
    return getattr(importlib.import_module(f"paddleseg.models.{module}"), factory)(**args)
