"""What every data set shares: label lists, file lists parsed with errors that name the
line, and samples handed to transforms with a reproducible random generator."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PxError
from ..transforms import compose


class DatasetError(PxError):
    """A data set file (list, labels, annotation) that is missing or malformed."""


def is_file(path: Path) -> bool:
    """``path.is_file()``, but a name the system refuses (too long, say) is no file either:
    paths come from lists and annotations, and pathlib raises for those."""
    try:
        return path.is_file()
    except OSError:
        return False


def read_text_lines(path: str | os.PathLike, what: str) -> list[str]:
    path = Path(path)
    if not is_file(path):
        raise DatasetError(f"{what} {str(path)!r} does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")  # tolerate a BOM from Windows editors
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{what} {str(path)!r} is not UTF-8 text ({exc})") from None
    except OSError as exc:
        raise DatasetError(f"{what} {str(path)!r} cannot be read ({exc})") from None
    return text.splitlines()


def read_label_list(path: str | os.PathLike) -> list[str]:
    """labels.txt: one class name per line, in class-id order."""
    labels = [line.strip() for line in read_text_lines(path, "label list")]
    while labels and not labels[-1]:
        labels.pop()
    if not labels:
        raise DatasetError(f"label list {str(path)!r} is empty; it needs one class name per line")
    blank = [i + 1 for i, name in enumerate(labels) if not name]
    if blank:
        raise DatasetError(f"label list {str(path)!r}: line {blank[0]} is blank; every line names a class")
    seen: dict[str, int] = {}
    for line, name in enumerate(labels, 1):
        if name in seen:
            raise DatasetError(f"label list {str(path)!r}: {name!r} on line {line} repeats line {seen[name]}")
        seen[name] = line
    return labels


def file_list_entries(path: str | os.PathLike) -> list[tuple[str, str]]:
    """A PaddleX file list's entries: (line, "list.txt, line N") for every line that is
    not blank or a ``#`` comment, so that errors can name the line."""
    entries = []
    for number, line in enumerate(read_text_lines(path, "file list"), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            entries.append((line, f"{path}, line {number}"))
    return entries


class Dataset:
    """A list of samples and the transforms applied to each."""

    task = "classification"

    def __init__(self, transforms: Any = None, shuffle: bool = False, num_workers: Any = "auto") -> None:
        self.transforms = compose(transforms)
        self.shuffle = shuffle
        self.num_workers = num_workers
        self.labels: list[str] = []
        self.samples: list[Any] = []

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def __len__(self) -> int:
        return len(self.samples)

    def _open_lists(self, data_dir: str | os.PathLike, file_list: str | os.PathLike,
                    label_list: str | os.PathLike) -> list[tuple[str, str]]:
        """PaddleX's three arguments: check ``data_dir``, read the labels, and return the
        file list's entries (see ``file_list_entries``)."""
        self.data_dir = Path(data_dir)
        if not self.data_dir.is_dir():
            raise DatasetError(f"data_dir {str(self.data_dir)!r} is not a directory")
        self.labels = read_label_list(label_list)
        self.file_list = Path(file_list)
        return file_list_entries(self.file_list)

    def load(self, index: int) -> dict[str, Any]:
        """The raw sample: decoded image and annotations, before transforms."""
        raise NotImplementedError

    def get(self, index: int, rng: np.random.Generator | None = None, epoch: int = 0) -> dict[str, Any]:
        """The sample after transforms (a MixupImage among them gets a partner sample,
        as its ``mixup_epoch`` allows at this ``epoch``)."""
        from ..transforms.detection import attach_mixup

        rng = rng if rng is not None else np.random.default_rng()
        sample = attach_mixup(self, index, rng, self.load(index), epoch=epoch)
        return self.transforms(sample, rng)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.get(index)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self)} samples, {self.num_classes} classes>"
