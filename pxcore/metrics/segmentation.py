"""Semantic segmentation metrics from one confusion matrix, as PaddleSeg computes them
(the zoo's mIoU is PaddleSeg's): IoU per class with a class that is neither labelled
nor predicted scoring 0, accuracy per class as the share of a class's predicted pixels
that are right, overall pixel accuracy, and Cohen's kappa."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import PxError
from ..transforms.geometry import IGNORE_INDEX


class ConfusionMatrix:
    """Accumulates ``matrix[label, prediction]`` pixel counts over images; pixels
    labelled ``ignore_index`` do not count."""

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX) -> None:
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.matrix = np.zeros((self.num_classes, self.num_classes), np.int64)

    def update(self, prediction: np.ndarray, label: np.ndarray) -> None:
        prediction, label = np.asarray(prediction), np.asarray(label)
        if prediction.shape != label.shape:
            raise PxError(f"a prediction of shape {prediction.shape} cannot be scored against a "
                          f"label of shape {label.shape}")
        keep = label != self.ignore_index
        label, prediction = label[keep].astype(np.int64), prediction[keep].astype(np.int64)
        bad = (label < 0) | (label >= self.num_classes)
        if bad.any():
            raise PxError(f"label value {int(label[bad][0])} is outside the {self.num_classes} "
                          f"classes (0 to {self.num_classes - 1}, and {self.ignore_index} to ignore)")
        self.matrix += np.bincount(label * self.num_classes + prediction,
                                   minlength=self.num_classes ** 2).reshape(self.matrix.shape)

    def result(self) -> dict[str, Any]:
        """``miou``, ``category_iou``, ``oacc``, ``category_acc``, ``kappa``."""
        m = self.matrix.astype(np.float64)
        right = np.diag(m)
        labelled, predicted, total = m.sum(1), m.sum(0), m.sum()
        union = labelled + predicted - right
        iou = np.divide(right, union, out=np.zeros_like(right), where=union > 0)
        acc = np.divide(right, predicted, out=np.zeros_like(right), where=predicted > 0)
        oacc = right.sum() / total if total else 0.0
        chance = (labelled * predicted).sum() / total ** 2 if total else 0.0
        kappa = (oacc - chance) / (1 - chance) if chance < 1 else 0.0
        return {"miou": float(iou.mean()), "category_iou": iou.tolist(), "oacc": float(oacc),
                "category_acc": acc.tolist(), "kappa": float(kappa)}
