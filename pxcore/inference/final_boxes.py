"""Detection graphs that decode and run NMS themselves (PaddleDetection 2.x's exports, as
PaddleX 2.x writes them): inputs ``image``, ``im_shape`` and ``scale_factor``, outputs the
final boxes ``[K, 6]`` (class, score, x1, y1, x2, y2 in the original image's pixels), the
number of boxes per image, and for Mask R-CNN the masks ``[K, H, W]`` pasted into the
original image.

The Predictor feeds such a graph one image at a time: ``im_shape`` is the resized size
before right/bottom padding and ``scale_factor`` the resize's (sy, sx), as PaddleDetection's
``Resize`` and ``Pad`` leave them, so the graph's own ``floor(im_shape / scale_factor +
0.5)`` is the original size it clips to and pastes masks into. PaddleDetection marks
boxes it drops after NMS (an image with none gets one placeholder row; a box that
clipping leaves empty keeps its row) with class -1; those rows are dropped here, as
PaddleX's ``_postprocess`` drops them, and so are rows under ``score_threshold``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data.images import image_list
from ..errors import PxError
from .detection import prepare, to_dicts
from .fused import fuse

INPUTS = ("image", "im_shape", "scale_factor")
TYPE = "final_boxes"  # deploy info's postprocess type for these graphs


def split_outputs(outputs: list[np.ndarray], where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The graph's outputs as (boxes [K, 6], counts [N], masks [K, H, W] or None), told
    apart by form (the order a program lists them in is its own): the integer vector is
    the counts, the 3-D array the masks, the float matrix the boxes."""
    boxes = counts = masks = None
    for out in outputs:
        out = np.asarray(out)
        if out.ndim == 1 and np.issubdtype(out.dtype, np.integer):
            counts = out
        elif out.ndim == 3:
            masks = out
        elif out.ndim == 2 and out.shape[1] == 6:
            boxes = out
    if boxes is None or counts is None:
        forms = ", ".join(f"{np.asarray(o).dtype}{list(np.shape(o))}" for o in outputs)
        raise PxError(f"{where}: the graph's outputs ({forms}) are not final boxes [K, 6] with "
                      "per-image counts [N] (PaddleDetection's bbox and bbox_num); pxcore's "
                      "Predictor runs detection graphs of that form only")
    if int(counts.sum()) != boxes.shape[0] or (masks is not None and masks.shape[0] != boxes.shape[0]):
        raise PxError(f"{where}: the graph gave {boxes.shape[0]} boxes"
                      + (f" and {masks.shape[0]} masks" if masks is not None else "")
                      + f" but counts {counts.tolist()}; its outputs do not belong together")
    return boxes, counts, masks


class FinalBoxes:
    """One image's graph outputs as ``[K, 6]`` rows (and uint8 masks), best first."""

    def __init__(self, score_threshold: float = 0.0) -> None:
        self.score_threshold = float(score_threshold)

    def __call__(self, outputs: list[np.ndarray], shape: tuple[int, int],
                 where: str = "the graph") -> tuple[np.ndarray, np.ndarray | None]:
        boxes, counts, masks = split_outputs(outputs, where)
        if counts.shape[0] != 1:
            raise PxError(f"{where}: fed one image, the graph counted boxes for {counts.shape[0]}")
        boxes = boxes.astype(np.float32)
        keep = (boxes[:, 0] >= 0) & (boxes[:, 1] >= self.score_threshold)
        order = np.argsort(-boxes[keep, 1], kind="stable")
        rows = boxes[keep][order]
        if masks is None:
            return rows, None
        height, width = shape
        # pasted into the original size (the batch's largest, here this image's)
        masks = (np.asarray(masks)[keep][order][:, :height, :width] > 0).astype(np.uint8)
        return rows, masks


def predict_images(images, transforms, run_graph, decoder: FinalBoxes, labels,
                   mask_format: str = "array", where: str = "the graph"):
    """Pre-process each image, ``run_graph({"image", "im_shape", "scale_factor"})`` on
    it alone, and give ``to_dicts`` of what the graph kept: one image in, its list out;
    a list in, a list of lists out (as ``detection.predict_images``)."""
    images, single = image_list(images)
    fused = fuse(transforms)
    results = []
    for index, image in enumerate(images):
        chw, sample, shape = prepare(image, transforms, index, fused)
        feed = {"image": chw[None],
                "im_shape": np.asarray(sample["im_shape"], np.float32).reshape(1, 2),
                "scale_factor": np.asarray(sample["scale_factor"], np.float32).reshape(1, 2)}
        rows, masks = decoder(run_graph(feed), shape, where)
        results.append(to_dicts(rows, labels or [], masks, mask_format))
    return results[0] if single else results


def feed_order(input_names: list[str], where: str) -> list[str]:
    """The graph's input names, checked to be exactly the three it is fed."""
    if sorted(input_names) != sorted(INPUTS):
        raise PxError(f"{where}: the graph's inputs are {', '.join(input_names)}, not "
                      f"{', '.join(INPUTS)}; it is not a detection graph with its own NMS")
    return list(input_names)


def deploy_entry(score_threshold: float = 0.0) -> dict[str, Any]:
    """deploy info's ``postprocess`` for such a graph."""
    return {"type": TYPE, "score_threshold": float(score_threshold)}
