"""From the network's raw outputs to boxes: decoding and NMS, in numpy.

The exported graph ends at the raw head outputs (converters fail on ``yolo_box`` and
``matrix_nms``), so this one piece of code runs after every runtime and after
``model.predict`` alike: every runtime gives the same boxes. It is plain data
(``to_config``) so deploy.yml can carry it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from pxcore.errors import PxError
from pxcore.ops.nms import matrix_nms, multiclass_nms

NMS_DEFAULTS = {
    "multiclass": {"score_threshold": 0.01, "nms_threshold": 0.45, "nms_top_k": 1000,
                   "keep_top_k": 100},
    # PP-YOLO's Matrix NMS settings.
    "matrix": {"score_threshold": 0.01, "post_threshold": 0.01, "nms_top_k": -1,
               "keep_top_k": 100, "use_gaussian": False, "gaussian_sigma": 2.0},
}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # no overflow for large |x|


def _size_offset(instance, attribute, value) -> None:
    if value not in (0, 1) or isinstance(value, bool):
        raise PxError(f"YOLO post-processing: box_size_offset must be 0 or 1 (1 for PaddleDetection "
                      f"0.x / PaddleX 1.x weights), got {value!r}")


def _tuples(value) -> tuple:
    return tuple(tuple(v) if isinstance(v, list | tuple) else v for v in value)


@attrs.frozen
class YOLOPostprocess:
    """Decode each level (``anchors`` picked by ``anchor_masks``, deepest level first,
    at ``strides``), then NMS (``nms["type"]``: "multiclass" or "matrix").

    ``box_size_offset`` 1 is PaddleDetection 0.x / PaddleX 1.x's whole-pixel convention,
    corners inclusive: boxes clipped to the last pixel (Paddle's ``yolo_box``, to
    width - 1), multiclass NMS measuring pixel boxes (their configs' ``normalized:
    false``) and boxes reported as w = x2 - x1 + 1 (0.x's ``bbox2out``, which their COCO
    mAP used); 0 (the default) clips to the image's edge and reports w = x2 - x1."""

    anchors: Sequence[Sequence[float]] = attrs.field(converter=_tuples)
    anchor_masks: Sequence[Sequence[int]] = attrs.field(converter=_tuples)
    strides: Sequence[int] = attrs.field(converter=tuple)
    num_classes: int = 80
    scale_x_y: float = 1.0
    iou_aware: bool = False
    iou_aware_factor: float = 0.4
    nms: dict = attrs.field(factory=lambda: {"type": "multiclass"})
    box_size_offset: float = attrs.field(default=0.0, validator=_size_offset)

    def __attrs_post_init__(self) -> None:
        kind = self.nms.get("type", "multiclass")
        if kind not in NMS_DEFAULTS:
            raise PxError(f"YOLO post-processing: nms type {kind!r} is not one of {list(NMS_DEFAULTS)}")
        unknown = set(self.nms) - set(NMS_DEFAULTS[kind]) - {"type"}
        if unknown:
            raise PxError(f"YOLO post-processing: {kind} NMS has no option(s) {sorted(unknown)}; "
                          f"it takes {sorted(NMS_DEFAULTS[kind])}")

    def to_config(self) -> dict[str, Any]:
        return {"anchors": [list(a) for a in self.anchors],
                "anchor_masks": [list(m) for m in self.anchor_masks],
                "strides": list(self.strides), "num_classes": self.num_classes,
                "scale_x_y": self.scale_x_y, "iou_aware": self.iou_aware,
                "iou_aware_factor": self.iou_aware_factor, "nms": dict(self.nms),
                "box_size_offset": self.box_size_offset}

    def decode(self, outputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Boxes ``[B, N, 4]`` (x1, y1, x2, y2 in input pixels) and class scores
        ``[B, N, C]`` (objectness times class probability) over every anchor of every
        cell of every level."""
        if len(outputs) != len(self.anchor_masks):
            raise PxError(f"YOLO post-processing expects {len(self.anchor_masks)} outputs, got {len(outputs)}")
        all_boxes, all_scores = [], []
        for out, mask, stride in zip(outputs, self.anchor_masks, self.strides, strict=True):
            out = np.asarray(out, np.float32)
            batch, _, grid_h, grid_w = out.shape
            na = len(mask)
            if self.iou_aware:
                iou_logit, out = out[:, :na], out[:, na:]
            p = out.reshape(batch, na, 5 + self.num_classes, grid_h, grid_w)
            gx = np.arange(grid_w, dtype=np.float32)[None, None, None, :]
            gy = np.arange(grid_h, dtype=np.float32)[None, None, :, None]
            s = self.scale_x_y
            cx = (s * _sigmoid(p[:, :, 0]) - 0.5 * (s - 1) + gx) * stride
            cy = (s * _sigmoid(p[:, :, 1]) - 0.5 * (s - 1) + gy) * stride
            anchor = np.asarray([self.anchors[a] for a in mask], np.float32)
            w = np.exp(np.minimum(p[:, :, 2], 10.0)) * anchor[None, :, 0, None, None]
            h = np.exp(np.minimum(p[:, :, 3], 10.0)) * anchor[None, :, 1, None, None]
            obj = _sigmoid(p[:, :, 4])
            if self.iou_aware:  # PP-YOLO: objectness blended with the predicted IoU
                iou = _sigmoid(iou_logit)
                obj = obj ** (1 - self.iou_aware_factor) * iou ** self.iou_aware_factor
            scores = obj[:, :, None] * _sigmoid(p[:, :, 5:])
            boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)
            all_boxes.append(boxes.reshape(batch, -1, 4))
            all_scores.append(scores.transpose(0, 1, 3, 4, 2).reshape(batch, -1, self.num_classes))
        return np.concatenate(all_boxes, 1), np.concatenate(all_scores, 1)

    def __call__(self, outputs: Sequence[np.ndarray], scale_factor: np.ndarray,
                 orig_hw: np.ndarray) -> list[np.ndarray]:
        """Per image, ``[K, 6]`` rows (class, score, x1, y1, x2, y2), best first, in the original
        image's pixels: boxes are divided by the pre-processing's ``scale_factor``
        (sy, sx per image) and clipped to ``orig_hw`` (less ``box_size_offset``: the
        last pixel)."""
        boxes, scores = self.decode(outputs)
        kind = self.nms.get("type", "multiclass")
        options = {**NMS_DEFAULTS[kind], **{k: v for k, v in self.nms.items() if k != "type"}}
        if kind == "multiclass":  # matrix NMS measures pixel boxes either way
            options["normalized"] = self.box_size_offset == 0
        edge = self.box_size_offset
        results = []
        for b in range(boxes.shape[0]):
            sy, sx = (float(v) for v in np.asarray(scale_factor[b]).reshape(-1)[:2])
            height, width = (float(v) for v in np.asarray(orig_hw[b]).reshape(-1)[:2])
            box = boxes[b] / np.array([sx, sy, sx, sy], np.float32)
            box[:, 0::2] = box[:, 0::2].clip(0, width - edge)
            box[:, 1::2] = box[:, 1::2].clip(0, height - edge)
            if kind == "matrix":
                dets = matrix_nms(box, scores[b], **options)
            else:
                dets = multiclass_nms(box, scores[b], **options)
            dets = np.asarray(dets, np.float32).reshape(-1, 6)
            results.append(dets[np.argsort(-dets[:, 1], kind="stable")])  # best first
        return results
