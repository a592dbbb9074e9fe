"""Pictures of predictions, for people: ``visualize(image, result, save_path)``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .data.images import load_image
from .errors import PxError


def visualize(image, result: Any, save_path: str | os.PathLike | None = None,
              min_size: int = 256) -> np.ndarray:
    """Draw a prediction on the image (RGB). Classification results (a list of
    ``{"category", "score"}``) are written as text in a band above the image. Returns
    the picture and writes it to ``save_path`` if given."""
    import cv2

    picture = load_image(image)
    h, w = picture.shape[:2]
    if min(h, w) < min_size:  # small inputs (digits are 32 px) are scaled up to be readable
        scale = min_size / min(h, w)
        picture = cv2.resize(picture, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_NEAREST)
    if isinstance(result, list) and all(isinstance(r, dict) and "category" in r for r in result):
        picture = _draw_classes(picture, result)
    else:
        raise PxError("visualize() draws classification results (a list of {'category', 'score'}) "
                      f"so far; got {type(result).__name__}")
    if save_path is not None:
        save_path = Path(save_path)
        save_path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(save_path), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    return picture


def _draw_classes(picture: np.ndarray, result: list[dict]) -> np.ndarray:
    import cv2

    line_height = 28
    band = np.full((line_height * len(result) + 10, picture.shape[1], 3), 255, np.uint8)
    for i, item in enumerate(result):
        text = f"{item['category']}: {item['score']:.3f}"
        cv2.putText(band, text, (8, 24 + i * line_height), cv2.FONT_HERSHEY_SIMPLEX, 0.7,
                    (0, 0, 0), 2, cv2.LINE_AA)
    return np.concatenate([band, picture], axis=0)
