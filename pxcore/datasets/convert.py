"""Moving annotations between formats: VOC <-> COCO, and LabelMe (the annotation tool
PaddleX's docs use) to VOC, COCO or segmentation masks, so users can train on what they
drew without writing a converter."""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..data.images import read_image, to_rgb_uint8
from .base import DatasetError
from .detection import CocoDetection, VOCDetection
from .detection.validation import clip_box, read_json
from .detection.writing import coco_categories, polygon_area, write_voc_xml

SEG_BACKGROUND = ("background", "_background_")  # LabelMe labels that mean "no class"


def _write_json(data: Any, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def voc_to_coco(voc: VOCDetection | str | os.PathLike, out_json: str | os.PathLike, *,
                file_list: str | os.PathLike | None = None,
                label_list: str | os.PathLike | None = None) -> Path:
    """Write a VOC data set (a ``VOCDetection``, or its directory plus ``file_list`` and
    ``label_list``, default ``labels.txt``, relative to it) as COCO JSON. Image
    file names stay relative to the VOC directory, so ``CocoDetection(voc_dir, out_json)``
    loads the same images."""
    if not isinstance(voc, VOCDetection):
        if file_list is None:
            raise DatasetError("voc_to_coco: give file_list (e.g. 'train_list.txt') with a VOC directory")
        data_dir = Path(voc)
        voc = VOCDetection(data_dir, data_dir / file_list, data_dir / (label_list or "labels.txt"))
    return _write_json(voc.to_coco(), out_json)


def coco_to_voc(coco: CocoDetection | str | os.PathLike, out_dir: str | os.PathLike, *,
                ann_file: str | os.PathLike | None = None, list_name: str = "train_list.txt") -> Path:
    """Write a COCO data set (a ``CocoDetection``, or its image directory plus
    ``ann_file``) as VOC under ``out_dir``: JPEGImages/, Annotations/, labels.txt and
    ``list_name``. VOC has no crowd regions: they become ``difficult`` objects, which
    evaluation ignores as COCO ignores crowds."""
    if not isinstance(coco, CocoDetection):
        if ann_file is None:
            raise DatasetError("coco_to_voc: give ann_file (the COCO JSON) with an image directory")
        coco = CocoDetection(coco, Path(coco) / ann_file)
    out_dir = Path(out_dir)
    (out_dir / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (out_dir / "Annotations").mkdir(parents=True, exist_ok=True)
    lines, stems = [], set()
    for record in coco.samples:
        name = record.path.name
        if Path(name).stem in stems:  # COCO file names may repeat across sub-folders
            name = f"{record.im_id}_{name}"
        stems.add(Path(name).stem)
        image = out_dir / "JPEGImages" / name
        if not (image.exists() and image.samefile(record.path)):
            shutil.copyfile(record.path, image)
        objects = [(coco.labels[c], box, max(crowd, difficult)) for c, box, crowd, difficult
                   in zip(record.classes, record.boxes, record.is_crowd, record.difficult, strict=True)]
        xml = f"Annotations/{Path(name).stem}.xml"
        write_voc_xml(out_dir / xml, name, record.width, record.height, objects)
        lines.append(f"JPEGImages/{name} {xml}")
    (out_dir / "labels.txt").write_text("\n".join(coco.labels) + "\n", encoding="utf-8")
    (out_dir / list_name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out_dir


class _LabelMeFile:
    """One LabelMe JSON, checked: its image (a file or embedded ``imageData``), size and
    shapes, each as ``(label, polygon Nx2)`` with rectangles as 4-point polygons."""

    def __init__(self, path: Path) -> None:
        self.path = path
        data = read_json(path, "LabelMe file")
        if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
            raise DatasetError(f"LabelMe file {str(path)!r} has no 'shapes' list; is it a LabelMe JSON?")
        self.image_file, self.image_bytes = self._find_image(data)
        if self.image_file is not None:
            image = read_image(self.image_file)
            self.suffix = self.image_file.suffix.lower()
        else:
            pixels = cv2.imdecode(np.frombuffer(self.image_bytes, np.uint8), cv2.IMREAD_COLOR)
            if pixels is None:
                raise DatasetError(f"LabelMe file {str(path)!r}: imageData is not a readable image")
            image = to_rgb_uint8(pixels)
            if self.image_bytes[:2] == b"\xff\xd8":
                self.suffix = ".jpg"
            else:  # PNG as it is; anything else (BMP, ...) re-encoded as PNG
                self.suffix = ".png"
                if self.image_bytes[:4] != b"\x89PNG":
                    self.image_bytes = cv2.imencode(".png", pixels)[1].tobytes()
        self.height, self.width = image.shape[:2]
        said = (data.get("imageHeight"), data.get("imageWidth"))
        if None not in said and tuple(said) != (self.height, self.width):
            raise DatasetError(f"LabelMe file {str(path)!r} says the image is {said[1]}x{said[0]} "
                               f"but it is {self.width}x{self.height}; re-open it in LabelMe")
        self.shapes = [self._shape(shape, k) for k, shape in enumerate(data["shapes"], 1)]

    def _find_image(self, data: dict) -> tuple[Path | None, bytes | None]:
        name = data.get("imagePath") or ""
        for candidate in (self.path.parent / name, self.path.parent / Path(name).name):
            if name and candidate.is_file():
                return candidate, None
        if data.get("imageData"):
            try:
                return None, base64.b64decode(data["imageData"], validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise DatasetError(f"LabelMe file {str(self.path)!r}: imageData is not base64") from None
        raise DatasetError(f"LabelMe file {str(self.path)!r}: image {name!r} not found next to it "
                           "and no imageData embedded; put the image beside the JSON")

    def _shape(self, shape: Any, k: int) -> tuple[str, np.ndarray]:
        where = f"LabelMe file {str(self.path)!r}, shape {k}"
        if not isinstance(shape, dict) or not isinstance(shape.get("label"), str) or not shape["label"]:
            raise DatasetError(f"{where}: every shape needs a non-empty 'label'")
        kind = shape.get("shape_type") or "polygon"  # old LabelMe wrote no type for polygons
        where += f" ({shape['label']!r}, {kind})"
        if kind not in ("rectangle", "polygon"):
            raise DatasetError(f"{where}: shape_type {kind!r} is not supported; only rectangles "
                               "and polygons give boxes and masks: redraw it as one of those")
        try:
            points = np.asarray(shape.get("points"), dtype=np.float64)
        except (TypeError, ValueError):
            points = np.empty(0)
        if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
            raise DatasetError(f"{where}: 'points' should be a list of [x, y] numbers")
        if kind == "rectangle":
            if len(points) != 2:
                raise DatasetError(f"{where}: a rectangle has 2 points (opposite corners), not {len(points)}")
            (x1, y1), (x2, y2) = points.min(0), points.max(0)
            points = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
        elif len(points) < 3:
            raise DatasetError(f"{where}: a polygon needs at least 3 points, not {len(points)}")
        points = np.clip(points, 0, [self.width, self.height])
        clip_box([*points.min(0), *points.max(0)], self.width, self.height, where)
        return shape["label"], points

    def copy_image(self, folder: Path) -> str:
        """Put the image in ``folder`` as ``<json stem><suffix>``; return that name."""
        name = self.path.stem + self.suffix
        folder.mkdir(parents=True, exist_ok=True)
        if self.image_file is not None:
            shutil.copyfile(self.image_file, folder / name)
        else:
            (folder / name).write_bytes(self.image_bytes)
        return name


def _read_labelme(src: str | os.PathLike) -> list[_LabelMeFile]:
    src = Path(src)
    if not src.is_dir():
        raise DatasetError(f"LabelMe source {str(src)!r} is not a directory of LabelMe JSON files")
    files = [_LabelMeFile(p) for p in sorted(src.glob("*.json"))]
    if not files:
        raise DatasetError(f"LabelMe source {str(src)!r} has no *.json files")
    return files


def labelme_to_voc(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """LabelMe JSONs (with their images) in ``src`` as VOC in ``dst``: JPEGImages/,
    Annotations/ and labels.txt (sorted labels); shapes become their bounding boxes."""
    files, dst = _read_labelme(src), Path(dst)
    labels = sorted({label for f in files for label, _ in f.shapes})
    (dst / "Annotations").mkdir(parents=True, exist_ok=True)
    for f in files:
        name = f.copy_image(dst / "JPEGImages")
        objects = [(label, (*pts.min(0), *pts.max(0)), 0) for label, pts in f.shapes]
        write_voc_xml(dst / "Annotations" / f"{f.path.stem}.xml", name, f.width, f.height, objects)
    (dst / "labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
    return dst


def labelme_to_coco(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """LabelMe JSONs in ``src`` as COCO in ``dst``: JPEGImages/ and annotations.json,
    with each shape as a polygon segmentation (rectangles as 4-point polygons)."""
    files, dst = _read_labelme(src), Path(dst)
    labels = sorted({label for f in files for label, _ in f.shapes})
    images, annotations = [], []
    for im_id, f in enumerate(files, 1):
        name = f.copy_image(dst / "JPEGImages")
        images.append({"id": im_id, "file_name": f"JPEGImages/{name}", "width": f.width, "height": f.height})
        for label, pts in f.shapes:
            (x1, y1), (x2, y2) = pts.min(0), pts.max(0)
            polygon = [round(float(v), 2) for v in pts.reshape(-1)]
            annotations.append({
                "id": len(annotations) + 1, "image_id": im_id, "category_id": labels.index(label) + 1,
                "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                "area": polygon_area([polygon]), "iscrowd": 0, "segmentation": [polygon]})
    return _write_json({"images": images, "annotations": annotations,
                        "categories": coco_categories(labels)}, dst / "annotations.json").parent


def labelme_to_seg(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """LabelMe JSONs in ``src`` as semantic segmentation in ``dst``: JPEGImages/,
    Annotations/*.png (uint8 class ids, 0 = background, shapes filled in drawing order)
    and labels.txt ("background" first). Shapes labelled "background" or "_background_"
    paint class 0."""
    files, dst = _read_labelme(src), Path(dst)
    labels = ["background"] + sorted({label for f in files for label, _ in f.shapes} - set(SEG_BACKGROUND))
    if len(labels) > 255:
        raise DatasetError(f"{len(labels)} classes do not fit 8-bit masks (at most 255)")
    (dst / "Annotations").mkdir(parents=True, exist_ok=True)
    for f in files:
        f.copy_image(dst / "JPEGImages")
        mask = np.zeros((f.height, f.width), dtype=np.uint8)
        for label, pts in f.shapes:
            class_id = 0 if label in SEG_BACKGROUND else labels.index(label)
            cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], class_id)
        cv2.imwrite(str(dst / "Annotations" / f"{f.path.stem}.png"), mask)
    (dst / "labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
    return dst


LABELME_CONVERTERS = {"voc": labelme_to_voc, "coco": labelme_to_coco, "seg": labelme_to_seg}


def convert_labelme(src: str | os.PathLike, dst: str | os.PathLike, to: str) -> Path:
    """``labelme_to_voc``, ``labelme_to_coco`` or ``labelme_to_seg``, by ``to``."""
    if to not in LABELME_CONVERTERS:
        raise DatasetError(f"cannot convert LabelMe to {to!r}; choose one of {list(LABELME_CONVERTERS)}")
    return LABELME_CONVERTERS[to](src, dst)
