"""A small detection set made in seconds, offline, for tests and demos: solid-coloured
shapes on random crops of the two real photos scikit-learn ships (so backgrounds have
real texture, unlike flat synthetic sets), written as VOC, COCO (with polygons) and
segmentation masks at once, so every detection and segmentation path can be checked on
the same images. The same seed gives the same files."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import cv2
import numpy as np

from ..errors import PxError
from .detection.writing import coco_categories, polygon_area, write_voc_xml
from .split import split_items


def _regular(sides: int, rotation: float) -> np.ndarray:
    angles = rotation + np.arange(sides) * 2 * math.pi / sides
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _star() -> np.ndarray:
    return _regular(10, -math.pi / 2) * np.where(np.arange(10) % 2, 0.45, 1.0)[:, None]


# Unit outlines; a circle is a 32-gon, so its polygon, mask and pixels agree.
SHAPES = {
    "circle": _regular(32, 0),
    "square": _regular(4, math.pi / 4),
    "triangle": _regular(3, -math.pi / 2),
    "diamond": _regular(4, 0),
    "pentagon": _regular(5, -math.pi / 2),
    "hexagon": _regular(6, 0),
    "star": _star(),
}
MAX_OVERLAP = 0.15  # of the smaller box: objects may touch a little, mostly not


def _photos() -> list[np.ndarray]:
    try:
        from sklearn.datasets import load_sample_images

        return list(load_sample_images().images)  # china.jpg, flower.jpg as RGB
    except ImportError as exc:
        raise PxError(f"the shapes data set draws on scikit-learn's sample photos: "
                      f"pip install scikit-learn pillow ({exc})") from None


def _texture(photos: list[np.ndarray], height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    photo = photos[rng.integers(len(photos))]
    ph, pw = photo.shape[:2]
    crop_h = rng.uniform(0.35, 1.0) * min(ph, pw * height / width)
    crop_w = crop_h * width / height
    y0, x0 = rng.uniform(0, ph - crop_h), rng.uniform(0, pw - crop_w)
    crop = photo[int(y0):int(y0 + crop_h), int(x0):int(x0 + crop_w)]
    crop = crop[:, ::-1] if rng.random() < 0.5 else crop
    return np.ascontiguousarray(cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA))


def _colour(rng: np.random.Generator) -> tuple[int, ...]:
    hsv = np.array([[[rng.integers(180), rng.integers(150, 256), rng.integers(120, 256)]]], np.uint8)
    return tuple(int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def _overlap(a: list[int], b: list[int]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w * h / smaller


def _place(kind: str, height: int, width: int, boxes: list, rng: np.random.Generator):
    """An outline of ``kind`` (20-50% of the image side) that overlaps the ``boxes``
    little, with its integer box; None when 20 tries found no room."""
    unit = SHAPES[kind]
    unit = (unit - (unit.min(0) + unit.max(0)) / 2) / np.ptp(unit, axis=0).max()
    for _ in range(20):
        side = rng.uniform(0.2, 0.5) * min(height, width)
        half = np.ptp(unit, axis=0) * side / 2
        centre = rng.uniform(half + 1, [width - half[0] - 1, height - half[1] - 1])
        points = unit * side + centre
        box = [*np.floor(points.min(0)).astype(int).tolist(), *np.ceil(points.max(0)).astype(int).tolist()]
        if all(_overlap(box, other) <= MAX_OVERLAP for other in boxes):
            return points, box
    return None


def make_shapes(out_dir: str | os.PathLike, num_images: int = 200,
                image_size: int | tuple[int, int] = (256, 256),
                classes: tuple[str, ...] = ("circle", "square", "triangle"), max_objects: int = 4,
                seed: int = 0, val: float = 0.2, test: float = 0.1) -> Path:
    """Write ``num_images`` images of 1 to ``max_objects`` shapes (``image_size`` is
    (height, width) or one side) into ``out_dir``:

    - VOC: JPEGImages/*.jpg, Annotations/*.xml, labels.txt, train/val/test_list.txt
    - COCO: annotations/train.json, val.json, test.json (polygon segmentation)
    - segmentation: SegmentationClass/*.png (0 background, class index + 1),
      seg_labels.txt, seg_train/val/test_list.txt

    ``classes`` are shape names from ``SHAPES``. Returns ``out_dir``.
    """
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    unknown = [c for c in classes if c not in SHAPES]
    if unknown or not classes or len(set(classes)) != len(classes):
        raise PxError(f"classes {list(classes)} should be distinct names from {list(SHAPES)}")
    if num_images < 1 or max_objects < 1 or min(height, width) < 32:
        raise PxError("make_shapes needs num_images >= 1, max_objects >= 1 and images of 32 px or more")
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise PxError(f"val ({val}) and test ({test}) must be fractions that leave some training data")
    out = Path(out_dir)
    for folder in ("JPEGImages", "Annotations", "SegmentationClass", "annotations"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    photos, rng = _photos(), np.random.default_rng(seed)
    digits = max(4, len(str(num_images - 1)))
    images, annotations = [], []
    for index in range(num_images):
        stem = f"{index:0{digits}d}"
        image = _texture(photos, height, width, rng)
        mask = np.zeros((height, width), dtype=np.uint8)
        boxes, objects = [], []
        for _ in range(rng.integers(1, max_objects + 1)):
            class_id = int(rng.integers(len(classes)))
            placed = _place(classes[class_id], height, width, boxes, rng)
            if placed is None:
                continue
            points, box = placed
            cv2.fillPoly(image, [np.round(points * 16).astype(np.int32)], _colour(rng),
                         lineType=cv2.LINE_AA, shift=4)
            cv2.fillPoly(mask, [np.round(points).astype(np.int32)], class_id + 1)
            boxes.append(box)
            objects.append((classes[class_id], box, 0))
            polygon = [round(float(v), 2) for v in points.reshape(-1)]
            annotations.append({
                "id": len(annotations) + 1, "image_id": index + 1, "category_id": class_id + 1,
                "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
                "area": polygon_area([polygon]), "iscrowd": 0, "segmentation": [polygon]})
        cv2.imwrite(str(out / "JPEGImages" / f"{stem}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(str(out / "SegmentationClass" / f"{stem}.png"), mask)
        write_voc_xml(out / "Annotations" / f"{stem}.xml", f"{stem}.jpg", width, height, objects)
        images.append({"id": index + 1, "file_name": f"JPEGImages/{stem}.jpg",
                       "width": width, "height": height})
    (out / "labels.txt").write_text("\n".join(classes) + "\n", encoding="utf-8")
    (out / "seg_labels.txt").write_text("\n".join(["background", *classes]) + "\n", encoding="utf-8")
    splits = split_items(list(range(num_images)), val, test, np.random.default_rng([seed, 1]))
    for split, members in splits.items():
        if split != "train" and not members:
            continue
        members = sorted(members)
        stems = [f"{i:0{digits}d}" for i in members]
        for prefix, folder, suffix in (("", "Annotations", "xml"), ("seg_", "SegmentationClass", "png")):
            lines = [f"JPEGImages/{s}.jpg {folder}/{s}.{suffix}" for s in stems]
            (out / f"{prefix}{split}_list.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        ids = {i + 1 for i in members}
        coco = {"images": [images[i] for i in members],
                "annotations": [a for a in annotations if a["image_id"] in ids],
                "categories": coco_categories(list(classes))}
        (out / "annotations" / f"{split}.json").write_text(json.dumps(coco), encoding="utf-8")
    return out
