"""Pre-processing and augmentation on sample dicts (see ``base``): one set for all tasks,
each transform moving whatever a sample carries. ``pxcore.transforms.ResizeByShort`` etc.
"""

from .base import Compose, Transform, build_transform, compose
from .image import (
    CenterCrop,
    Normalize,
    RandomCrop,
    RandomDistort,
    RandomHorizontalFlip,
    RandomRotate,
    RandomVerticalFlip,
    Resize,
    ResizeByShort,
)

__all__ = ["CenterCrop", "Compose", "Normalize", "RandomCrop", "RandomDistort",
           "RandomHorizontalFlip", "RandomRotate", "RandomVerticalFlip", "Resize",
           "ResizeByShort", "Transform", "build_transform", "compose"]
