"""Object-detection data in PaddleX's two formats, Pascal VOC (file list + XML per image)
and COCO (one JSON), loaded into one sample dict and exported as one COCO ground truth,
so every detection transform, model and evaluator serves both.

Every annotation is parsed and checked when the data set is made, so a bad box fails
before training starts, with the file (and line or object) named. Boxes are x1, y1, x2,
y2 in continuous pixel coordinates (COCO's convention: a box over the whole image is
0, 0, width, height); they are clipped to the image.

Modules: ``validation`` (the hardened XML/JSON readers and the field checks),
``writing`` (VOC XML, COCO categories, polygon areas), ``dataset`` (what VOC and COCO
share), ``voc`` and ``coco`` (the two data sets).
"""

from .coco import CocoDetection
from .dataset import DetectionDataset
from .validation import check_segmentation, clip_box, parse_xml, read_json
from .voc import VOCDetection
from .writing import coco_categories, polygon_area, write_voc_xml

__all__ = [
    "CocoDetection", "DetectionDataset", "VOCDetection", "check_segmentation", "clip_box",
    "coco_categories", "parse_xml", "polygon_area", "read_json", "write_voc_xml",
]
