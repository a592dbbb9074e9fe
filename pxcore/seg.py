"""PaddleX 1.x spelling for semantic segmentation:
``pxcore.seg.DeepLabv3p(2, backbone="MobileNetV2_x1.0")``, ``pxcore.seg.HRNet(2, width=18)``."""

from .paddlex import namespace

__getattr__, __dir__ = namespace("seg")
