"""Data sets in the formats PaddleX users have: ``pxcore.datasets.ImageNet`` (file lists
with ``path label`` lines and a labels.txt) and ``ImageFolder`` (one folder per class)."""

from .base import DatasetError
from .imagenet import ImageFolder, ImageNet

__all__ = ["DatasetError", "ImageFolder", "ImageNet"]
