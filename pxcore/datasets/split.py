"""``px split-dataset``: labels and train/val/test lists for a folder of images and
annotations, PaddleX users' first step. Formats: imagenet (a folder per class), voc
(Annotations/*.xml + JPEGImages/), coco (annotations.json) and seg (Annotations/*.png +
JPEGImages/ + labels.txt)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PxError
from .base import DatasetError
from .detection.validation import parse_xml, read_json
from .imagenet import IMAGE_SUFFIXES


def _check(data_dir: str | os.PathLike, val: float, test: float) -> Path:
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DatasetError(f"{str(data_dir)!r} is not a directory")
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise PxError(f"val ({val}) and test ({test}) must be fractions that leave some training data")
    return data_dir


def split_items(items: list, val: float, test: float, rng: np.random.Generator) -> dict[str, list]:
    """``items`` shuffled by ``rng`` and cut into val, test and train (the rest)."""
    items = [items[i] for i in rng.permutation(len(items))]
    n_val, n_test = round(len(items) * val), round(len(items) * test)
    return {"val": items[:n_val], "test": items[n_val:n_val + n_test], "train": items[n_val + n_test:]}


def _write_lists(data_dir: Path, splits: dict[str, list[str]], written: dict[str, Path]) -> dict[str, Path]:
    """``<split>_list.txt`` for train and every non-empty other split."""
    for split in ("train", "val", "test"):
        if split != "train" and not splits[split]:
            continue
        path = data_dir / f"{split}_list.txt"
        path.write_text("\n".join(splits[split]) + "\n", encoding="utf-8")
        written[split] = path
    return written


def _pairs(data_dir: Path, annotation_glob: str) -> list[str]:
    """``JPEGImages/x.jpg Annotations/x.ext`` for each annotation, matched by file stem."""
    images: dict[str, list[Path]] = {}
    for path in sorted((data_dir / "JPEGImages").glob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            images.setdefault(path.stem, []).append(path)
    annotations = sorted((data_dir / "Annotations").glob(annotation_glob))
    if not annotations:
        raise DatasetError(f"{data_dir}: no Annotations/{annotation_glob} to split")
    lines = []
    for ann in annotations:
        found = images.get(ann.stem, [])
        if len(found) != 1:
            raise DatasetError(f"{ann}: expected one image JPEGImages/{ann.stem}.<jpg|png|...>, "
                               f"found {len(found)}; add the image or remove the annotation")
        line = f"{found[0].relative_to(data_dir).as_posix()} {ann.relative_to(data_dir).as_posix()}"
        if len(line.split()) != 2:
            raise DatasetError(f"{ann}: file lists cannot hold names with spaces; rename "
                               f"{ann.stem!r} (image and annotation)")
        lines.append(line)
    return lines


def split_image_folders(data_dir: str | os.PathLike, val: float = 0.2, test: float = 0.0,
                        seed: int = 0) -> dict[str, Path]:
    """Write labels.txt, train_list.txt, val_list.txt (and test_list.txt) into
    ``data_dir``, whose sub-folders are the classes. Each class is split in the given
    proportions, so every class appears in every split it has images for."""
    data_dir = _check(data_dir, val, test)
    classes = sorted(p.name for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DatasetError(f"{data_dir}: no class sub-folders to split")
    rng = np.random.default_rng(seed)
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for class_id, name in enumerate(classes):
        files = sorted(p for p in (data_dir / name).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        for split, items in split_items(files, val, test, rng).items():
            splits[split].extend(f"{p.relative_to(data_dir).as_posix()} {class_id}" for p in items)
    (data_dir / "labels.txt").write_text("\n".join(classes) + "\n", encoding="utf-8")
    return _write_lists(data_dir, splits, {"labels": data_dir / "labels.txt"})


def split_voc(data_dir: str | os.PathLike, val: float = 0.2, test: float = 0.0,
              seed: int = 0) -> dict[str, Path]:
    """Write labels.txt (the sorted class names the annotations use) and
    train/val/test lists of ``JPEGImages/x.jpg Annotations/x.xml`` into ``data_dir``."""
    data_dir = _check(data_dir, val, test)
    lines = _pairs(data_dir, "*.xml")
    classes = set()
    for line in lines:
        xml = data_dir / line.split()[1]
        for k, obj in enumerate(parse_xml(xml).iter("object"), 1):
            name = (obj.findtext("name") or "").strip()
            if not name:
                raise DatasetError(f"{xml}, object {k}: <name> is missing or empty")
            classes.add(name)
    if not classes:
        raise DatasetError(f"{data_dir}: no annotation has an <object>; there is nothing to learn")
    (data_dir / "labels.txt").write_text("\n".join(sorted(classes)) + "\n", encoding="utf-8")
    splits = split_items(lines, val, test, np.random.default_rng(seed))
    return _write_lists(data_dir, splits, {"labels": data_dir / "labels.txt"})


def split_seg(data_dir: str | os.PathLike, val: float = 0.2, test: float = 0.0,
              seed: int = 0) -> dict[str, Path]:
    """Write train/val/test lists of ``JPEGImages/x.jpg Annotations/x.png`` into
    ``data_dir``; its labels.txt ("background" first) must exist, as masks hold no names."""
    data_dir = _check(data_dir, val, test)
    labels = data_dir / "labels.txt"
    if not labels.is_file():
        raise DatasetError(f"{data_dir}: labels.txt is missing; write the class names, one a line, "
                           "in mask-value order (\"background\" first)")
    splits = split_items(_pairs(data_dir, "*.png"), val, test, np.random.default_rng(seed))
    return _write_lists(data_dir, splits, {"labels": labels})


def split_coco(data_dir: str | os.PathLike, val: float = 0.2, test: float = 0.0,
               seed: int = 0) -> dict[str, Path]:
    """Split ``data_dir/annotations.json`` by image into train.json, val.json (and
    test.json) beside it, each with the categories and the annotations of its images."""
    data_dir = _check(data_dir, val, test)
    source = data_dir / "annotations.json"
    coco = read_json(source)
    if not isinstance(coco, dict) or not all(isinstance(coco.get(k), list) for k in ("images", "annotations")):
        raise DatasetError(f"{source}: a COCO file is a JSON object with 'images' and 'annotations' lists")
    by_image: dict[Any, list] = {}
    for index, image in enumerate(coco["images"]):
        if not isinstance(image, dict) or "id" not in image:
            raise DatasetError(f"{source}: images[{index}] has no 'id'")
        by_image[image["id"]] = []
    for index, ann in enumerate(coco["annotations"]):
        if not isinstance(ann, dict) or ann.get("image_id") not in by_image:
            raise DatasetError(f"{source}: annotations[{index}] has no 'image_id' of a listed image")
        by_image[ann["image_id"]].append(ann)
    if not coco["images"]:
        raise DatasetError(f"{source}: 'images' is empty; there is nothing to split")
    written = {}
    for split, images in split_items(coco["images"], val, test, np.random.default_rng(seed)).items():
        if split != "train" and not images:
            continue
        images = sorted(images, key=lambda image: image["id"])
        part = {**coco, "images": images, "annotations": [a for i in images for a in by_image[i["id"]]]}
        written[split] = data_dir / f"{split}.json"
        written[split].write_text(json.dumps(part), encoding="utf-8")
    return written


SPLITTERS = {"imagenet": split_image_folders, "voc": split_voc, "coco": split_coco, "seg": split_seg}
