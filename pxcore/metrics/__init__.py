"""Evaluation metrics; each accumulates over batches and reports a dict."""

from .classification import TopKAccuracy
from .detection import CocoDetectionMetric, VOCMetric, voc_ap

__all__ = ["CocoDetectionMetric", "TopKAccuracy", "VOCMetric", "voc_ap"]
