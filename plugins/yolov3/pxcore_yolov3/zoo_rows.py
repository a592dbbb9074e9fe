"""The zoo's rows of YOLOv3 and PP-YOLO: the seed's COCO detection table. Each needs
this plugin and the one of its backbone."""

from pxcore.zoo_tables import DET_URL, DETECTION

# backbone -> the distribution that provides it
_BACKBONE_PLUGIN = {"DarkNet53": "pxcore-darknet", "MobileNetV1": "pxcore-mobilenet",
                    "MobileNetV3_large": "pxcore-mobilenet", "ResNet34": "pxcore-resnet",
                    "ResNet50_vd_ssld": "pxcore-resnet"}


# What the per-variable .tar archives need: PaddleDetection 0.x trained and evaluated them
# counting whole pixels (``yolo_box`` clips to width - 1, the configs' NMS is
# ``normalized: false``, and 0.5's coco_eval.py ``bbox2out`` reports w = x2 - x1 + 1, which
# the table's box AP used). pxcore applies legacy_args to a Paddle 1.x per-variable layout
# only, so the two .pdparams rows (0.x's too) do not carry them.
LEGACY_ARGS = {"box_size_offset": 1}


def _row(cls, backbone, size_mb, latency_ms, box_ap, weights, name=None):
    return DETECTION.row(name or f"{cls}-{backbone}", size_mb, latency_ms, box_ap,
                         weights_url=DET_URL + weights,
                         paddlex={"class": cls, "backbone": backbone},
                         plugins=("pxcore-yolov3", _BACKBONE_PLUGIN[backbone]),
                         legacy_args=LEGACY_ARGS if weights.endswith(".tar") else {})


ROWS = [
    _row("PPYOLO", "ResNet50_vd_ssld", 329.1, None, 45.9, "ppyolo_2x.pdparams", name="PPYOLO"),
    _row("YOLOv3", "DarkNet53", 249.2, 20.252, 38.9, "yolov3_darknet.tar"),
    _row("YOLOv3", "MobileNetV1", 99.2, 11.834, 29.3, "yolov3_mobilenet_v1.tar"),
    _row("YOLOv3", "MobileNetV3_large", 100.7, None, 31.6, "yolov3_mobilenet_v3.pdparams"),
    _row("YOLOv3", "ResNet34", 170.3, 14.125, 36.2, "yolov3_r34.tar"),
]
