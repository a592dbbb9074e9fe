"""The hooks pxcore calls: the zoo's YOLOv3 rows (one per backbone) and PP-YOLO, all
presets of one class, plus the YOLOv3 FPN as a neck."""

from __future__ import annotations

import pxcore

_FACTORY = "pxcore_yolov3.yolov3:YOLOv3"

# zoo name -> backbone and its arguments. PaddleDetection's YOLOv3 DarkNet53 uses
# leaky ReLU (the ImageNet classifier's weights use ReLU); its MobileNetV1 taps the
# first block at strides 8 and 16 (conv3_2, conv4_2), not the last.
YOLOV3_BACKBONES = {
    "YOLOv3-DarkNet53": ("DarkNet53", {"act": "leaky_relu"}),
    "YOLOv3-MobileNetV1": ("MobileNetV1", {"level_blocks": (3, 5, 12)}),
    "YOLOv3-MobileNetV3_large": ("MobileNetV3_large", {}),
    "YOLOv3-ResNet34": ("ResNet34", {}),
}

# PP-YOLO (PaddleDetection's ppyolo_r50vd_dcn): the tricks of the paper as options.
PPYOLO = {
    "backbone": "ResNet50_vd",
    "backbone_args": {"dcn_stages": [3]},
    "coord_conv": True,
    "spp": True,
    "drop_block": True,
    "scale_x_y": 1.05,
    "iou_loss_weight": 2.5,
    "iou_aware": True,
    "iou_aware_factor": 0.4,
    "nms": {"type": "matrix", "score_threshold": 0.01, "post_threshold": 0.01,
            "nms_top_k": -1, "keep_top_k": 100},
}

# PaddleX trained and evaluated YOLOs at 608x608 (multi-scale 320..608 in training).
_METADATA = {"input_size": 608, "min_input_size": 32, "test_input_size": 64}


@pxcore.hookimpl
def px_register_necks(registry):
    registry.add(name="YOLOv3FPN", factory="pxcore_yolov3.yolov3:YOLOv3FPN",
                 summary="YOLOv3's detection blocks over three levels (CoordConv/SPP/DropBlock options)")


@pxcore.hookimpl
def px_register_models(registry):
    for name, (backbone, args) in YOLOV3_BACKBONES.items():
        registry.add(name=name, factory=_FACTORY,
                     defaults={"num_classes": 80, "backbone": backbone, "backbone_args": args},
                     task="detection", paddlex={"class": "YOLOv3", "backbone": backbone},
                     metadata=_METADATA, summary=f"YOLOv3 on {backbone}")
    registry.add(name="PPYOLO", factory=_FACTORY, defaults={"num_classes": 80, **PPYOLO},
                 task="detection", paddlex={"class": "PPYOLO", "backbone": "ResNet50_vd_ssld"},
                 metadata={**_METADATA, "use_ema": True},  # PP-YOLO trains with an EMA
                 summary="PP-YOLO: YOLOv3 on ResNet50_vd-DCN with CoordConv, SPP, DropBlock, "
                         "IoU-aware branch and Matrix NMS")


@pxcore.hookimpl
def px_register_zoo(registry):
    from .zoo_rows import ROWS  # the zoo rows this plugin owns

    for row in ROWS:
        registry.add(row)
