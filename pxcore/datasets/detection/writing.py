"""Writing detection annotations: a Pascal VOC XML file, COCO categories, and the
polygon areas COCO ground truth records."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np


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
