"""The second stage: a box head turning each RoI's features into a vector (two fully
connected layers for FPN, the backbone's last stage for C4), the predictor (class
scores and per-class box deltas), and the mask head."""

from __future__ import annotations

import paddle
import paddle.nn.functional as F
from paddle import nn


class TwoFCHead(nn.Layer):
    """Flatten, fc6, ReLU, fc7, ReLU (the FPN rows' box head)."""

    def __init__(self, channels: int, resolution: int, hidden: int = 1024) -> None:
        super().__init__()
        self.in_features = channels * resolution * resolution
        self.fc6 = nn.Linear(self.in_features, hidden, weight_attr=nn.initializer.XavierUniform())
        self.fc7 = nn.Linear(hidden, hidden, weight_attr=nn.initializer.XavierUniform())
        self.out_channels = hidden

    def forward(self, roi_features):
        x = paddle.reshape(roi_features, [-1, self.in_features])
        return F.relu(self.fc7(F.relu(self.fc6(x)))), None


class Res5Head(nn.Layer):
    """The backbone's last stage run on each RoI, then average pooling (the C4 rows'
    box head). The blocks stay the backbone's (their weights are the backbone's
    ``blocks.*``); this head only calls them. It also returns the stage's output map,
    which the C4 mask head shares."""

    def __init__(self, blocks: list[nn.Layer], out_channels: int) -> None:
        super().__init__()
        self._blocks = blocks  # a plain list: not registered twice
        self.out_channels = out_channels

    def forward(self, roi_features):
        x = roi_features
        for block in self._blocks:
            x = block(x)
        return paddle.reshape(F.adaptive_avg_pool2d(x, 1), [-1, self.out_channels]), x


class BoxPredictor(nn.Layer):
    """``num_classes + 1`` scores (the last is background) and four deltas per
    foreground class."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.bbox_score = nn.Linear(channels, num_classes + 1,
                                    weight_attr=nn.initializer.Normal(std=0.01))
        self.bbox_delta = nn.Linear(channels, 4 * num_classes,
                                    weight_attr=nn.initializer.Normal(std=0.001))

    def forward(self, x):
        return self.bbox_score(x), self.bbox_delta(x)


class MaskHead(nn.Layer):
    """``num_convs`` 3x3 convs (FPN: 4; C4: none, it reads the box head's C5 map), a
    2x transposed conv, and one mask logit map per class."""

    def __init__(self, in_channels: int, num_classes: int, num_convs: int = 4,
                 channels: int = 256) -> None:
        super().__init__()
        convs = []
        for i in range(num_convs):
            convs += [nn.Conv2D(in_channels if i == 0 else channels, channels, 3, padding=1,
                                weight_attr=nn.initializer.KaimingNormal()), nn.ReLU()]
        self.convs = nn.Sequential(*convs)
        self.upsample = nn.Conv2DTranspose(channels if num_convs else in_channels, channels, 2,
                                           stride=2, weight_attr=nn.initializer.KaimingNormal())
        self.mask_logits = nn.Conv2D(channels, num_classes, 1,
                                     weight_attr=nn.initializer.KaimingNormal())

    def forward(self, x):
        return self.mask_logits(F.relu(self.upsample(self.convs(x))))
