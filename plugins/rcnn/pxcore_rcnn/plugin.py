"""The hooks pxcore calls: the zoo's Faster R-CNN and Mask R-CNN rows, each a preset of
one class (``pxcore_rcnn.rcnn:RCNN``), generated from the tables below; and the FPN
as a neck any detector can build from a backbone's report."""

from __future__ import annotations

import pxcore

_FACTORY = "pxcore_rcnn.rcnn:RCNN"

# (backbone, with FPN) per zoo row; the name spells both, as the zoo does.
FASTER_RCNN = ["ResNet18-FPN", "ResNet50", "ResNet50_vd", "ResNet101", "ResNet50-FPN",
               "ResNet50_vd-FPN", "ResNet101-FPN", "ResNet101_vd-FPN", "HRNet_W18-FPN"]
MASK_RCNN = ["ResNet18-FPN", "ResNet50", "ResNet50-FPN", "ResNet50_vd-FPN", "ResNet101-FPN",
             "ResNet101_vd-FPN", "HRNet_W18-FPN"]

# PaddleX evaluated R-CNNs with the short side at 800 (long side at most 1333), padded
# to a multiple of 32; tests use small inputs.
# PaddleX 1.x's FasterRCNN / MaskRCNN.train defaults (a 12-epoch schedule).
_TRAIN_DEFAULTS = {"train_batch_size": 2, "learning_rate": 0.0025, "warmup_steps": 500,
                   "warmup_start_lr": 1.0 / 1200, "lr_decay_epochs": (8, 11)}
_METADATA = {"input_size": 800, "max_input_size": 1333, "resize": "short", "pad_to": 32,
             "min_input_size": 32, "test_input_size": 64, "train_defaults": _TRAIN_DEFAULTS}


def parse(layout: str) -> tuple[str, bool]:
    """``"ResNet50_vd-FPN"`` -> ("ResNet50_vd", True)."""
    backbone, _, neck = layout.partition("-")
    return backbone, neck == "FPN"


def presets():
    """(name, arguments, task, PaddleX class) for every row."""
    for arch, layouts, task in (("FasterRCNN", FASTER_RCNN, "detection"),
                                ("MaskRCNN", MASK_RCNN, "instance_segmentation")):
        for layout in layouts:
            backbone, fpn = parse(layout)
            args = {"num_classes": 80, "backbone": backbone, "fpn": fpn,
                    "with_mask": arch == "MaskRCNN"}
            if backbone.startswith("HRNet"):
                args["neck"] = "HRFPN"  # HRNetV2p's pyramid, as PaddleDetection's rows have
            yield f"{arch}-{layout}", args, task, arch


@pxcore.hookimpl
def px_register_necks(registry):
    registry.add(name="FPN", factory="pxcore_rcnn.fpn:FPN",
                 summary="feature pyramid: lateral 1x1, top-down sum, 3x3 outputs, and P6 for the RPN")
    registry.add(name="HRFPN", factory="pxcore_rcnn.hrfpn:HRFPN",
                 summary="HRNetV2p pyramid: branches joined at the finest, pooled to each level")


@pxcore.hookimpl
def px_register_models(registry):
    for name, args, task, arch in presets():
        backbone, fpn = args["backbone"], args["fpn"]
        layout = "FPN" if fpn else "C4"
        registry.add(name=name, factory=_FACTORY, defaults=args, task=task,
                     paddlex={"class": arch, "backbone": backbone, "with_fpn": fpn},
                     metadata=_METADATA,
                     summary=f"{'Mask' if args['with_mask'] else 'Faster'} R-CNN on {backbone} ({layout})")


@pxcore.hookimpl
def px_register_zoo(registry):
    from .zoo_rows import ROWS  # the zoo rows this plugin owns

    for row in ROWS:
        registry.add(row)
