"""PaddleX 1.x spelling for detection and instance segmentation:
``pxcore.det.YOLOv3(80, backbone="DarkNet53")``,
``pxcore.det.FasterRCNN(81, backbone="ResNet50_vd", with_fpn=True)`` (R-CNN class counts
include the background class, as in PaddleX)."""

from .paddlex import namespace

__getattr__, __dir__ = namespace("det")
