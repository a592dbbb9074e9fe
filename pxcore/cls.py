"""PaddleX 1.x spelling for classification: ``pxcore.cls.ResNet50(num_classes=10)``."""

from .paddlex import namespace

__getattr__, __dir__ = namespace("cls")
