"""ImageClassifier: any registered backbone under any classification head."""

from __future__ import annotations

from typing import Any

from paddle import nn

from ..config import build


class ImageClassifier(nn.Layer):
    """``backbone`` and ``head`` are registered names, ``{"type": ...}`` configs, or built
    layers. The head is built from the backbone's deepest reported feature."""

    # Weights for another class count leave these tensors freshly initialised.
    head_prefixes = ("head.",)

    def __init__(self, backbone: Any, num_classes: int = 1000, head: Any = "LinearClsHead",
                 **head_args: Any) -> None:
        super().__init__()
        self.backbone = build(backbone, "backbone", out_indices=(-1,))
        self.head = build(head, "head", input_shapes=self.backbone.out_features,
                          num_classes=num_classes, **head_args)
        self.num_classes = num_classes

    def forward(self, x):
        return self.head(self.backbone(x))
