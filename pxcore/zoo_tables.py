"""Writing zoo rows table by table, and the columns the PaddleX tables share.

A ``ZooTable`` holds what every row of a table has in common (task, data set, class
count, the metric columns, where latency was measured); ``table.row(...)`` reads like a
row of the table::

    T4.row("ResNet50", 103.4, 3.47712, 76.5, 93.0, weights_url=IMAGENET_URL + "ResNet50_pretrained.tar")

The constants below are the seed's tables (PaddleX 1.x's model zoo), which several
in-tree plugins write rows of: a classification backbone family and every detection
head has rows in the same table.
"""

from __future__ import annotations

from typing import Any

import attrs

from .zoo import ZooEntry


@attrs.frozen(kw_only=True)
class ZooTable:
    """The columns a table's rows share."""

    task: str
    dataset: str
    num_classes: int
    metrics: tuple[str, ...]  # the metric columns, in order (keys of pxcore.zoo.METRICS)
    latency_device: str | None = None
    latency_setting: str | None = None

    def row(self, name: str, size_mb: float | None, latency_ms: float | None,
            *metrics: float | None, weights_url: str | None = None, **fields: Any) -> ZooEntry:
        """A row: its name, size (MB), latency (ms), one value per metric column (None:
        not measured), and any other ``ZooEntry`` field (seed_name, model, plugins,
        paddlex, params_m)."""
        if len(metrics) != len(self.metrics):
            raise ValueError(f"zoo row {name!r}: {len(metrics)} metric values for the "
                             f"columns {self.metrics}")
        return ZooEntry(name=name, task=self.task, dataset=self.dataset,
                        num_classes=self.num_classes, size_mb=size_mb, latency_ms=latency_ms,
                        latency_device=self.latency_device, latency_setting=self.latency_setting,
                        metrics=dict(zip(self.metrics, metrics, strict=True)),
                        weights_url=weights_url, **fields)


# --- the seed's tables --------------------------------------------------------------------

IMAGENET_URL = "https://paddle-imagenet-models-name.bj.bcebos.com/"
DET_URL = "https://paddlemodels.bj.bcebos.com/object_detection/"
PDX_URL = "https://bj.bcebos.com/paddlex/pretrained_weights/"
SEG_URL = "https://paddleseg.bj.bcebos.com/models/"

_V100 = dict(latency_device="V100", latency_setting=(
    "640x640, batch 1, Paddle 1.6 Fluid C++ with TensorRT 5.1 FP32, mean of 100 runs after 10 warm-up"))

# Image classification, ImageNet: the mobile series timed on a Snapdragon 855, the others on a T4.
SD855 = ZooTable(task="classification", dataset="ImageNet", num_classes=1000, metrics=("top1", "top5"),
                 latency_device="SD855", latency_setting="Snapdragon 855, batch 1")
T4 = ZooTable(task="classification", dataset="ImageNet", num_classes=1000, metrics=("top1", "top5"),
              latency_device="T4", latency_setting="T4, batch 1, FP32 TensorRT, 500 runs after 10 warm-up")
# Object detection and instance segmentation, COCO (80 classes), timed on a V100.
DETECTION = ZooTable(task="detection", dataset="COCO", num_classes=80, metrics=("box_ap",), **_V100)
INSTANCE_SEGMENTATION = ZooTable(task="instance_segmentation", dataset="COCO", num_classes=80,
                                 metrics=("box_ap", "mask_ap"), **_V100)
# Semantic segmentation. PaddleSeg's COCO weights: the instance annotations turned into
# semantic labels, 80 classes plus background.
SEGMENTATION_COCO = ZooTable(task="semantic_segmentation", dataset="COCO", num_classes=81,
                             metrics=("miou",))
SEGMENTATION_CITYSCAPES = ZooTable(task="semantic_segmentation", dataset="Cityscapes", num_classes=19,
                                   metrics=("miou",))
