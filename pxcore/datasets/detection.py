"""Object-detection data in PaddleX's two formats, Pascal VOC (file list + XML per image)
and COCO (one JSON), loaded into one sample dict and exported as one COCO ground truth,
so every detection transform, model and evaluator serves both.

Every annotation is parsed and checked when the data set is made, so a bad box fails
before training starts, with the file (and line or object) named. Boxes are x1, y1, x2,
y2 in continuous pixel coordinates (COCO's convention: a box over the whole image is
0, 0, width, height); they are clipped to the image.
"""

from __future__ import annotations

import json
import logging
import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from ..data.images import read_image
from .base import Dataset, DatasetError, is_file

logger = logging.getLogger("pxcore")


class _NoDoctype(ET.TreeBuilder):
    """Refuses a DOCTYPE: it is where entities are declared (the "billion laughs" and
    external-entity attacks), and no annotation tool writes one."""

    def doctype(self, name, pubid, system):
        raise DatasetError("DOCTYPE")


def parse_xml(path: str | os.PathLike) -> ET.Element:
    """The root of the XML file at ``path``; DOCTYPE/ENTITY declarations are refused."""
    path = Path(path)
    if not is_file(path):
        raise DatasetError(f"annotation {str(path)!r} does not exist")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"annotation {str(path)!r} cannot be read ({exc})") from None
    parser = ET.XMLParser(target=_NoDoctype())
    try:
        parser.feed(data)
        return parser.close()
    except DatasetError:
        raise DatasetError(
            f"annotation {str(path)!r} declares a DOCTYPE (entities are refused because they "
            "can expand without bound); remove the <!DOCTYPE ...> block") from None
    except ET.ParseError as exc:
        raise DatasetError(f"annotation {str(path)!r} is not well-formed XML ({exc})") from None


def write_voc_xml(path: str | os.PathLike, filename: str, width: int, height: int,
                  objects: list[tuple[str, Any, int]]) -> None:
    """A Pascal VOC annotation; ``objects`` are ``(class name, (x1, y1, x2, y2), difficult)``."""
    root = ET.Element("annotation")
    ET.SubElement(root, "filename").text = filename
    size = ET.SubElement(root, "size")
    for tag, value in (("width", width), ("height", height), ("depth", 3)):
        ET.SubElement(size, tag).text = str(value)
    for name, box, difficult in objects:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = name
        ET.SubElement(obj, "difficult").text = str(int(difficult))
        bndbox = ET.SubElement(obj, "bndbox")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), box, strict=True):
            ET.SubElement(bndbox, tag).text = f"{float(value):g}"
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def read_json(path: str | os.PathLike, what: str = "annotation file") -> Any:
    path = Path(path)
    if not is_file(path):
        raise DatasetError(f"{what} {str(path)!r} does not exist")
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise DatasetError(f"{what} {str(path)!r} cannot be read ({exc})") from None
    except (ValueError, RecursionError) as exc:
        # ValueError: not UTF-8, not JSON, or an integer of more digits than Python converts;
        # RecursionError: arrays or objects nested deeper than the interpreter's stack
        raise DatasetError(f"{what} {str(path)!r} is not valid JSON "
                           f"({type(exc).__name__}: {str(exc)[:200]})") from None


def polygon_area(polygons: list[list[float]]) -> float:
    """Total shoelace area of flat ``[x, y, x, y, ...]`` polygons."""
    total = 0.0
    for poly in polygons:
        xy = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
        x, y = xy[:, 0], xy[:, 1]
        total += abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))) / 2
    return total


def coco_categories(labels: list[str]) -> list[dict[str, Any]]:
    """COCO categories for ``labels``: id = class index + 1."""
    return [{"id": i + 1, "name": name, "supercategory": "none"} for i, name in enumerate(labels)]


def _image_size(path: Path, where: str) -> tuple[int, int]:
    """(width, height), decoding the image: only for annotations that omit the size."""
    try:
        image = read_image(path)
    except Exception as exc:
        raise DatasetError(f"{where}: the annotation has no image size and the image cannot "
                           f"be read ({exc})") from None
    return image.shape[1], image.shape[0]


