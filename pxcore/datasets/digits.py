"""The demo's data: the 1,797 real 8x8 handwritten digits scikit-learn ships, written
as an image-folder tree (one folder per digit) of upscaled PNG files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import PxError


def write_digits(out_dir: str | os.PathLike, size: int = 32) -> Path:
    """Write every digit image as ``out_dir/<digit>/<index>.png`` at ``size`` pixels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise PxError("the demo's data comes from scikit-learn: pip install scikit-learn") from None
    import cv2

    digits = load_digits()
    out_dir = Path(out_dir)
    for index, (image, target) in enumerate(zip(digits.images, digits.target, strict=True)):
        folder = out_dir / str(int(target))
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.clip(image * (255.0 / 16.0), 0, 255).astype(np.uint8)  # values are 0..16
        pixels = cv2.resize(pixels, (size, size), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(folder / f"{index:04d}.png"), pixels)
    return out_dir
