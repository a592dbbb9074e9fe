"""Image classification data: PaddleX's ImageNet format and a folder per class."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..data.images import read_image
from .base import Dataset, DatasetError, is_file

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class ImageNet(Dataset):
    """``file_list`` lines are ``relative/path.jpg class_id`` (paths relative to
    ``data_dir``); ``label_list`` has one class name per line. Every line is checked
    when the data set is made, so a bad line fails before training starts."""

    def __init__(self, data_dir: str | os.PathLike, file_list: str | os.PathLike,
                 label_list: str | os.PathLike, transforms: Any = None, shuffle: bool = False,
                 num_workers: Any = "auto") -> None:
        super().__init__(transforms, shuffle, num_workers)
        self.samples = self._parse(self._open_lists(data_dir, file_list, label_list))

    def _parse(self, entries: list[tuple[str, str]]) -> list[tuple[Path, int]]:
        samples = []
        for line, where in entries:
            parts = line.rsplit(maxsplit=1)  # the path may contain spaces, the label may not
            if len(parts) != 2:
                raise DatasetError(f"{where}: {line!r} should be 'path/to/image.jpg class_id'")
            path, label = parts
            try:
                class_id = int(label)
            except ValueError:
                raise DatasetError(f"{where}: class id {label!r} is not an integer") from None
            if not 0 <= class_id < self.num_classes:
                raise DatasetError(
                    f"{where}: class id {class_id} is outside the label list "
                    f"({self.num_classes} classes, ids 0 to {self.num_classes - 1})")
            full = self.data_dir / path
            if not is_file(full):
                raise DatasetError(f"{where}: image {str(full)!r} does not exist")
            samples.append((full, class_id))
        if not samples:
            raise DatasetError(f"file list {str(self.file_list)!r} lists no images")
        return samples

    def load(self, index: int) -> dict[str, Any]:
        path, label = self.samples[index]
        return {"image": read_image(path), "label": label, "im_path": str(path)}


class ImageFolder(ImageNet):
    """One sub-folder per class under ``root``; class ids follow the sorted folder names
    unless ``labels`` gives the order."""

    def __init__(self, root: str | os.PathLike, transforms: Any = None, shuffle: bool = False,
                 labels: list[str] | None = None, num_workers: Any = "auto") -> None:
        Dataset.__init__(self, transforms, shuffle, num_workers)
        self.data_dir = self.file_list = Path(root)
        if not self.data_dir.is_dir():
            raise DatasetError(f"image folder {str(self.data_dir)!r} is not a directory")
        folders = sorted(p.name for p in self.data_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
        self.labels = list(labels) if labels is not None else folders
        missing = sorted(set(folders) - set(self.labels))
        if missing:
            raise DatasetError(f"{root}: folders {missing} are not in the given labels")
        self.samples = [
            (path, class_id)
            for class_id, name in enumerate(self.labels)
            for path in sorted((self.data_dir / name).glob("*"))
            if path.suffix.lower() in IMAGE_SUFFIXES
        ]
        if not self.samples:
            raise DatasetError(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) in class folders")
