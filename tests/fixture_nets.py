"""Small networks for the tests (these import paddle)."""

from __future__ import annotations

from paddle import nn

from pxcore.nn.backbone import Backbone
from pxcore.nn.features import FeatureInfo


class FixtureNet(Backbone):
    """Three stride-2 convolutions: strides 2, 4, 8."""

    def __init__(self, widths=(4, 8, 16), out_indices=None):
        super().__init__(out_indices)
        self.feature_info = [FeatureInfo(f"c{i + 1}", w, 2 ** (i + 1)) for i, w in enumerate(widths)]
        chans = [3, *widths]
        self.convs = nn.LayerList(
            [nn.Conv2D(chans[i], chans[i + 1], 3, stride=2, padding=1) for i in range(len(widths))])

    def forward_features(self, x):
        levels = []
        for conv in self.convs:
            x = nn.functional.relu(conv(x))
            levels.append(x)
        return levels


class LyingNet(FixtureNet):
    """Reports 99 channels for its last level: conformance must catch it."""

    def __init__(self, out_indices=None):
        super().__init__(out_indices=out_indices)
        self.feature_info[-1] = FeatureInfo("c3", 99, 8)


class WrongStrideNet(FixtureNet):
    """Reports stride 4 for a level that has stride 8."""

    def __init__(self, out_indices=None):
        super().__init__(out_indices=out_indices)
        self.feature_info[-1] = FeatureInfo("c3", 16, 4)


class Passthrough(nn.Layer):
    """A "classifier" that returns its input: conformance must reject its output shape."""

    def __init__(self, num_classes=1000):
        super().__init__()

    def forward(self, x):
        return x


class TinySegmenter(nn.Layer):
    """Two stride-2 convolutions and a 1x1 classifier, resized back to the input; in
    training also an auxiliary head, weighted 0.4, as Fast-SCNN has."""

    loss_weights = (1.0, 0.4)

    def __init__(self, num_classes=3, width=16):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2D(3, width, 3, stride=2, padding=1), nn.BatchNorm2D(width),
                                  nn.ReLU(), nn.Conv2D(width, width, 3, stride=2, padding=1),
                                  nn.BatchNorm2D(width), nn.ReLU(), nn.Conv2D(width, width, 3, padding=1),
                                  nn.ReLU())
        self.classifier = nn.Conv2D(width, num_classes, 1)
        self.aux = nn.Conv2D(width, num_classes, 1)

    def forward(self, x):
        from pxcore.nn.resize import resize_bilinear

        features = self.body(x)
        logits = resize_bilinear(self.classifier(features), x)
        if self.training:
            return [logits, resize_bilinear(self.aux(features), x)]
        return logits
