"""What the VOC and COCO data sets share: one record per image, parsed once, and
``DetectionDataset``'s sample dict, negatives count and export as COCO ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...data.images import read_image
from ..base import Dataset, DatasetError
from .writing import coco_categories, polygon_area


def image_size(path: Path, where: str) -> tuple[int, int]:
    """(width, height), decoding the image: only for annotations that omit the size."""
    try:
        image = read_image(path)
    except Exception as exc:
        raise DatasetError(f"{where}: the annotation has no image size and the image cannot "
                           f"be read ({exc})") from None
    return image.shape[1], image.shape[0]


class Record:
    """One image and its instances, parsed once at construction."""

    __slots__ = ("im_id", "path", "file_name", "width", "height", "boxes", "classes",
                 "is_crowd", "difficult", "segmentations", "areas", "ann_ids", "source")

    def __init__(self, im_id: int, path: Path, file_name: str, width: int, height: int,
                 source: str = "") -> None:
        self.im_id, self.path, self.file_name = im_id, path, file_name
        self.source = source  # where the annotation is, for errors found when loading
        self.width, self.height = width, height
        self.boxes: list[list[float]] = []
        self.classes: list[int] = []
        self.is_crowd: list[int] = []
        self.difficult: list[int] = []
        self.segmentations: list[Any] = []  # COCO's: polygons (list) or RLE (dict), or None
        self.areas: list[float | None] = []
        self.ann_ids: list[int | None] = []

    def add(self, box, class_id, is_crowd=0, difficult=0, segmentation=None, area=None,
            ann_id=None) -> None:
        self.boxes.append(box)
        self.classes.append(class_id)
        self.is_crowd.append(int(is_crowd))
        self.difficult.append(int(difficult))
        self.segmentations.append(segmentation)
        self.areas.append(area)
        self.ann_ids.append(ann_id)


class DetectionDataset(Dataset):
    """What VOC and COCO share: the sample dict, negatives counted, and ``to_coco``."""

    task = "detection"

    def __init__(self, transforms: Any = None, shuffle: bool = False, num_workers: Any = "auto"):
        super().__init__(transforms, shuffle, num_workers)
        self.samples: list[Record] = []
        self.has_polygons = False

    @property
    def num_negatives(self) -> int:
        """Images with no objects: kept, as PaddleX keeps them, to teach the background."""
        return sum(1 for record in self.samples if not record.boxes)

    def load(self, index: int) -> dict[str, Any]:
        record = self.samples[index]
        image = read_image(record.path)
        if image.shape[:2] != (record.height, record.width):
            raise DatasetError(
                f"{record.source}: image {str(record.path)!r} is {image.shape[1]}x{image.shape[0]} "
                f"but the annotation says {record.width}x{record.height}; fix the annotation's "
                "size (boxes drawn on a different size would be wrong)")
        n = len(record.boxes)
        sample = {
            "image": image,
            "im_id": record.im_id,
            "im_path": str(record.path),
            "im_shape": np.array(image.shape[:2], dtype=np.float32),
            "scale_factor": np.ones(2, dtype=np.float32),
            "gt_bbox": np.array(record.boxes, dtype=np.float32).reshape(n, 4),
            "gt_class": np.array(record.classes, dtype=np.int32),
            "is_crowd": np.array(record.is_crowd, dtype=np.int32),
            "difficult": np.array(record.difficult, dtype=np.int32),
        }
        if self.has_polygons:
            sample["gt_poly"] = [[list(map(float, p)) for p in s] if isinstance(s, list) else []
                                 for s in record.segmentations]
        return sample

    def to_coco(self) -> dict[str, Any]:
        """COCO ground truth for the samples: category id = class index + 1, image id =
        the samples' ``im_id``, difficult objects marked ``ignore``."""
        images, annotations = [], []
        next_id = 1 + max((a for r in self.samples for a in r.ann_ids if a is not None), default=0)
        for record in self.samples:
            images.append({"id": record.im_id, "file_name": record.file_name,
                           "width": record.width, "height": record.height})
            for k, (x1, y1, x2, y2) in enumerate(record.boxes):
                ann_id = record.ann_ids[k]
                if ann_id is None:
                    ann_id, next_id = next_id, next_id + 1
                segmentation = record.segmentations[k]
                area = record.areas[k]
                if area is None:
                    area = (polygon_area(segmentation) if isinstance(segmentation, list)
                            else (x2 - x1) * (y2 - y1))
                ann = {"id": ann_id, "image_id": record.im_id,
                       "category_id": record.classes[k] + 1,
                       "bbox": [x1, y1, x2 - x1, y2 - y1], "area": float(area),
                       "iscrowd": record.is_crowd[k], "ignore": record.difficult[k]}
                if segmentation is not None:
                    ann["segmentation"] = segmentation
                annotations.append(ann)
        return {"images": images, "annotations": annotations,
                "categories": coco_categories(self.labels)}

    def __repr__(self) -> str:
        return (f"<{type(self).__name__}: {len(self)} images ({self.num_negatives} without "
                f"objects), {self.num_classes} classes>")
