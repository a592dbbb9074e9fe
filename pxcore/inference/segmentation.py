"""Semantic segmentation's pre- and post-processing: images transformed and padded to a
multiple of the network's ``size_divisor``, logits turned into probabilities, restored
to each image's own size (cropped to the content, resized), optionally by overlapping
windows (tiling). ``model.predict``/``evaluate`` (pxcore.tasks) and
``Predictor.predict`` all run ``predict_images``, each with its own ``run``.

Where nothing is resized and no score map is asked for, the label map is the argmax of
the logits themselves (softmax keeps their order): an export computes it in its graph,
as PaddleSeg's export does, so the runtime's threads do it and the dense probabilities
are never made (Fast-SCNN at 640x427: 11 ms of softmax, argmax and score map otherwise,
half the network's time)."""

from __future__ import annotations

import os
from typing import Any

import cv2
import numpy as np

from ..data.images import check_batch_size, image_list, load_image
from ..errors import PxError
from .fused import Fused, fuse


def preprocess(image, transforms, index: int = 0) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """One image as a HWC float32 array after ``transforms``, the (height, width) of its
    content there (before any right/bottom padding), and its original (height, width)."""
    fused = fuse(transforms)
    pixels, content, original = _prepare(image, transforms, index, fused)
    if fused is not None:  # Normalize still to apply
        pixels = fused.chw(pixels).transpose(1, 2, 0)
    return pixels, content, original


def _prepare(image, transforms, index: int, fused: Fused | None):
    """``preprocess``, except that with ``fused`` the image stays uint8 (the geometric
    steps done, Normalize not yet: ``_pad_batch`` applies it into the batch)."""
    source = str(image) if isinstance(image, str | os.PathLike) else f"image {index}"
    pixels = load_image(image, source)
    height, width = pixels.shape[:2]
    sample = {"image": pixels, "im_shape": np.array([height, width], np.float32),
              "scale_factor": np.ones(2, np.float32)}
    if fused is not None:
        out = fused.geometry(sample)["image"]
    else:
        sample = transforms(sample, np.random.default_rng(0))
        out = np.asarray(sample["image"], np.float32)
    content = tuple(min(int(round(v)), d) for v, d in zip(sample["im_shape"], out.shape[:2], strict=True))
    return out, content, (height, width)


