"""TinyNet: a small backbone of five stride-2 stages, each conv-BN-ReLU twice.

It reports its levels (``feature_info``: name, channels, stride 2 to 32), which is all
pxcore's heads need to compose with it: YOLOv3 reads strides 8/16/32, R-CNN's FPN 4 to
32, DeepLabv3+ stride 4 and the deepest, a classifier the deepest."""

from __future__ import annotations

from paddle import nn

from pxcore.nn.backbone import Backbone
from pxcore.nn.features import FeatureInfo


def _conv_bn_relu(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2D(cin, cout, 3, stride=stride, padding=1, bias_attr=False),
        nn.BatchNorm2D(cout),
        nn.ReLU(),
    )


class TinyNet(Backbone):
    def __init__(self, widths=(16, 32, 64, 128, 256), out_indices=None):
        super().__init__(out_indices)
        stages, cin = [], 3
        self.feature_info = []
        for level, width in enumerate(widths):
            stages.append(nn.Sequential(_conv_bn_relu(cin, width, 2), _conv_bn_relu(width, width, 1)))
            self.feature_info.append(FeatureInfo(f"stage{level + 1}", width, 2 ** (level + 1)))
            cin = width
        self.stages = nn.LayerList(stages)

    def forward_features(self, x):
        levels = []
        for stage in self.stages:
            x = stage(x)
            levels.append(x)
        return levels
