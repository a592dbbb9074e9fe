"""Semantic segmentation data: PaddleX's file lists (``image.jpg label.png`` lines, a
label list whose line k names class k) and Cityscapes' own folders. A label image holds
one class id per pixel, 255 where nothing counts (``IGNORE_INDEX``); palette PNGs (as
VOC ships) are read as their indices, not their colours."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..data.images import read_image
from ..transforms.geometry import IGNORE_INDEX
from .base import Dataset, DatasetError, is_file

# Cityscapes' 19 evaluated classes, in trainId order.
CITYSCAPES_CLASSES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle")


def read_label_image(path: str | os.PathLike) -> np.ndarray:
    """A label image as an HxW integer array of class ids."""
    path = Path(path)
    if not is_file(path):
        raise DatasetError(f"label image {str(path)!r} does not exist")
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise DatasetError(f"reading label images needs Pillow: pip install pillow ({exc})") from None
    try:
        with Image.open(path) as image:
            mode = image.mode
            label = np.asarray(image)  # a palette image gives its indices
    except Exception as exc:  # noqa: BLE001 - Pillow's decoders raise many kinds on bad files
        # (OSError, ValueError, SyntaxError, struct.error, DecompressionBombError, ...)
        raise DatasetError(f"label image {str(path)!r} cannot be read: it is corrupt, truncated "
                           f"or not an image ({type(exc).__name__}: {exc})") from None
    if label.ndim == 3:
        raise DatasetError(f"label image {str(path)!r} is a {mode} colour image; a label image has "
                           "one channel of class ids (grayscale or palette PNG)")
    if label.dtype.kind not in "biu":
        raise DatasetError(f"label image {str(path)!r} holds {label.dtype} values; class ids are "
                           "integers")
    return label.astype(np.int64) if label.dtype == np.bool_ else label


def check_label_values(label: np.ndarray, num_classes: int, where: str,
                       ignore_index: int = IGNORE_INDEX) -> None:
    """Every pixel a class id below ``num_classes`` or ``ignore_index``."""
    values = np.unique(label)
    bad = values[((values < 0) | (values >= num_classes)) & (values != ignore_index)]
    if bad.size:
        raise DatasetError(f"{where}: label value {int(bad[0])} is outside the label list "
                           f"({num_classes} classes, ids 0 to {num_classes - 1}; "
                           f"{ignore_index} marks pixels to ignore)")


class SegmentationDataset(Dataset):
    """Pairs of (image, label image) with a class list; samples carry ``label_map``."""

    task = "semantic_segmentation"

    def load(self, index: int) -> dict[str, Any]:
        image_path, label_path, where = self.samples[index]
        image = read_image(image_path)
        label = read_label_image(label_path)
        if label.shape != image.shape[:2]:
            raise DatasetError(f"{where}: label {str(label_path)!r} is {label.shape[1]}x"
                               f"{label.shape[0]} but image {str(image_path)!r} is "
                               f"{image.shape[1]}x{image.shape[0]} (width x height)")
        check_label_values(label, self.num_classes, where)
        return {"image": image, "label_map": label.astype(np.uint8 if label.max() < 256 else np.int32),
                "im_path": str(image_path)}


class SegDataset(SegmentationDataset):
    """PaddleX's format: ``file_list`` lines are ``image_path label_path`` relative to
    ``data_dir``; ``label_list`` names class k on line k (background included, usually
    first). Every file is checked to exist when the data set is made; label values are
    checked as each label is read, naming the line."""

    def __init__(self, data_dir: str | os.PathLike, file_list: str | os.PathLike,
                 label_list: str | os.PathLike, transforms: Any = None, shuffle: bool = False,
                 num_workers: Any = "auto") -> None:
        super().__init__(transforms, shuffle, num_workers)
        for line, where in self._open_lists(data_dir, file_list, label_list):
            parts = line.split()
            if len(parts) != 2:
                raise DatasetError(f"{where}: {line!r} should be 'path/to/image.jpg path/to/label.png'")
            image, label = (self.data_dir / part for part in parts)
            for path, what in ((image, "image"), (label, "label image")):
                if not is_file(path):
                    raise DatasetError(f"{where}: {what} {str(path)!r} does not exist")
            self.samples.append((image, label, where))
        if not self.samples:
            raise DatasetError(f"file list {str(self.file_list)!r} lists no images")


class Cityscapes(SegmentationDataset):
    """Cityscapes as downloaded: ``leftImg8bit/<split>/<city>/*_leftImg8bit.png`` with
    ``gtFine/<split>/<city>/*_gtFine_labelTrainIds.png`` (made by cityscapesScripts'
    createTrainIdLabelImgs), 19 classes."""

    def __init__(self, data_dir: str | os.PathLike, split: str = "train", transforms: Any = None,
                 shuffle: bool = False, num_workers: Any = "auto") -> None:
        super().__init__(transforms, shuffle, num_workers)
        root = Path(data_dir)
        images = root / "leftImg8bit" / split
        if not images.is_dir():
            raise DatasetError(f"{str(images)!r} is not a directory; Cityscapes' data_dir holds "
                               f"leftImg8bit/ and gtFine/, and split is train, val or test")
        self.labels = list(CITYSCAPES_CLASSES)
        for image in sorted(images.glob("*/*_leftImg8bit.png")):
            stem = image.name[: -len("_leftImg8bit.png")]
            label = root / "gtFine" / split / image.parent.name / f"{stem}_gtFine_labelTrainIds.png"
            if not label.is_file():
                raise DatasetError(f"Cityscapes: {str(label)!r} is missing for {image.name}; run "
                                   "cityscapesScripts' createTrainIdLabelImgs to make the "
                                   "*_gtFine_labelTrainIds.png files")
            self.samples.append((image, label, str(image)))
        if not self.samples:
            raise DatasetError(f"Cityscapes: no *_leftImg8bit.png images under {str(images)!r}")