def _pad_batch(arrays: list[np.ndarray], divisor: int, fused: Fused | None = None) -> np.ndarray:
    """HWC arrays as one NCHW batch, zero-padded right and bottom to a common size that
    ``divisor`` divides. With ``fused`` the arrays are uint8, normalised into the batch."""
    height = max(a.shape[0] for a in arrays)
    width = max(a.shape[1] for a in arrays)
    height, width = -(-height // divisor) * divisor, -(-width // divisor) * divisor
    batch = np.zeros((len(arrays), arrays[0].shape[2], height, width), np.float32)
    for i, a in enumerate(arrays):
        if fused is not None:
            fused.chw(a, out=batch[i, :, :a.shape[0], :a.shape[1]])
        else:
            batch[i, :, :a.shape[0], :a.shape[1]] = a.transpose(2, 0, 1)
    return batch


def softmax(logits: np.ndarray, axis: int = 0) -> np.ndarray:
    # the same float operations as (e := exp(x - max)) / e.sum(), in one buffer
    out = np.subtract(logits, logits.max(axis=axis, keepdims=True))
    np.exp(out, out=out)
    np.divide(out, out.sum(axis=axis, keepdims=True), out=out)
    return out


def _windows(length: int, tile: int, step: int) -> list[int]:
    """Window starts covering ``length``; the last window ends at the edge."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step))
    return [*starts, length - tile]


def _size_pair(value, what: str) -> tuple[int, int]:
    """[width, height] or one int as (height, width)."""
    if isinstance(value, int | np.integer):
        value = (int(value), int(value))
    try:
        width, height = (int(v) for v in value)
    except (TypeError, ValueError):
        raise PxError(f"{what} must be [width, height] or one int, got {value!r}") from None
    return height, width


def _tile_scores(image: np.ndarray, run, divisor: int, tile, overlap, batch_size: int,
                 fused: Fused | None = None) -> np.ndarray:
    """Class probabilities [C, H, W] of one transformed image by overlapping windows
    (uint8, normalised per window, with ``fused``)."""
    tile_h, tile_w = _size_pair(tile, "tile_size")
    over_h, over_w = _size_pair(overlap, "overlap")
    if not (0 <= over_h < tile_h and 0 <= over_w < tile_w):
        raise PxError(f"overlap {list(overlap) if not isinstance(overlap, int) else overlap} must "
                      f"be smaller than tile_size and not negative")
    height, width = image.shape[:2]
    boxes = [(y, x) for y in _windows(height, tile_h, tile_h - over_h)
             for x in _windows(width, tile_w, tile_w - over_w)]
    total = count = None
    for start in range(0, len(boxes), batch_size):
        chunk = boxes[start:start + batch_size]
        crops = [image[y:y + tile_h, x:x + tile_w] for y, x in chunk]
        logits = run(_pad_batch(crops, divisor, fused))[0]
        if total is None:
            total = np.zeros((logits.shape[1], height, width), np.float32)
            count = np.zeros((height, width), np.float32)
        for (y, x), crop, scores in zip(chunk, crops, logits, strict=True):
            h, w = crop.shape[:2]
            total[:, y:y + h, x:x + w] += softmax(scores[:, :h, :w])
            count[y:y + h, x:x + w] += 1
    return total / count


def _restore(scores: np.ndarray, content: tuple[int, int], original: tuple[int, int]) -> np.ndarray:
    """[C, h, w] scores of the transformed image as [C, H, W] at the original size."""
    scores = scores[:, :content[0], :content[1]]
    if scores.shape[1:] == tuple(original):
        return scores
    height, width = original
    resized = [cv2.resize(channel, (width, height), interpolation=cv2.INTER_LINEAR) for channel in scores]
    return np.stack(resized)


def argmax_channels(scores: np.ndarray) -> np.ndarray:
    """``scores.argmax(0)`` for [C, H, W] with C <= 256, as uint8, a channel at a time:
    numpy's argmax across the outer axis walks each pixel's channels separately (17 ms
    for 19 classes at 640x427; this, 1.6 ms). A pixel keeps the first highest channel,
    as argmax does; where a NaN is met, argmax itself decides."""
    best = scores[0].copy()
    index = np.zeros(best.shape, np.uint8)
    higher = np.empty(best.shape, bool)
    marked = np.empty(best.shape, np.uint8)
    for channel in range(1, scores.shape[0]):
        np.greater(scores[channel], best, out=higher)
        # channels only increase: max(index, channel where higher, else 0) moves the index
        np.multiply(higher.view(np.uint8), channel, out=marked)
        np.maximum(index, marked, out=index)
        np.maximum(best, scores[channel], out=best)  # NaN wins here, and is caught below
    if np.isnan(best).any():
        return scores.argmax(0).astype(np.uint8)
    return index


def _channels_last(scores: np.ndarray) -> np.ndarray:
    """[C, H, W] float32 as a contiguous [H, W, C] copy: OpenCV's merge for up to 128
    channels (its limit in OpenCV 5; 2.8 ms against numpy's 6.3 ms at 19x640x427),
    numpy's transpose beyond."""
    channels, height, width = scores.shape
    if scores.dtype != np.float32 or channels > 128:
        return np.ascontiguousarray(scores.transpose(1, 2, 0), np.float32)
    return cv2.merge(list(scores)).reshape(height, width, channels)


def label_dtype(num_classes: int) -> str:
    """The label map's type (numpy's and paddle's name): uint8 up to 256 classes, int32 beyond."""
    return "uint8" if num_classes <= 256 else "int32"


def _labels(scores: np.ndarray) -> np.ndarray:
    """The first highest channel of [C, H, W] scores, as ``label_dtype``."""
    if label_dtype(scores.shape[0]) == "uint8":
        return argmax_channels(scores)
    return scores.argmax(0).astype(np.int32)


def _result(scores: np.ndarray, with_scores: bool) -> dict[str, Any]:
    result = {"label_map": _labels(scores)}
    if with_scores:
        result["score_map"] = _channels_last(scores)
    return result


def _from_outputs(outputs: list[np.ndarray], index: int, content: tuple[int, int],
                  original: tuple[int, int], with_scores: bool) -> dict[str, Any]:
    """Image ``index``'s result from a batch's outputs: logits, and from an export
    made since the label map was put in its graph, their argmax."""
    logits = outputs[0][index, :, :content[0], :content[1]]
    if not with_scores and tuple(content) == tuple(original):
        if len(outputs) > 1:  # the graph's own argmax
            return {"label_map": np.ascontiguousarray(outputs[1][index, :content[0], :content[1]])}
        return {"label_map": _labels(logits)}
    return _result(_restore(softmax(logits), content, original), with_scores)


def predict_images(images, transforms, run, batch_size: int = 8, size_divisor: int = 32,
                   tile_size: Any = None, overlap: Any = (64, 64), with_scores: bool = False):
    """``model.predict`` and ``Predictor.predict`` both: transform, pad, ``run`` batches
    (array in, [logits] or [logits, label map] out), restore to each image's size. One
    image in, its dict out; a list in, a list of dicts out. ``with_scores`` adds the
    class probabilities (HxWxC float32) as ``score_map``."""
    batch_size = check_batch_size(batch_size)
    images, single = image_list(images)
    fused = fuse(transforms)
    results = []
    for start in range(0, len(images), batch_size):
        chunk = [_prepare(image, transforms, start + i, fused)
                 for i, image in enumerate(images[start:start + batch_size])]
        if tile_size is not None:
            for pixels, content, original in chunk:
                scores = _tile_scores(pixels, run, size_divisor, tile_size, overlap, batch_size, fused)
                results.append(_result(_restore(scores, content, original), with_scores))
        else:
            outputs = run(_pad_batch([c[0] for c in chunk], size_divisor, fused))
            results.extend(_from_outputs(outputs, i, content, original, with_scores)
                           for i, (_, content, original) in enumerate(chunk))
    return results[0] if single else results