def clip_box(box: list[float], width: float, height: float, where: str) -> list[float]:
    """``box`` (x1, y1, x2, y2) clipped to the image; an empty result is an error."""
    try:
        x1, y1, x2, y2 = (float(v) for v in box)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond float
        raise DatasetError(f"{where}: box {list(box)} should be 4 finite numbers") from None
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise DatasetError(f"{where}: box {[x1, y1, x2, y2]} has a non-finite coordinate")
    x1, x2 = min(max(x1, 0.0), width), min(max(x2, 0.0), width)
    y1, y2 = min(max(y1, 0.0), height), min(max(y2, 0.0), height)
    if x2 <= x1 or y2 <= y1:
        raise DatasetError(f"{where}: box {list(box)} is empty once clipped to the "
                           f"{width:g}x{height:g} image (needs x1 < x2 and y1 < y2)")
    return [x1, y1, x2, y2]


def _finite(value: Any) -> bool:
    """A JSON number (not a bool) that is finite as a float."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond any float
        return False


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _rle_counts(counts: str) -> list[int]:
    """The run lengths of a compressed COCO RLE string, decoded as pycocotools does but
    checked: its C decoder reads past the end of a malformed string."""
    out: list[int] = []
    pos = 0
    while pos < len(counts):
        value = shift = 0
        more = True
        while more:
            if pos >= len(counts) or shift > 60:
                raise ValueError("it ends inside a number")
            c = ord(counts[pos]) - 48
            if not 0 <= c < 64:
                raise ValueError(f"character {counts[pos]!r} at {pos} is not RLE")
            value |= (c & 0x1F) << shift
            more = bool(c & 0x20)
            pos += 1
            shift += 5
            if not more and c & 0x10:
                value |= -1 << shift
        if len(out) > 2:
            value += out[-2]
        out.append(value)
    return out


def _check_segmentation(segmentation: Any, width: int, height: int, here: str) -> None:
    """COCO polygons (flat lists of finite x, y pairs) or an RLE of the image's size whose
    runs cover it exactly (pycocotools trusts the runs and would write past its buffer)."""
    if isinstance(segmentation, list):
        if not all(isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0
                   and all(_finite(v) for v in p) for p in segmentation):
            raise DatasetError(f"{here}: segmentation should be a list of polygons, "
                               "each a flat list of at least 3 x, y pairs of finite numbers")
        # pycocotools rasterizes a polygon step by step along its edges: a point far
        # outside the image (1e8) makes that take hours, and (1e12) crashes the interpreter
        for polygon in segmentation:
            for x, y in zip(polygon[::2], polygon[1::2], strict=True):
                if not (-width <= x <= 2 * width and -height <= y <= 2 * height):
                    raise DatasetError(f"{here}: polygon point ({x:g}, {y:g}) lies far outside "
                                       f"the {width}x{height} image")
        return
    if not isinstance(segmentation, dict):
        raise DatasetError(f"{here}: segmentation should be polygons (a list) or an RLE (an "
                           f"object with size and counts), not a {type(segmentation).__name__}")
    size, counts = segmentation.get("size"), segmentation.get("counts")
    if size != [height, width] or not all(_is_id(v) for v in size):
        raise DatasetError(f"{here}: the RLE's size {size!r} should be the image's "
                           f"[height, width], [{height}, {width}]")
    if isinstance(counts, str):
        try:
            runs = _rle_counts(counts)
        except ValueError as exc:
            raise DatasetError(f"{here}: the RLE counts cannot be decoded ({exc})") from None
    elif isinstance(counts, list) and all(_is_id(v) for v in counts):
        runs = counts
    else:
        raise DatasetError(f"{here}: the RLE counts should be a string or a list of integers")
    if any(v < 0 for v in runs) or sum(runs) != height * width:
        raise DatasetError(f"{here}: the RLE runs should be non-negative and cover the "
                           f"{width}x{height} image's {height * width} pixels exactly")


class _Record:
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
        self.samples: list[_Record] = []
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


def _text(element: ET.Element, tag: str, where: str) -> str:
    child = element.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise DatasetError(f"{where}: <{tag}> is missing or empty")
    return child.text.strip()


def _number(element: ET.Element, tag: str, where: str) -> float:
    text = _text(element, tag, where)
    try:
        return float(text)
    except ValueError:
        raise DatasetError(f"{where}: <{tag}> {text!r} is not a number") from None


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
               class_ids: dict[str, int]) -> _Record:
        root = parse_xml(xml)
        size = root.find("size")
        width = height = 0
        if size is not None and size.find("width") is not None:
            width, height = (_number(size, t, f"{where}: <size>") for t in ("width", "height"))
            if not (math.isfinite(width) and math.isfinite(height)):
                raise DatasetError(f"{where}: <size> {width:g}x{height:g} is not a finite size")
        if width <= 0 or height <= 0:  # some tools write 0: read the image instead
            width, height = _image_size(image, where)
        record = _Record(im_id, image, file_name, int(width), int(height), where)
        for k, obj in enumerate(root.iter("object"), 1):
            here = f"{where}, object {k}"
            name = _text(obj, "name", here)
            if name not in class_ids:
                raise DatasetError(f"{here}: class {name!r} is not in the label list "
                                   f"{str(self.label_list)!r}; add it there or fix the name")
            bndbox = obj.find("bndbox")
            if bndbox is None:
                raise DatasetError(f"{here} ({name!r}): <bndbox> is missing")
            box = [_number(bndbox, t, f"{here} ({name!r})") for t in ("xmin", "ymin", "xmax", "ymax")]
            box = clip_box(box, record.width, record.height, f"{here} ({name!r})")
            difficult = obj.find("difficult")
            try:
                difficult = int(float(difficult.text)) if difficult is not None and difficult.text else 0
            except (ValueError, OverflowError):  # OverflowError: 'inf'
                raise DatasetError(f"{here}: <difficult> {difficult.text!r} is not 0 or 1") from None
            record.add(box, class_ids[name], difficult=difficult)
        return record


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
            if not _is_id(category["id"]) or category["id"] in seen:
                raise DatasetError(f"{where}: categories[{index}] id {category['id']!r} "
                                   + ("repeats" if _is_id(category["id"]) else "is not an integer"))
            seen.add(category["id"])
        categories = sorted(categories, key=lambda c: c["id"])
        if not categories:
            raise DatasetError(f"{where}: 'categories' is empty; it needs one entry per class")
        self.category_ids = [c["id"] for c in categories]
        self.labels = [str(c["name"]) for c in categories]
        self.class_of_category = {cid: i for i, cid in enumerate(self.category_ids)}
        by_image: dict[Any, _Record] = {}
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
                width, height = _image_size(path, here)
            elif not (_finite(width) and _finite(height) and width > 0 and height > 0):
                raise DatasetError(f"{here}: width {width!r} and height {height!r} should be "
                                   "positive numbers (or 0 to read them from the image)")
            by_image[image["id"]] = _Record(image["id"], path, image["file_name"], int(width),
                                            int(height), here)
        skipped = 0
        for ann in self._items(coco, "annotations", ("id", "image_id", "category_id", "bbox")):
            here = f"{where}: annotation id {ann['id']} (image id {ann['image_id']})"
            if not _is_id(ann["id"]):
                raise DatasetError(f"{here}: annotation ids must be integers")
            record = by_image.get(ann["image_id"]) if _is_id(ann["image_id"]) else None
            if record is None:
                raise DatasetError(f"{here}: no image has id {ann['image_id']}")
            if not _is_id(ann["category_id"]) or ann["category_id"] not in self.class_of_category:
                raise DatasetError(f"{here}: category_id {ann['category_id']} is not in "
                                   f"'categories' (ids {self.category_ids})")
            bbox = ann["bbox"]
            if (not isinstance(bbox, list) or len(bbox) != 4
                    or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in bbox)):
                raise DatasetError(f"{here}: bbox {bbox!r} should be 4 numbers [x, y, width, height]")
            if not all(_finite(v) for v in bbox):
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
            if ann.get("area") is not None and not _finite(ann["area"]):
                raise DatasetError(f"{here}: area {ann['area']!r} should be a finite number")
            segmentation = ann.get("segmentation") or None
            if segmentation is not None:
                _check_segmentation(segmentation, record.width, record.height, here)
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
