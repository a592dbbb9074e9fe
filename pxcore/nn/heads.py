"""Generic heads. A head's factory takes ``input_shapes`` (a list of FeatureInfo) and
builds itself from them, so it fits any backbone that reports its outputs."""

from __future__ import annotations

from collections.abc import Sequence

import paddle
from paddle import nn

from .features import FeatureInfo


class LinearClsHead(nn.Layer):
    """Global average pooling, optional dropout, and one fully connected layer, on the
    deepest of the given features."""

    def __init__(self, input_shapes: Sequence[FeatureInfo], num_classes: int = 1000,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.in_channels = input_shapes[-1].channels
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.dropout = nn.Dropout(dropout) if dropout else None
        self.fc = nn.Linear(self.in_channels, num_classes)

    def forward(self, features):
        x = features[-1] if isinstance(features, list | tuple) else features
        # reshape, not flatten: Paddle Lite's optimizer cannot take flatten.
        x = paddle.reshape(self.pool(x), [-1, self.in_channels])
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc(x)
