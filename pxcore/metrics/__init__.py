"""Evaluation metrics; each accumulates over batches and reports a dict."""

from .classification import TopKAccuracy

__all__ = ["TopKAccuracy"]
