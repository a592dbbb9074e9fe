"""Losses of semantic segmentation, on logits [N, C, H, W] and labels [N, H, W] whose
``ignore_index`` pixels (255) count nowhere: cross-entropy with class weights, the
Lovász-softmax surrogate of IoU, soft Dice, and binary cross-entropy for two classes.
``build_seg_loss`` reads PaddleX's options (1.x's ``use_bce_loss`` / ``use_dice_loss`` /
``class_weight``, 2.x's ``use_mixed_loss``) into one weighted sum."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import paddle
import paddle.nn.functional as F

from ..errors import PxError
from ..transforms.geometry import IGNORE_INDEX


def _valid(label, ignore_index: int):
    """(mask of counted pixels as float, label with ignored pixels set to class 0)."""
    keep = label != ignore_index
    return paddle.cast(keep, "float32"), paddle.where(keep, label, paddle.zeros_like(label))


def cross_entropy(logits, label, ignore_index: int = IGNORE_INDEX, class_weight=None):
    """Mean cross-entropy over counted pixels; with ``class_weight`` (one per class, or
    "dynamic": inverse pixel frequency in the batch) a weighted mean."""
    keep, target = _valid(label, ignore_index)
    logp = F.log_softmax(logits, axis=1)
    picked = paddle.squeeze(paddle.take_along_axis(logp, paddle.unsqueeze(target, 1), axis=1), 1)
    weights = keep
    if class_weight is not None:
        weights = keep * paddle.gather(_class_weights(class_weight, target, keep, logits.shape[1]),
                                       target.flatten()).reshape(target.shape)
    return -(picked * weights).sum() / paddle.clip(weights.sum(), min=1e-6)


def _class_weights(class_weight, target, keep, num_classes: int):
    if isinstance(class_weight, str):  # "dynamic", checked by build_seg_loss
        counts = paddle.bincount(target.flatten(), weights=keep.flatten(), minlength=num_classes)
        present = paddle.cast(counts > 0, "float32")
        share = counts / paddle.clip(counts.sum(), min=1.0)
        weights = present / paddle.clip(share * present.sum(), min=1e-6)
        return paddle.where(counts > 0, weights, paddle.zeros_like(weights))
    return paddle.to_tensor(class_weight, "float32")


def lovasz_softmax(logits, label, ignore_index: int = IGNORE_INDEX):
    """Berman et al.'s Lovász-softmax: for every class present in the batch, the sorted
    errors of its probability dotted with the gradient of the Jaccard loss; averaged."""
    num_classes = logits.shape[1]
    probs = paddle.transpose(F.softmax(logits, axis=1), [0, 2, 3, 1]).reshape([-1, num_classes])
    flat = label.flatten()
    keep = flat != ignore_index
    probs, flat = probs[keep], flat[keep]
    losses = []
    for c in range(num_classes):
        fg = paddle.cast(flat == c, "float32")
        if float(fg.sum()) == 0:
            continue
        errors = paddle.abs(fg - probs[:, c])
        order = paddle.argsort(errors, descending=True)
        fg_sorted = paddle.gather(fg, order)
        total = fg_sorted.sum()
        intersection = total - paddle.cumsum(fg_sorted)
        union = total + paddle.cumsum(1 - fg_sorted)
        jaccard = 1 - intersection / union
        grad = paddle.concat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
        losses.append((paddle.gather(errors, order) * grad.detach()).sum())
    if not losses:
        return (logits * 0).sum()
    return paddle.stack(losses).mean()


def dice(logits, label, ignore_index: int = IGNORE_INDEX, smooth: float = 1.0):
    """1 - soft Dice between the class probabilities and the one-hot labels, averaged
    over classes, counted pixels only."""
    num_classes = logits.shape[1]
    keep, target = _valid(label, ignore_index)
    probs = F.softmax(logits, axis=1) * keep.unsqueeze(1)
    onehot = paddle.transpose(F.one_hot(target, num_classes), [0, 3, 1, 2]) * keep.unsqueeze(1)
    inter = (probs * onehot).sum([0, 2, 3])
    total = probs.sum([0, 2, 3]) + onehot.sum([0, 2, 3])
    return (1 - (2 * inter + smooth) / (total + smooth)).mean()


def binary_cross_entropy(logits, label, ignore_index: int = IGNORE_INDEX):
    """Two classes: sigmoid cross-entropy of the foreground against the background logit."""
    keep, target = _valid(label, ignore_index)
    margin = logits[:, 1] - logits[:, 0]
    loss = F.binary_cross_entropy_with_logits(margin, paddle.cast(target, "float32"), reduction="none")
    return (loss * keep).sum() / paddle.clip(keep.sum(), min=1.0)


LOSSES = {"CrossEntropyLoss": cross_entropy, "LovaszSoftmaxLoss": lovasz_softmax,
          "DiceLoss": dice, "BCELoss": binary_cross_entropy}
# PaddleX 2.x's use_mixed_loss=True
MIXED_DEFAULT = (("CrossEntropyLoss", 0.8), ("LovaszSoftmaxLoss", 0.2))


@attrs.frozen
class SegLoss:
    """A weighted sum of ``LOSSES`` terms; class weights reach cross-entropy."""

    terms: tuple[tuple[str, float], ...]
    ignore_index: int = IGNORE_INDEX
    class_weight: Any = None

    def __call__(self, logits, label):
        total = None
        for name, weight in self.terms:
            extra = {"class_weight": self.class_weight} if name == "CrossEntropyLoss" else {}
            value = LOSSES[name](logits, label, self.ignore_index, **extra) * weight
            total = value if total is None else total + value
        return total


def build_seg_loss(num_classes: int, use_mixed_loss: Any = False, use_bce_loss: bool = False,
                   use_dice_loss: bool = False, class_weight: Any = None,
                   ignore_index: int = IGNORE_INDEX) -> SegLoss:
    """PaddleX's loss options as a ``SegLoss``. ``use_mixed_loss``: True (0.8
    cross-entropy + 0.2 Lovász) or ``[(name, weight), ...]`` of ``LOSSES``; otherwise
    binary cross-entropy and/or Dice if asked (two classes only, as PaddleX 1.x), else
    cross-entropy, weighted by ``class_weight`` (one per class, or "dynamic")."""
    if class_weight is not None:
        if isinstance(class_weight, str):
            if class_weight.lower() != "dynamic":
                raise PxError(f"class_weight {class_weight!r}: give one weight per class, or 'dynamic'")
            class_weight = "dynamic"
        elif not isinstance(class_weight, Sequence) or len(class_weight) != num_classes:
            raise PxError(f"class_weight needs one weight per class ({num_classes}), got {class_weight!r}")
        else:
            class_weight = tuple(float(w) for w in class_weight)
    if use_mixed_loss:
        terms = MIXED_DEFAULT if use_mixed_loss is True else use_mixed_loss
        try:
            terms = tuple((str(name), float(weight)) for name, weight in terms)
        except (TypeError, ValueError):
            raise PxError(f"use_mixed_loss {use_mixed_loss!r}: give True or [(loss name, weight), "
                          f"...] with names from {', '.join(LOSSES)}") from None
        unknown = [name for name, _ in terms if name not in LOSSES]
        if unknown or not terms:
            raise PxError(f"use_mixed_loss names {unknown or 'no loss'}; the losses are {', '.join(LOSSES)}")
    elif use_bce_loss or use_dice_loss:
        if num_classes != 2:
            raise PxError(f"use_bce_loss and use_dice_loss are for two classes (as in PaddleX); "
                          f"this model has {num_classes}; use use_mixed_loss=[('CrossEntropyLoss', "
                          "0.8), ('DiceLoss', 0.2)] for more")
        terms = tuple((name, 1.0) for name, on in (("BCELoss", use_bce_loss), ("DiceLoss", use_dice_loss)) if on)
    else:
        terms = (("CrossEntropyLoss", 1.0),)
    return SegLoss(terms, int(ignore_index), class_weight)
