"""The YOLOv3 loss (Redmon & Farhadi, 2018, as PaddleDetection trains it), with PP-YOLO's
additions: a grid-sensitive centre (``scale_x_y``), an IoU loss on the decoded boxes
and the IoU-aware branch's loss.

Per level and anchor: binary cross-entropy on the cell offsets, L1 on the log sizes,
both weighted by 2 - w*h; objectness cross-entropy, where a negative whose predicted
box overlaps some ground truth by more than ``ignore_thresh`` is not penalised; class
cross-entropy on the positives. Sums per image, mean over the batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import paddle
import paddle.nn.functional as F


def _xywh_to_xyxy(cx, cy, w, h):
    return paddle.concat([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)


def _iou(a, b, eps: float = 1e-9):
    """Element-wise IoU of boxes ``[..., 4]`` (x1, y1, x2, y2)."""
    x1 = paddle.maximum(a[..., 0], b[..., 0])
    y1 = paddle.maximum(a[..., 1], b[..., 1])
    x2 = paddle.minimum(a[..., 2], b[..., 2])
    y2 = paddle.minimum(a[..., 3], b[..., 3])
    inter = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    area_a = (a[..., 2] - a[..., 0]).clip(0) * (a[..., 3] - a[..., 1]).clip(0)
    area_b = (b[..., 2] - b[..., 0]).clip(0) * (b[..., 3] - b[..., 1]).clip(0)
    return inter / (area_a + area_b - inter + eps)


def _pairwise_iou(a, b, eps: float = 1e-9):
    """IoU of every box in ``a [B, N, 4]`` with every box in ``b [B, M, 4]``: [B, N, M]."""
    return _iou(a.unsqueeze(2), b.unsqueeze(1), eps)


@attrs.define
class YOLOLoss:
    num_classes: int
    anchors: Sequence[Sequence[float]]
    anchor_masks: Sequence[Sequence[int]]
    strides: Sequence[int]
    ignore_thresh: float = 0.7
    label_smooth: bool = False
    scale_x_y: float = 1.0
    iou_loss_weight: float = 0.0  # PP-YOLO: 2.5
    iou_aware: bool = False

    def __call__(self, outputs, targets, gt_bbox) -> dict:
        """``outputs``: the head's raw levels; ``targets``: ``yolo_targets``'s arrays as
        tensors; ``gt_bbox``: ``[B, M, 4]`` input pixels (for the ignore mask)."""
        losses: dict = {}
        for out, target, mask, stride in zip(outputs, targets, self.anchor_masks, self.strides,
                                             strict=True):
            for key, value in self._level(out, target, mask, stride, gt_bbox).items():
                losses[key] = losses.get(key, 0.0) + value
        losses["loss"] = paddle.add_n(list(losses.values()))
        return losses

    def _level(self, out, target, mask, stride, gt_bbox) -> dict:
        na = len(mask)
        batch, _, grid_h, grid_w = out.shape
        if self.iou_aware:
            iou_logit, out = out[:, :na], out[:, na:]
        p = out.reshape([batch, na, 5 + self.num_classes, grid_h, grid_w]).transpose([0, 1, 3, 4, 2])
        t = target.transpose([0, 1, 3, 4, 2])
        tx, ty, tw, th = t[..., 0:1], t[..., 1:2], t[..., 2:3], t[..., 3:4]
        tscale, tobj, tcls = t[..., 4:5], t[..., 5:6], t[..., 6:]
        positive = (tobj > 0).astype("float32")
        weight = tscale * tobj

        s = self.scale_x_y
        x = s * F.sigmoid(p[..., 0:1]) - 0.5 * (s - 1)
        y = s * F.sigmoid(p[..., 1:2]) - 0.5 * (s - 1)
        w, h = p[..., 2:3], p[..., 3:4]
        if s == 1.0:
            loss_xy = F.binary_cross_entropy(x, tx, reduction="none") + F.binary_cross_entropy(
                y, ty, reduction="none")
        else:  # the stretched sigmoid can leave [0, 1]: L1 as PP-YOLO does
            loss_xy = (x - tx).abs() + (y - ty).abs()
        losses = {
            "loss_xy": (weight * loss_xy).sum([1, 2, 3, 4]).mean(),
            "loss_wh": (weight * ((w - tw).abs() + (h - th).abs())).sum([1, 2, 3, 4]).mean(),
        }

        # Decoded boxes in input pixels: for the ignore mask and the IoU losses.
        anchor = paddle.to_tensor([self.anchors[a] for a in mask], "float32").reshape([1, na, 1, 1, 2])
        gx = paddle.arange(grid_w, dtype="float32").reshape([1, 1, 1, grid_w, 1])
        gy = paddle.arange(grid_h, dtype="float32").reshape([1, 1, grid_h, 1, 1])

        def decode(x, y, w, h):
            return _xywh_to_xyxy((x + gx) * stride, (y + gy) * stride,
                                 paddle.exp(w.clip(max=10)) * anchor[..., 0:1],
                                 paddle.exp(h.clip(max=10)) * anchor[..., 1:2])

        pbox = decode(x, y, w, h)
        with paddle.no_grad():
            best = _pairwise_iou(pbox.reshape([batch, -1, 4]), gt_bbox).max(2)
            keep_negative = (best <= self.ignore_thresh).astype("float32").reshape(positive.shape)
        obj_logit = p[..., 4:5]
        bce_obj = F.binary_cross_entropy_with_logits(obj_logit, positive, reduction="none")
        losses["loss_obj"] = (bce_obj * tobj + bce_obj * (1 - positive) * keep_negative).sum(
            [1, 2, 3, 4]).mean()

        if self.label_smooth:
            delta = min(1.0 / self.num_classes, 1.0 / 40)
            tcls = tcls * (1 - 2 * delta) + delta
        bce_cls = F.binary_cross_entropy_with_logits(p[..., 5:], tcls, reduction="none")
        losses["loss_cls"] = (bce_cls * tobj).sum([1, 2, 3, 4]).mean()

        if self.iou_loss_weight or self.iou_aware:
            tbox = decode(tx, ty, tw, th)
            iou = _iou(pbox, tbox).unsqueeze(-1)
            if self.iou_loss_weight:  # PP-YOLO's squared IoU loss
                losses["loss_iou"] = self.iou_loss_weight * (
                    weight * (1 - iou ** 2)).sum([1, 2, 3, 4]).mean()
            if self.iou_aware:
                logit = iou_logit.unsqueeze(-1)
                bce = F.binary_cross_entropy_with_logits(logit, iou.detach(), reduction="none")
                losses["loss_iou_aware"] = (bce * tobj).sum([1, 2, 3, 4]).mean()
        return losses
