"""Evaluation metrics; each accumulates over batches and reports a dict."""

from .classification import TopKAccuracy
from .detection import CocoDetectionMetric, VOCMetric, voc_ap
from .segmentation import ConfusionMatrix

__all__ = ["CocoDetectionMetric", "ConfusionMatrix", "TopKAccuracy", "VOCMetric", "voc_ap"]
