"""Detection's and instance segmentation's pre- and post-processing: an image to the
network's input with its scale factor, and raw outputs to result dicts through the
decoder deploy.yml names (YOLO's decoding and NMS, R-CNN's boxes and pasted masks, each
a numpy class in its plugin, found by its ``"module:Class"`` string). ``model.predict``
(pxcore.tasks) and ``Predictor.predict`` both run ``predict_images``; evaluation turns
its detections into COCO results with ``to_dicts``."""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..contract import declared
from ..data.images import check_batch_size, image_list, load_image
from ..errors import PxError
from .fused import Fused, fuse, stack


def build_postprocess(config: dict[str, Any]):
    """The decoder deploy.yml names (``"module:Class"`` with its arguments)."""
    reference = config.get("decoder", "")
    module, _, name = reference.partition(":")
    try:
        factory = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise PxError(f"the exported model's post-processing {reference!r} cannot be imported "
                      f"({exc}); install the plugin that exported it") from None
    return factory(**config.get("args", {}))


MASK_FORMATS = ("array", "rle", "coco")


def split_masks(found) -> tuple[np.ndarray, np.ndarray | None]:
    """A decoder's result for one image: ``[K, 6]`` rows, or ``(rows, masks [K, H, W])``."""
    if isinstance(found, tuple):
        return found
    return found, None


def to_dicts(rows: np.ndarray, labels: Sequence[str] | None = None, masks: np.ndarray | None = None,
             mask_format: str = "array", size_offset: float = 0.0) -> list[dict[str, Any]]:
    """``[K, 6]`` (class, score, x1, y1, x2, y2) rows as result dicts, bbox as x, y, w, h
    (w = x2 - x1 + ``size_offset``: the decoder's ``box_size_offset``, see
    ``pxcore.contract.SizesBoxes``); with ``masks`` each gets ``"mask"`` (a uint8 array, or
    ``mask_format="rle"``), or for pycocotools (``"coco"``) a ``"segmentation"`` RLE."""
    from ..ops.masks import mask_to_rle

    if mask_format not in MASK_FORMATS:
        raise PxError(f"mask_format {mask_format!r} is not one of {', '.join(MASK_FORMATS)}")
    out = []
    for k, (cls, score, x1, y1, x2, y2) in enumerate(np.asarray(rows, np.float64).reshape(-1, 6)):
        item = {"category_id": int(cls), "bbox": [float(x1), float(y1), float(x2 - x1 + size_offset),
                                                  float(y2 - y1 + size_offset)],
                "score": float(score)}
        if labels is not None:
            item["category"] = labels[int(cls)] if labels else str(int(cls))
        if masks is not None:
            if mask_format == "coco":
                item["segmentation"] = mask_to_rle(masks[k])
            else:
                item["mask"] = mask_to_rle(masks[k]) if mask_format == "rle" else masks[k]
        out.append(item)
    return out


def prepare(image, transforms, index: int = 0,
            fused: Fused | None | bool = True) -> tuple[np.ndarray, dict[str, Any], tuple[int, int]]:
    """One image as the network's CHW float32 input, the transformed sample (its
    ``scale_factor`` (sy, sx) and ``im_shape``, the resized size before any right/bottom
    padding) and its original (height, width). ``fused``: as for classification's
    ``preprocess`` (the fused lookup where the pipeline allows it; the same values either way)."""
    source = str(image) if isinstance(image, str | os.PathLike) else f"image {index}"
    pixels = load_image(image, source)
    height, width = pixels.shape[:2]
    sample = {"image": pixels, "im_shape": np.array([height, width], np.float32),
              "scale_factor": np.ones(2, np.float32)}
    fused = fuse(transforms) if fused is True else fused
    if fused is not None:
        sample = fused.geometry(sample)
        chw = fused.chw(sample["image"])
    else:
        sample = transforms(sample, np.random.default_rng(0))
        chw = np.asarray(sample["image"], np.float32).transpose(2, 0, 1)
    return chw, sample, (height, width)


def preprocess(image, transforms, index: int = 0,
               fused: Fused | None | bool = True) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """``prepare``'s input, scale factor (sy, sx) and original (height, width)."""
    chw, sample, shape = prepare(image, transforms, index, fused)
    return chw, np.asarray(sample["scale_factor"], np.float32), shape


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    """A batch of CHW images; different sizes are padded (bottom, right) to the largest,
    which leaves every box where it was. One contiguous image is its own batch."""
    height = max(a.shape[1] for a in arrays)
    width = max(a.shape[2] for a in arrays)
    if all(a.shape[1:] == (height, width) for a in arrays):
        return stack(arrays)
    batch = np.zeros((len(arrays), arrays[0].shape[0], height, width), np.float32)
    for i, a in enumerate(arrays):
        batch[i, :, :a.shape[1], :a.shape[2]] = a
    return batch


def image_info(samples: Sequence[dict[str, Any]], originals: Sequence[tuple[int, int]]) -> np.ndarray:
    """Paddle 1.x's ``im_info`` [B, 3] for transformed samples: the resized height and
    width before right/bottom padding (``im_shape``) and one resize factor, the axis's
    whose factor gives both resized sides by rounding (ResizeByShort's own scale; the
    short side's where both do), or 1 where none does (a stretch has no one factor: the
    network then decodes at its input's scale)."""
    rows = []
    for sample, (height, width) in zip(samples, originals, strict=True):
        rh, rw = (float(v) for v in np.asarray(sample["im_shape"]).reshape(-1)[:2])
        sy, sx = (float(v) for v in np.asarray(sample["scale_factor"]).reshape(-1)[:2])
        candidates = (sy, sx) if height <= width else (sx, sy)
        fits = [c for c in candidates if round(height * c) == rh and round(width * c) == rw]
        rows.append([rh, rw, fits[0] if fits else 1.0])
    return np.asarray(rows, np.float32)


def predict_images(images, transforms, run, postprocess, labels, batch_size: int = 8,
                   mask_format: str = "array"):
    """``model.predict`` and ``Predictor.predict`` both: pre-process, ``run`` batches
    (array in, raw outputs out), decode and NMS, result dicts best first. One image in,
    its list out; a list in, a list of lists out. A decoder with ``takes_im_info``
    (R-CNN's: Paddle 1.x archives decode at the original image's scale) has ``run``
    called with ``im_info=`` (``image_info``) too."""
    batch_size = check_batch_size(batch_size)
    images, single = image_list(images)
    fused = fuse(transforms)
    wants_info = declared(postprocess, "takes_im_info", False)
    size_offset = declared(postprocess, "box_size_offset", 0.0)
    results = []
    for start in range(0, len(images), batch_size):
        chunk = [prepare(image, transforms, start + i, fused)
                 for i, image in enumerate(images[start:start + batch_size])]
        batch = _stack([c[0] for c in chunk])
        originals = [c[2] for c in chunk]
        if wants_info:
            outputs = run(batch, im_info=image_info([c[1] for c in chunk], originals))
        else:
            outputs = run(batch)
        scales = np.stack([np.asarray(c[1]["scale_factor"], np.float32) for c in chunk])
        dets = postprocess(outputs, scales, originals)
        for found in dets:
            rows, masks = split_masks(found)
            results.append(to_dicts(rows, labels or [], masks, mask_format, size_offset))
    return results[0] if single else results
