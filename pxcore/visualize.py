"""Pictures of predictions, for people: ``visualize(image, result, save_path)``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .data.images import load_image
from .errors import PxError


def visualize(image, result: Any, save_path: str | os.PathLike | None = None,
              min_size: int = 256, threshold: float = 0.5) -> np.ndarray:
    """Draw a prediction on the image (RGB). Classification results (a list of
    ``{"category", "score"}``) are written as text in a band above the image;
    detections (``{"bbox": [x, y, w, h], "category", "score"}``) scoring at least
    ``threshold`` are drawn as labelled boxes, and a detection's ``"mask"`` (a binary
    ``HxW`` array of the image's size, or a COCO RLE dict; ``"segmentation"`` is read
    too) as a translucent overlay in its class's colour. Returns the picture and writes
    it to ``save_path`` if given."""
    import cv2

    picture = load_image(image)
    h, w = picture.shape[:2]
    scale = 1.0
    if min(h, w) < min_size:  # small inputs (digits are 32 px) are scaled up to be readable
        scale = min_size / min(h, w)
        picture = cv2.resize(picture, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_NEAREST)
    items = result if isinstance(result, list) and all(isinstance(r, dict) for r in result) else None
    if items is not None and all("bbox" in r for r in items):
        shown = [r for r in items if r["score"] >= threshold]
        picture = _draw_masks(picture, shown, (h, w))
        picture = _draw_boxes(picture, shown, scale)
    elif items is not None and all("category" in r for r in items):
        picture = _draw_classes(picture, items)
    else:
        raise PxError("visualize() draws classification results (a list of {'category', 'score'}) "
                      "and detections (a list of {'bbox', 'category', 'score'}); "
                      f"got {type(result).__name__}")
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


def _colour(class_id: int) -> tuple[int, int, int]:
    """A stable, distinct colour per class (golden-ratio steps round the hue circle)."""
    import colorsys

    r, g, b = colorsys.hsv_to_rgb((class_id * 0.618034) % 1.0, 0.85, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


MASK_ALPHA = 0.5  # how much of the class colour a masked pixel takes


def _mask_of(item: dict, size: tuple[int, int]) -> np.ndarray | None:
    """A detection's mask as a boolean ``HxW`` array of the image's size, or None."""
    from .ops.masks import _binary, rle_to_mask

    mask = item.get("mask", item.get("segmentation"))
    if mask is None:
        return None
    name = f"visualize: the mask of the {item.get('category', item.get('category_id'))} detection"
    if isinstance(mask, dict) and isinstance(mask.get("size"), list | tuple):
        shape = tuple(mask["size"])  # an RLE's [height, width]
    else:
        shape = np.shape(mask) if not isinstance(mask, list) else size
    if len(shape) == 2 and tuple(shape) != tuple(size):
        raise PxError(f"{name} is {shape[0]}x{shape[1]} but the image is {size[0]}x{size[1]} "
                      "(height x width); paste the masks into the original image's size")
    if not isinstance(mask, dict | list):
        return _binary(mask, name).astype(bool)
    try:
        return rle_to_mask(mask, size).astype(bool)
    except PxError as exc:
        raise PxError(f"{name}: {exc}") from None


def _draw_masks(picture: np.ndarray, detections: list[dict], size: tuple[int, int]) -> np.ndarray:
    """Translucent class-coloured overlays, lowest score first, so the best is on top."""
    import cv2

    masked = [(item, _mask_of(item, size)) for item in sorted(detections, key=lambda d: d["score"])]
    masked = [(item, mask) for item, mask in masked if mask is not None]
    if not masked:
        return picture
    picture = np.array(picture, np.uint8)
    for item, mask in masked:
        if mask.shape != picture.shape[:2]:  # the picture was scaled up to be readable
            mask = cv2.resize(mask.astype(np.uint8), (picture.shape[1], picture.shape[0]),
                              interpolation=cv2.INTER_NEAREST).astype(bool)
        colour = np.asarray(_colour(int(item.get("category_id", 0))), np.float32)
        blended = picture[mask].astype(np.float32) * (1 - MASK_ALPHA) + colour * MASK_ALPHA
        picture[mask] = np.round(blended).astype(np.uint8)
    return picture


def _draw_boxes(picture: np.ndarray, detections: list[dict], scale: float) -> np.ndarray:
    import cv2

    picture = np.ascontiguousarray(picture)
    for item in sorted(detections, key=lambda d: d["score"]):  # best drawn last, on top
        x, y, w, h = (v * scale for v in item["bbox"])
        colour = _colour(int(item.get("category_id", 0)))
        top_left, bottom_right = (round(x), round(y)), (round(x + w), round(y + h))
        cv2.rectangle(picture, top_left, bottom_right, colour, 2)
        text = f"{item.get('category', item.get('category_id'))} {item['score']:.2f}"
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        ty = max(th + 4, top_left[1])
        cv2.rectangle(picture, (top_left[0], ty - th - 4), (top_left[0] + tw + 4, ty), colour, -1)
        cv2.putText(picture, text, (top_left[0] + 2, ty - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return picture
