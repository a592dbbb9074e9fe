"""AlexNet (Krizhevsky et al., 2012), the single-tower version without local response
normalisation that PaddleClas trained: five convolutions, three max pools, three fully
connected layers.

Tensor names are PaddleClas 2.6's (``model_zoo/alexnet.py``): ``_conv1``, ``_conv2`` and
``_conv5`` hold their convolution as ``_conv``; ``_conv3``, ``_conv4``, ``_fc6``,
``_fc7``, ``_fc8`` are the layers themselves. ``weight_aliases`` gives the Paddle 1.x
names of the zoo's .tar archives (``conv1_weights``, ``conv1_offset``, ..., ``fc8_offset``).

The pools have no padding, so the convolutional part takes any input of 63 px or more,
but the fully connected layers need the 6x6 map that inputs of 223 to 254 px give
(224 in the zoo).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence

import paddle
import paddle.nn.functional as F
from paddle import nn

from pxcore.errors import PxError
from pxcore.nn.backbone import Backbone
from pxcore.nn.features import FeatureInfo
from pxcore.nn.legacy import aliases_by_table

# (output channels, kernel, stride, padding) of the five convolutions
CONVS = ((64, 11, 4, 2), (192, 5, 1, 2), (384, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1))
POOLED_SIZE = 6  # the last max pool's output for a 224 px input, which fc6 is built for
HIDDEN = 4096
DROPOUT = 0.5


def _uniform(fan_in: int) -> paddle.ParamAttr:
    """PaddleClas's initialisation: uniform in +-1/sqrt(fan_in)."""
    bound = 1.0 / math.sqrt(fan_in)
    return paddle.ParamAttr(initializer=nn.initializer.Uniform(-bound, bound))


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int, padding: int) -> nn.Conv2D:
    fan_in = in_channels * kernel * kernel
    return nn.Conv2D(in_channels, out_channels, kernel, stride=stride, padding=padding,
                     weight_attr=_uniform(fan_in), bias_attr=_uniform(fan_in))


