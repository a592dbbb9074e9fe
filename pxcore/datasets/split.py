"""``px split-dataset``: file lists for an image-folder tree, PaddleX users' first step."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import PxError
from .base import DatasetError
from .imagenet import IMAGE_SUFFIXES


def split_image_folders(data_dir: str | os.PathLike, val: float = 0.2, test: float = 0.0,
                        seed: int = 0) -> dict[str, Path]:
    """Write labels.txt, train_list.txt, val_list.txt (and test_list.txt) into
    ``data_dir``, whose sub-folders are the classes. Each class is split in the given
    proportions, so every class appears in every split it has images for."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DatasetError(f"{str(data_dir)!r} is not a directory")
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise PxError(f"val ({val}) and test ({test}) must be fractions that leave some training data")
    classes = sorted(p.name for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DatasetError(f"{data_dir}: no class sub-folders to split")
    rng = np.random.default_rng(seed)
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for class_id, name in enumerate(classes):
        files = sorted(p for p in (data_dir / name).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        files = [files[i] for i in rng.permutation(len(files))]
        n_val, n_test = round(len(files) * val), round(len(files) * test)
        parts = {"val": files[:n_val], "test": files[n_val:n_val + n_test],
                 "train": files[n_val + n_test:]}
        for split, items in parts.items():
            splits[split].extend(f"{p.relative_to(data_dir).as_posix()} {class_id}" for p in items)
    (data_dir / "labels.txt").write_text("\n".join(classes) + "\n", encoding="utf-8")
    written = {"labels": data_dir / "labels.txt"}
    for split, lines in splits.items():
        if split != "train" and not lines:
            continue
        path = data_dir / f"{split}_list.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        written[split] = path
    return written
