"""One Model subclass per task: training, evaluation and prediction with the task's
losses, metrics and outputs. ``model_class(task)`` picks it for ``create_model``.

Prediction's pre- and post-processing is not here: ``predict`` runs
``pxcore.inference``'s (the deployed Predictor's) with the eager network as its runtime."""

from __future__ import annotations

import importlib

from ..model import Model

_TASK_MODELS = {
    "classification": "pxcore.tasks.classification:ClassificationModel",
    "detection": "pxcore.tasks.detection:DetectionModel",
    # Mask R-CNN is a detector whose detections carry masks.
    "instance_segmentation": "pxcore.tasks.detection:DetectionModel",
    "semantic_segmentation": "pxcore.tasks.segmentation:SegmentationModel",
}


def model_class(task: str) -> type[Model]:
    """The wrapper class for a task; the generic Model where the task has none yet."""
    reference = _TASK_MODELS.get(task)
    if reference is None:
        return Model
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)
