"""From the graph's detections to the image's: boxes divided by the resize factor and
clipped to the original image, and each box's mask probabilities pasted into an
image-sized binary mask (numpy; ``model.predict`` and every runtime share it) by the
rule of the code that trained the weights (``mask_paste``: ``pxcore.ops.paste_masks``'s
``"sample"``, PaddleDetection 2.x's, or ``"padded"``, PaddleDetection 0.x / PaddleX
1.x's)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pxcore.errors import PxError
from pxcore.ops.masks import PASTE_RULES, paste_masks


class RCNNPostprocess:
    # predict and evaluate pass the network im_info (resized size, scale): the pipeline
    # clips proposals to the image, not its padding, and 0.x archives decode at its scale
    takes_im_info = True

    def __init__(self, with_mask: bool = False, mask_threshold: float = 0.5,
                 mask_paste: str = "sample", box_convention: str = "corner") -> None:
        if mask_paste not in PASTE_RULES:
            raise PxError(f"R-CNN: mask_paste must be one of {', '.join(PASTE_RULES)} ('padded' "
                          f"for PaddleDetection 0.x / PaddleX 1.x weights), got {mask_paste!r}")
        self.with_mask = with_mask
        self.mask_threshold = mask_threshold
        self.mask_paste = mask_paste
        self.box_convention = box_convention
        # 0.x / PaddleX 1.x count whole pixels, corners inclusive: their evaluation and
        # predictions report width x2 - x1 + 1 (bbox2out), the zoo's mAP among them
        self.box_size_offset = 1.0 if box_convention == "pixel" else 0.0

    def to_config(self) -> dict[str, Any]:
        return {"with_mask": self.with_mask, "mask_threshold": self.mask_threshold,
                "mask_paste": self.mask_paste, "box_convention": self.box_convention}

    def __call__(self, outputs, scale_factor, orig_hw):
        """Per image ``[K, 6]`` rows (class, score, x1, y1, x2, y2), or with masks a
        ``(rows, masks [K, H, W] uint8)`` pair."""
        bbox = np.asarray(outputs[0], np.float32).reshape(-1, 6)
        counts = np.asarray(outputs[1]).reshape(-1).astype(np.int64)
        masks = np.asarray(outputs[2], np.float32) if self.with_mask else None
        results, start = [], 0
        for i, (height, width) in enumerate(orig_hw):
            rows = bbox[start:start + counts[i]].copy()
            sy, sx = (float(v) for v in np.asarray(scale_factor[i]).reshape(-1)[:2])
            rows[:, 2:6] /= np.array([sx, sy, sx, sy], np.float32)
            rows[:, [2, 4]] = rows[:, [2, 4]].clip(0, width)
            rows[:, [3, 5]] = rows[:, [3, 5]].clip(0, height)
            order = np.argsort(-rows[:, 1], kind="stable")
            rows = rows[order]
            if self.with_mask:
                mine = masks[start:start + counts[i]][order]
                results.append((rows, paste_masks(mine, rows[:, 2:6], height, width,
                                                  self.mask_threshold, self.mask_paste)))
            else:
                results.append(rows)
            start += counts[i]
        return results
