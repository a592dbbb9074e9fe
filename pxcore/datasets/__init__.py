"""Data sets in the formats PaddleX users have: ``ImageNet`` (file lists with
``path label`` lines and a labels.txt) and ``ImageFolder`` (one folder per class) for
classification; ``VOCDetection`` and ``CocoDetection`` for detection, with converters
between them and from LabelMe; ``SegDataset`` and ``Cityscapes`` for semantic
segmentation; ``make_shapes`` writes a small detection set offline; ``dataset_anchors``
fits anchor sizes to a detection set's boxes (``cluster_anchors`` to any box sizes);
``check`` finds every problem in a data set at once (``px check-dataset``)."""

from .anchors import cluster_anchors, dataset_anchors
from .base import DatasetError
from .checker import check
from .convert import (
    coco_to_voc,
    convert_labelme,
    labelme_to_coco,
    labelme_to_seg,
    labelme_to_voc,
    voc_to_coco,
)
from .detection import CocoDetection, DetectionDataset, VOCDetection
from .imagenet import ImageFolder, ImageNet
from .segmentation import Cityscapes, SegDataset
from .shapes import make_shapes

__all__ = [
    "Cityscapes", "CocoDetection", "DatasetError", "DetectionDataset", "ImageFolder", "ImageNet", "VOCDetection",
    "check", "cluster_anchors", "coco_to_voc", "convert_labelme", "dataset_anchors", "labelme_to_coco", "labelme_to_seg", "labelme_to_voc",
    "make_shapes", "SegDataset", "voc_to_coco",
]
