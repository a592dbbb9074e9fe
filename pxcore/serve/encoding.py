"""``Predictor.predict``'s results as JSON, one image's at a time, and back (for clients
and tests):

- classification: the top-k list as it is (``category_id``, ``category``, ``score``);
- detection and instance segmentation: the box dicts as they are, a mask as COCO's
  compressed RLE (``{"size": [h, w], "counts": str}``, what ``mask_format="rle"`` gives;
  ``pycocotools.mask.decode`` or ``pxcore.ops.masks.rle_to_mask`` reads it);
- semantic segmentation: ``{"label_map": base64 PNG of the class ids, "size": [h, w]}``,
  a lossless 8-bit PNG (16-bit past 256 classes), plus ``score_map`` never (dense floats
  are no answer for HTTP)."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from ..ops.masks import mask_to_rle


def encode_result(task: str, result: Any) -> Any:
    """One image's ``Predictor.predict`` result as JSON-ready data."""
    if task == "semantic_segmentation":
        return {"label_map": encode_label_map(result["label_map"]),
                "size": [int(v) for v in np.shape(result["label_map"])[:2]]}
    if task in ("detection", "instance_segmentation"):
        return [{**item, "mask": mask_to_rle(item["mask"])}
                if isinstance(item.get("mask"), np.ndarray) else item for item in result]
    return result


def encode_label_map(label_map: np.ndarray) -> str:
    """Class ids (HxW) as a base64 PNG: 8-bit, or 16-bit where an id exceeds 255."""
    import cv2

    label_map = np.asarray(label_map)
    dtype = np.uint8 if label_map.size == 0 or int(label_map.max()) < 256 else np.uint16
    ok, png = cv2.imencode(".png", label_map.astype(dtype))
    if not ok:  # pragma: no cover - OpenCV encodes any 2-D uint8/uint16 array
        raise ValueError(f"the label map {label_map.shape} could not be written as PNG")
    return base64.b64encode(png.tobytes()).decode("ascii")


def decode_label_map(text: str) -> np.ndarray:
    """``encode_label_map``'s string back to the HxW class ids (uint8 or uint16)."""
    import cv2

    data = np.frombuffer(base64.b64decode(text), np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
