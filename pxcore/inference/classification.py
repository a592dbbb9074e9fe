"""Classification's pre- and post-processing: an image to the network's CHW input, and
logits to top-k classes. ``model.predict`` (pxcore.tasks) and ``Predictor.predict`` both
run ``predict_images``, each with its own ``run`` (eager paddle, or a runtime)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..data.images import check_batch_size, image_list, load_image
from .fused import Fused, fuse, stack


def predict_images(images, transforms, run, labels, num_classes: int, topk: int = 1,
                   batch_size: int = 8):
    """Decode and transform each image, ``run`` batches (an array in, the network's
    outputs out), return top-k per image. One image in, its list out; a list in, a list
    of lists out."""
    batch_size = check_batch_size(batch_size)
    images, single = image_list(images)
    k = max(1, min(int(topk), num_classes))
    fused = fuse(transforms)
    results = []
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        batch = stack([preprocess(image, transforms, start + i, fused) for i, image in enumerate(chunk)])
        results.extend(postprocess(run(batch)[0], labels, k))
    return results[0] if single else results


def preprocess(image, transforms, index: int = 0, fused: Fused | None | bool = True) -> np.ndarray:
    """One image (path or RGB array) as the network's CHW float32 input. ``fused``:
    ``fuse(transforms)`` when the caller has it (None: the general path), True to work
    it out here; both paths give the same values."""
    source = str(image) if isinstance(image, str | os.PathLike) else f"image {index}"
    pixels = load_image(image, source)
    fused = fuse(transforms) if fused is True else fused
    if fused is not None:
        return fused.chw(fused.geometry({"image": pixels})["image"])
    sample = transforms({"image": pixels}, np.random.default_rng(0))
    return np.asarray(sample["image"], np.float32).transpose(2, 0, 1)


def postprocess(logits: np.ndarray, labels, k: int) -> list[list[dict[str, Any]]]:
    """Softmax scores, top-k per row, with class names."""
    probs = softmax(np.asarray(logits, np.float32))
    out = []
    for row in probs:
        # the first highest score is what the stable sort puts first; argmax finds the
        # first NaN if there is one (NaN sorts last in the stable sort: sort then)
        best = row.argmax()
        top = [best] if k == 1 and row[best] == row[best] else np.argsort(-row, kind="stable")[:k]
        out.append([{"category_id": int(c), "category": labels[c] if labels else str(int(c)),
                     "score": float(row[c])} for c in top])
    return out


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of [N, C] logits."""
    # exp(x - max) / sum, the same operations in one buffer
    out = np.subtract(logits, logits.max(axis=1, keepdims=True))
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out
