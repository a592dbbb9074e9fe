"""COCO detection data: one JSON of images, annotations and categories."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ..base import DatasetError, is_file
from .dataset import DetectionDataset, Record, image_size
from .validation import check_segmentation, clip_box, is_finite_number, is_id, read_json

logger = logging.getLogger("pxcore")


class CocoDetection(DetectionDataset):
    """COCO: ``ann_file`` is a COCO JSON whose image ``file_name`` is relative to
    ``data_dir``. Classes are the categories in id order: ``labels[i]`` is the category
    ``category_ids[i]``. Sample ``im_id`` is the COCO image id. Images without
    annotations are kept; zero-size boxes (a few in COCO itself) are skipped."""

    def __init__(self, data_dir: str | os.PathLike, ann_file: str | os.PathLike,
                 transforms: Any = None, shuffle: bool = False, num_workers: Any = "auto") -> None:
        super().__init__(transforms, shuffle, num_workers)
        self.data_dir = Path(data_dir)
        if not self.data_dir.is_dir():
            raise DatasetError(f"data_dir {str(self.data_dir)!r} is not a directory")
        self.ann_file = Path(ann_file)
        coco = read_json(ann_file)
        where = str(self.ann_file)
        if not isinstance(coco, dict):
            raise DatasetError(f"{where}: a COCO file is a JSON object with images, annotations, categories")
        for key in ("images", "annotations", "categories"):
            if not isinstance(coco.get(key), list):
                raise DatasetError(f"{where}: {key!r} is missing or not a list")
        categories = self._items(coco, "categories", ("id", "name"))
        seen: set[int] = set()
        for index, category in enumerate(categories):
            if not is_id(category["id"]) or category["id"] in seen:
                raise DatasetError(f"{where}: categories[{index}] id {category['id']!r} "
                                   + ("repeats" if is_id(category["id"]) else "is not an integer"))
            seen.add(category["id"])
        categories = sorted(categories, key=lambda c: c["id"])
        if not categories:
            raise DatasetError(f"{where}: 'categories' is empty; it needs one entry per class")
        self.category_ids = [c["id"] for c in categories]
        self.labels = [str(c["name"]) for c in categories]
        self.class_of_category = {cid: i for i, cid in enumerate(self.category_ids)}
        by_image: dict[Any, Record] = {}
        for image in self._items(coco, "images", ("id", "file_name")):
            here = f"{where}: image id {image['id']!r} ({image['file_name']!r})"
            if not isinstance(image["id"], int) or isinstance(image["id"], bool):
                raise DatasetError(f"{here}: image ids must be integers")
            if image["id"] in by_image:
                raise DatasetError(f"{here}: the image id repeats")
            if not isinstance(image["file_name"], str) or not image["file_name"]:
                raise DatasetError(f"{here}: file_name should be a path relative to data_dir")
            path = self.data_dir / image["file_name"]
            if not is_file(path):
                raise DatasetError(f"{here}: {str(path)!r} does not exist (file_name is "
                                   f"relative to data_dir {str(self.data_dir)!r})")
            width, height = image.get("width"), image.get("height")
            if not width or not height:
                width, height = image_size(path, here)
            elif not (is_finite_number(width) and is_finite_number(height) and width > 0 and height > 0):
                raise DatasetError(f"{here}: width {width!r} and height {height!r} should be "
                                   "positive numbers (or 0 to read them from the image)")
            by_image[image["id"]] = Record(image["id"], path, image["file_name"], int(width),
                                            int(height), here)
        skipped = 0
        for ann in self._items(coco, "annotations", ("id", "image_id", "category_id", "bbox")):
            here = f"{where}: annotation id {ann['id']} (image id {ann['image_id']})"
            if not is_id(ann["id"]):
                raise DatasetError(f"{here}: annotation ids must be integers")
            record = by_image.get(ann["image_id"]) if is_id(ann["image_id"]) else None
            if record is None:
                raise DatasetError(f"{here}: no image has id {ann['image_id']}")
            if not is_id(ann["category_id"]) or ann["category_id"] not in self.class_of_category:
                raise DatasetError(f"{here}: category_id {ann['category_id']} is not in "
                                   f"'categories' (ids {self.category_ids})")
            bbox = ann["bbox"]
            if (not isinstance(bbox, list) or len(bbox) != 4
                    or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in bbox)):
                raise DatasetError(f"{here}: bbox {bbox!r} should be 4 numbers [x, y, width, height]")
            if not all(is_finite_number(v) for v in bbox):
                raise DatasetError(f"{here}: bbox {bbox!r} has a number that is not finite")
            x, y, w, h = bbox
            try:
                box = clip_box([x, y, x + w, y + h], record.width, record.height, here)
            except DatasetError:
                skipped += 1
                continue
            for flag in ("iscrowd", "ignore"):
                if ann.get(flag, 0) not in (0, 1):
                    raise DatasetError(f"{here}: {flag} {ann[flag]!r} should be 0 or 1")
            if ann.get("area") is not None and not is_finite_number(ann["area"]):
                raise DatasetError(f"{here}: area {ann['area']!r} should be a finite number")
            segmentation = ann.get("segmentation") or None
            if segmentation is not None:
                check_segmentation(segmentation, record.width, record.height, here)
            if isinstance(segmentation, list):
                self.has_polygons = True
            record.add(box, self.class_of_category[ann["category_id"]],
                       is_crowd=ann.get("iscrowd", 0), difficult=ann.get("ignore", 0),
                       segmentation=segmentation, area=ann.get("area"), ann_id=ann["id"])
        self.samples = list(by_image.values())
        if not self.samples:
            raise DatasetError(f"{where}: 'images' is empty")
        if skipped:
            logger.warning("%s: skipped %d boxes that are empty once clipped to their image",
                           where, skipped)
        if self.num_negatives:
            logger.info("%s: %d of %d images have no objects (kept as negatives)",
                        where, self.num_negatives, len(self))

    def _items(self, coco: dict, key: str, required: tuple[str, ...]) -> list[dict]:
        for index, item in enumerate(coco[key]):
            if not isinstance(item, dict):
                raise DatasetError(f"{self.ann_file}: {key}[{index}] is not an object")
            missing = [k for k in required if k not in item]
            if missing:
                name = f"{key}[{index}]" + (f" (id {item['id']})" if "id" in item else "")
                raise DatasetError(f"{self.ann_file}: {name} lacks {missing}; COCO {key} need "
                                   f"{list(required)}")
        return coco[key]
