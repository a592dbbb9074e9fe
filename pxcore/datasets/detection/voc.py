"""Pascal VOC detection data: a file list of image and XML paths and a label list."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

from ..base import DatasetError, is_file
from .dataset import DetectionDataset, Record, image_size
from .validation import clip_box, parse_xml, xml_number, xml_text

logger = logging.getLogger("pxcore")


class VOCDetection(DetectionDataset):
    """Pascal VOC: ``file_list`` lines are ``JPEGImages/x.jpg Annotations/x.xml``
    (relative to ``data_dir``, no spaces in the paths, as in PaddleX); ``label_list`` has
    one class name per line. Sample ``im_id`` is the line's position, from 1."""

    def __init__(self, data_dir: str | os.PathLike, file_list: str | os.PathLike,
                 label_list: str | os.PathLike, transforms: Any = None, shuffle: bool = False,
                 num_workers: Any = "auto") -> None:
        super().__init__(transforms, shuffle, num_workers)
        entries = self._open_lists(data_dir, file_list, label_list)
        self.label_list = Path(label_list)
        class_ids = {name: i for i, name in enumerate(self.labels)}
        for line, where in entries:
            parts = line.split()
            if len(parts) != 2:
                raise DatasetError(f"{where}: {line!r} should be 'JPEGImages/x.jpg Annotations/x.xml' "
                                   "(two paths without spaces; rename files whose names have spaces)")
            image, xml = (self.data_dir / p for p in parts)
            if not is_file(image):
                raise DatasetError(f"{where}: image {str(image)!r} does not exist")
            record = self._parse(xml, image, parts[0], len(self.samples) + 1,
                                 f"{xml} (from {where})", class_ids)
            self.samples.append(record)
        if not self.samples:
            raise DatasetError(f"file list {str(self.file_list)!r} lists no images")
        if self.num_negatives:
            logger.info("%s: %d of %d images have no objects (kept as negatives)",
                        self.file_list, self.num_negatives, len(self))

    def _parse(self, xml: Path, image: Path, file_name: str, im_id: int, where: str,
               class_ids: dict[str, int]) -> Record:
        root = parse_xml(xml)
        size = root.find("size")
        width = height = 0
        if size is not None and size.find("width") is not None:
            width, height = (xml_number(size, t, f"{where}: <size>") for t in ("width", "height"))
            if not (math.isfinite(width) and math.isfinite(height)):
                raise DatasetError(f"{where}: <size> {width:g}x{height:g} is not a finite size")
        if width <= 0 or height <= 0:  # some tools write 0: read the image instead
            width, height = image_size(image, where)
        record = Record(im_id, image, file_name, int(width), int(height), where)
        for k, obj in enumerate(root.iter("object"), 1):
            here = f"{where}, object {k}"
            name = xml_text(obj, "name", here)
            if name not in class_ids:
                raise DatasetError(f"{here}: class {name!r} is not in the label list "
                                   f"{str(self.label_list)!r}; add it there or fix the name")
            bndbox = obj.find("bndbox")
            if bndbox is None:
                raise DatasetError(f"{here} ({name!r}): <bndbox> is missing")
            box = [xml_number(bndbox, t, f"{here} ({name!r})") for t in ("xmin", "ymin", "xmax", "ymax")]
            box = clip_box(box, record.width, record.height, f"{here} ({name!r})")
            difficult = obj.find("difficult")
            try:
                difficult = int(float(difficult.text)) if difficult is not None and difficult.text else 0
            except (ValueError, OverflowError):  # OverflowError: 'inf'
                raise DatasetError(f"{here}: <difficult> {difficult.text!r} is not 0 or 1") from None
            record.add(box, class_ids[name], difficult=difficult)
        return record