class ConvReLU(nn.Layer):
    """A convolution named ``_conv`` (PaddleClas's ConvPoolLayer; its pool holds no
    tensors and runs in the backbone, which reports the map before it) and a ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int,
                 padding: int) -> None:
        super().__init__()
        self._conv = _conv(in_channels, out_channels, kernel, stride, padding)

    def forward(self, x):
        return F.relu(self._conv(x))


class AlexNet(Backbone):
    """The convolutional part. Levels: conv1 (stride 4, 64 channels), conv2 (8, 192),
    conv5 (16, 256), and conv5 max-pooled (32, 256), the map the classifier flattens.
    Each is the ReLU output. The pools do not pad, so a level is one pixel short of
    size/stride unless the input is 32k - 1 px (63, 95, ..., 223)."""

    # What its classifier adds: a classifier checkpoint loads into the backbone.
    unused_prefixes = ("_fc6.", "_fc7.", "_fc8.")

    def __init__(self, out_indices: Sequence[int] | None = None) -> None:
        super().__init__(out_indices)
        channels = [3] + [c[0] for c in CONVS]
        for index, (out_channels, kernel, stride, padding) in enumerate(CONVS):
            in_channels = channels[index]
            # conv3 and conv4 are bare convolutions in PaddleClas's naming
            layer = (_conv(in_channels, out_channels, kernel, stride, padding) if index in (2, 3)
                     else ConvReLU(in_channels, out_channels, kernel, stride, padding))
            self.add_sublayer(f"_conv{index + 1}", layer)
        self._pool = nn.MaxPool2D(3, stride=2, padding=0)
        self.feature_info = [FeatureInfo("C2", channels[1], 4), FeatureInfo("C3", channels[2], 8),
                             FeatureInfo("C4", channels[5], 16), FeatureInfo("C5", channels[5], 32)]

    def forward_features(self, x):
        c2 = self._conv1(x)
        c3 = self._conv2(self._pool(c2))
        x = F.relu(self._conv3(self._pool(c3)))
        c4 = self._conv5(F.relu(self._conv4(x)))
        return [c2, c3, c4, self._pool(c4)]

    def _legacy_stems(self) -> Iterator[tuple[str, str, Mapping[str, str]]]:
        # Paddle 1.x: conv<i>_weights / conv<i>_offset, the same for fc6 ... fc8.
        for index in range(1, len(CONVS) + 1):
            path = f"_conv{index}"
            bare = isinstance(getattr(self, path), nn.Conv2D)
            yield path, f"conv{index}", LAYER_TENSORS if bare else CONV_RELU_TENSORS
        for name in ("fc6", "fc7", "fc8"):
            yield f"_{name}", name, LAYER_TENSORS

    def weight_aliases(self) -> dict[str, str]:
        """Paddle 1.x variable names (the zoo's .tar archives) -> our keys; the backbone
        gets the classifier's too, so that it takes a classifier archive (they land
        under ``unused_prefixes`` and are left out)."""
        return aliases_by_table(self, self._legacy_stems())


@paddle.jit.not_to_static  # plain Python on static shapes, not to become graph control flow
def _check_pooled_size(image, pooled) -> None:
    """A clear error for an input the fully connected layers cannot take. The sizes are
    known eagerly; while an export traces any image size they are -1 and pass."""
    size = list(pooled.shape[2:])
    if all(s > 0 for s in size) and size != [POOLED_SIZE, POOLED_SIZE]:
        raise PxError(f"AlexNet's fully connected layers take a {POOLED_SIZE}x{POOLED_SIZE} map, "
                      f"which inputs of 223 to 254 px give (224 is the zoo's); a "
                      f"{image.shape[2]}x{image.shape[3]} input gives {size[0]}x{size[1]}")


class AlexNetClassifier(AlexNet):
    """AlexNet for classification: the pooled 6x6x256 map flattened, dropout, fc6, ReLU,
    dropout, fc7, ReLU, fc8. The dropouts scale by 0.5 at inference
    ("downscale_in_infer"), as the zoo's weights were trained."""

    head_prefixes = ("_fc8.",)

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__(out_indices=(-1,))
        self.num_classes = num_classes
        self.num_features = self.feature_info[-1].channels * POOLED_SIZE * POOLED_SIZE
        # PaddleClas draws all three fc layers from +-1/sqrt(fc6's fan-in)
        self._drop1 = nn.Dropout(p=DROPOUT, mode="downscale_in_infer")
        self._fc6 = nn.Linear(self.num_features, HIDDEN, weight_attr=_uniform(self.num_features),
                              bias_attr=_uniform(self.num_features))
        self._drop2 = nn.Dropout(p=DROPOUT, mode="downscale_in_infer")
        self._fc7 = nn.Linear(HIDDEN, HIDDEN, weight_attr=_uniform(self.num_features),
                              bias_attr=_uniform(self.num_features))
        self._fc8 = nn.Linear(HIDDEN, num_classes, weight_attr=_uniform(self.num_features),
                              bias_attr=_uniform(self.num_features))

    def forward(self, x):
        pooled = self.forward_features(x)[-1]
        _check_pooled_size(x, pooled)
        # reshape, not flatten: Paddle Lite crashes on flatten_contiguous_range
        x = self._drop1(paddle.reshape(pooled, [-1, self.num_features]))
        x = self._drop2(F.relu(self._fc6(x)))
        return self._fc8(F.relu(self._fc7(x)))


# Paddle 1.x named a conv's or fc's weight "<layer>_weights" and its bias "<layer>_offset".
# Keyed by the tensor's path in the layer.
LAYER_TENSORS = {"weight": "_weights", "bias": "_offset"}
CONV_RELU_TENSORS = {"_conv.weight": "_weights", "_conv.bias": "_offset"}
