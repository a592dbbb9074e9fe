"""Pictures of predictions, for people: ``visualize(image, result, save_path)``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .data.images import load_image
from .errors import PxError


def visualize(image, result: Any, save_path: str | os.PathLike | None = None,
              min_size: int = 256, threshold: float = 0.5, labels=None, weight: float = 0.6) -> np.ndarray:
    """Draw a prediction on the image (RGB). Classification results (a list of
    ``{"category", "score"}``) are written as text in a band above the image;
    detections (``{"bbox": [x, y, w, h], "category", "score"}``) scoring at least
    ``threshold`` are drawn as labelled boxes, and a detection's ``"mask"`` (a binary
    ``HxW`` array of the image's size, or a COCO RLE dict; ``"segmentation"`` is read
    too) as a translucent overlay in its class's colour. A segmentation result
    (``{"label_map": HxW}``) is blended over the image (``weight``: how much of the class
    colours shows) with a legend of the classes present, named from ``labels``. Returns
    the picture and writes it to ``save_path`` if given."""
    import cv2

    picture = load_image(image)
    h, w = picture.shape[:2]
    scale = 1.0
    if min(h, w) < min_size:  # small inputs (digits are 32 px) are scaled up to be readable
        scale = min_size / min(h, w)
        picture = cv2.resize(picture, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_NEAREST)
    items = result if isinstance(result, list) and all(isinstance(r, dict) for r in result) else None
    if isinstance(result, dict) and "label_map" in result:
        picture = _draw_label_map(picture, result["label_map"], (h, w), labels, weight)
    elif items is not None and all("bbox" in r for r in items):
        shown = [r for r in items if r["score"] >= threshold]
        picture = _draw_masks(picture, shown, (h, w))
        picture = _draw_boxes(picture, shown, scale)
    elif items is not None and all("category" in r for r in items):
        picture = _draw_classes(picture, items)
    else:
        raise PxError("visualize() draws classification results (a list of {'category', 'score'}), "
                      "detections (a list of {'bbox', 'category', 'score'}) and segmentation "
                      f"results ({{'label_map': ...}}); got {type(result).__name__}")
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


def _draw_label_map(picture: np.ndarray, label_map, size: tuple[int, int], labels, weight: float) -> np.ndarray:
    """Class colours blended over the image (background, class 0, left as it is when
    named "background"), then a legend band below: a swatch and name per class present."""
    import cv2

    label_map = np.asarray(label_map)
    if label_map.shape != tuple(size):
        raise PxError(f"visualize: the label map is {label_map.shape[1]}x{label_map.shape[0]} but "
                      f"the image is {size[1]}x{size[0]} (width x height); predict gives maps at "
                      "the image's size")
    if not 0 <= weight <= 1:
        raise PxError(f"visualize: weight {weight!r} must be between 0 and 1")
    if label_map.shape != picture.shape[:2]:  # the picture was scaled up to be readable
        label_map = cv2.resize(label_map.astype(np.int32), (picture.shape[1], picture.shape[0]),
                               interpolation=cv2.INTER_NEAREST)
    present = [int(c) for c in np.unique(label_map)]
    names = {c: (labels[c] if labels and c < len(labels) else str(c)) for c in present}
    shown = [c for c in present if not (c == 0 and names[c].lower() == "background")]
    palette = np.array([_colour(c) for c in range(max(present) + 1)], np.float32)
    picture = np.array(picture, np.float32)
    painted = np.isin(label_map, shown)
    picture[painted] = picture[painted] * (1 - weight) + palette[label_map[painted]] * weight
    picture = np.round(picture).astype(np.uint8)
    return _legend(picture, [(names[c], _colour(c)) for c in shown])


def _legend(picture: np.ndarray, entries: list[tuple[str, tuple[int, int, int]]]) -> np.ndarray:
    import cv2

    if not entries:
        return picture
    row, width = 24, picture.shape[1]
    cells = []  # (x, y) of each entry, wrapping to the picture's width
    x = y = 0
    for name, _ in entries:
        (tw, _), _ = cv2.getTextSize(name, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        cell = 28 + tw + 12
        if x and x + cell > width:
            x, y = 0, y + row
        cells.append((x, y))
        x += cell
    band = np.full((y + row + 6, width, 3), 255, np.uint8)
    for (name, colour), (cx, cy) in zip(entries, cells, strict=True):
        cv2.rectangle(band, (cx + 6, cy + 6), (cx + 22, cy + 20), colour, -1)
        cv2.putText(band, name, (cx + 28, cy + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return np.concatenate([picture, band], axis=0)
