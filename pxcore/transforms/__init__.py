"""Pre-processing and augmentation on sample dicts (see ``base``): one set for all tasks,
each transform moving whatever a sample carries. ``pxcore.transforms.ResizeByShort`` etc.
"""

from .base import Compose, Transform, build_transform, compose
from .detection import (
    BatchRandomResize,
    MixupImage,
    PadBox,
    RandomExpand,
    attach_mixup,
    needs_mixup,
)
from .image import (
    CenterCrop,
    Normalize,
    Padding,
    RandomCrop,
    RandomDistort,
    RandomHorizontalFlip,
    RandomRotate,
    RandomVerticalFlip,
    Resize,
    ResizeByLong,
    ResizeByShort,
)
from .segmentation import RandomBlur, RandomPaddingCrop, ResizeStepScaling

__all__ = ["BatchRandomResize", "CenterCrop", "Compose", "MixupImage", "Normalize", "PadBox",
           "Padding", "RandomBlur", "RandomCrop", "RandomDistort", "RandomExpand",
           "RandomHorizontalFlip", "RandomPaddingCrop", "RandomRotate", "RandomVerticalFlip",
           "Resize", "ResizeByLong", "ResizeByShort", "ResizeStepScaling", "Transform",
           "attach_mixup", "build_transform", "compose", "needs_mixup"]
