"""Fast-SCNN (Poudel et al. 2019) as PaddleX 1.x (and PaddleSeg's legacy static code,
whose Cityscapes weights the zoo has) builds it:

- learning to downsample: 3x3 stride-2 conv (no padding) to 32, then two separable
  convs (depthwise 3x3 + BN + ReLU, pointwise 1x1 + BN + ReLU), stride 2, to 48 and 64:
  the "higher resolution" features at 1/8;
- global feature extractor: three stages of MobileNetV2 inverted residuals (expansion
  6, ReLU6; 64, 96, 128 channels; 3 blocks each; strides 2, 2, 1), a pyramid pooling
  module (average pools to 1, 2, 3, 6 cells, 1x1 conv to 32 + BN + ReLU, resized back,
  concatenated with its input) and a 1x1 conv-BN-ReLU to 128: the "lower resolution"
  features at 1/32;
- feature fusion: the lower features resized to the higher's size, 1x1 conv-BN-ReLU and
  1x1 conv (with bias)-BN; the higher features 1x1 conv (with bias)-BN; summed, ReLU;
- classifier: two separable convs (128), dropout 0.1 (channels, training only), 1x1 conv
  (with bias) to the classes, resized to the input.

Every resize is bilinear with aligned corners (Paddle 1.x's ``resize_bilinear``
default, which the published weights were trained with).

``variant="paddleseg"`` builds PaddleSeg 2.x's FastSCNN (``paddleseg/models/fast_scnn.py``,
which PaddleX 2.x's ``FastSCNN`` builds) with the same blocks: the first conv pads "same"
(stride 2: bottom and right only), every ConvBN outside the inverted residuals has a bias,
the separable convs have no ReLU after the depthwise conv, the inverted residuals use ReLU
(not ReLU6), the pyramid pooling concatenates its cells coarse-last (6, 3, 2, 1) and ends in
a 3x3 conv, and the fusion's lower branch is a 3x3 depthwise conv. Its resizes follow
``align_corners`` (PaddleX 2.x: False) but the pyramid pooling's, corner-aligned in both.
The auxiliary head PaddleSeg adds for training (``auxlayer``) is not built.

PaddleX's ``multi_loss_weight`` adds auxiliary heads for training (3x3 conv to 32 + BN +
ReLU, dropout, 1x1 conv with bias) on the higher features (two weights) and also on the
lower features (three weights).
"""

from __future__ import annotations

import paddle
from paddle import nn

from pxcore.nn.resize import resize_bilinear

PSP_BINS = (1, 2, 3, 6)
VARIANTS = ("paddlex", "paddleseg")


def _bn(channels: int, momentum: float = 0.99) -> nn.BatchNorm2D:
    # PaddleX's model_utils.libs.bn: momentum 0.99; its conv_bn_layer: fluid's 0.9
    return nn.BatchNorm2D(channels, momentum=momentum, epsilon=1e-5)


class ConvBN(nn.Layer):
    """conv, batch norm, optional activation ("relu" / "relu6")."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 1, stride: int = 1,
                 padding: int = 0, groups: int = 1, bias: bool = False, act: str | None = "relu",
                 momentum: float = 0.99) -> None:
        super().__init__()
        self.conv = nn.Conv2D(in_channels, out_channels, kernel, stride=stride, padding=padding,
                              groups=groups, bias_attr=None if bias else False)
        self.bn = _bn(out_channels, momentum)
        self.act = act

    def forward(self, x):
        x = self.bn(self.conv(x))
        if self.act == "relu":
            return nn.functional.relu(x)
        if self.act == "relu6":
            return nn.functional.relu6(x)
        return x


class SeparableConv(nn.Layer):
    """Depthwise 3x3 + BN + ReLU, pointwise 1x1 + BN + ReLU (PaddleX's separate_conv);
    ``paddleseg``: biased convs, no ReLU after the depthwise (``SeparableConvBNReLU``)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 paddleseg: bool = False) -> None:
        super().__init__()
        self.depthwise = ConvBN(in_channels, in_channels, 3, stride, 1, groups=in_channels,
                                bias=paddleseg, act=None if paddleseg else "relu")
        self.pointwise = ConvBN(in_channels, out_channels, bias=paddleseg)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class InvertedResidual(nn.Layer):
    """1x1 expand + BN + ReLU6, depthwise 3x3 + BN + ReLU6, 1x1 project + BN, and the
    input added when the block keeps its shape (every block but a stage's first)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int,
                 shortcut: bool, act: str = "relu6") -> None:
        super().__init__()
        hidden = int(round(in_channels * expansion))
        self.expand = ConvBN(in_channels, hidden, act=act, momentum=0.9)
        self.dwise = ConvBN(hidden, hidden, 3, stride, 1, groups=hidden, act=act, momentum=0.9)
        self.linear = ConvBN(hidden, out_channels, act=None, momentum=0.9)
        self.shortcut = shortcut

    def forward(self, x):
        out = self.linear(self.dwise(self.expand(x)))
        return x + out if self.shortcut else out


def _pool_matrix(in_size, cells: int):
    """[cells, in_size] weights of adaptive average pooling along one axis: row i
    averages inputs floor(i * n / cells) .. ceil((i + 1) * n / cells) - 1, as Paddle's
    adaptive pool2d does. Built from the size at run time (a shape tensor in a graph)."""
    n = paddle.cast(in_size, "float32")
    i = paddle.arange(cells, dtype="float32")
    start = paddle.floor(i * n / cells)
    end = paddle.ceil((i + 1) * n / cells)
    position = paddle.arange(paddle.cast(in_size, "int64"), dtype="float32")
    inside = paddle.logical_and(position >= start.unsqueeze(1), position < end.unsqueeze(1))
    return paddle.cast(inside, "float32") / (end - start).unsqueeze(1)


def adaptive_avg_pool(x, cells: int):
    """``F.adaptive_avg_pool2d(x, cells)`` as weighted sums along each axis (broadcast
    products, reduce_sum): exported, it runs on every runtime for any input size, where
    adaptive pool2d is not promised to, and Paddle Inference (3.3) computes a matmul that
    broadcasts a matrix over the batch and channels of an intermediate map wrongly."""
    if cells == 1:
        return paddle.mean(x, axis=[2, 3], keepdim=True)
    # one-element slices of the shape, as pxcore.nn.resize reads it
    shape = paddle.shape(x)
    rows = _pool_matrix(paddle.slice(shape, axes=[0], starts=[2], ends=[3]), cells)  # [cells, H]
    cols = _pool_matrix(paddle.slice(shape, axes=[0], starts=[3], ends=[4]), cells)  # [cells, W]
    pooled = paddle.sum(x.unsqueeze(2) * rows.reshape([1, 1, cells, -1, 1]), axis=3)  # [N, C, cells, W]
    return paddle.sum(pooled.unsqueeze(3) * cols.reshape([1, 1, 1, cells, -1]), axis=4)


class PyramidPooling(nn.Layer):
    """Pooled cells, 1x1 conv-BN-ReLU, resized back (corners aligned) and concatenated
    after the input, finest-last; ``paddleseg``: biased convs, coarsest-last."""

    def __init__(self, channels: int, bins=PSP_BINS, paddleseg: bool = False) -> None:
        super().__init__()
        self.bins, self.reverse = tuple(bins), paddleseg
        self.stages = nn.LayerList([ConvBN(channels, channels // 4, bias=paddleseg)
                                    for _ in self.bins])

    def forward(self, x):
        outs = []
        for i, stage in enumerate(self.stages):  # (to_static's zip takes no strict=)
            pooled = stage(adaptive_avg_pool(x, self.bins[i]))
            outs.append(resize_bilinear(pooled, x, align_corners=True))
        return paddle.concat([x, *(outs[::-1] if self.reverse else outs)], axis=1)


class AuxHead(nn.Layer):
    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.conv = ConvBN(in_channels, 32, 3, padding=1)
        self.dropout = nn.Dropout2D(0.1)
        self.logit = nn.Conv2D(32, num_classes, 1)

    def forward(self, x):
        return self.logit(self.dropout(self.conv(x)))


class FastSCNN(nn.Layer):
    """Fast-SCNN for semantic segmentation.

    Args:
        num_classes: output channels of the logits.
        multi_loss_weight: PaddleX's loss weights [fusion branch, higher branch, lower
            branch]: one weight (the default) trains the main output alone; two or three
            add auxiliary heads, and training mode then returns [main, higher(, lower)]
            logits with ``loss_weights`` these weights.
        align_corners: the corner rule of every bilinear resize (True: Paddle 1.x's, the
            published weights').
        in_channels: image channels.
        variant: one of ``VARIANTS``: "paddlex" (PaddleX 1.x, the zoo's archive) or
            "paddleseg" (PaddleSeg 2.x / PaddleX 2.x; see the module docstring).

    ``forward(images)`` takes [N, in_channels, H, W] (H, W multiples of 32) and returns
    logits [N, num_classes, H, W]; in training with auxiliary heads, a list of them.
    """

    head_prefixes = ("classifier.logit.", "aux_higher.logit.", "aux_lower.logit.")
    # a checkpoint trained with auxiliary heads loads into a network built without them
    # (and PaddleSeg 2.x's auxiliary head, auxlayer.*, which no variant builds)
    unused_prefixes = ("aux_higher.", "aux_lower.", "aux_layer_higher/", "aux_layer_lower/",
                       "auxlayer.")

    def __init__(self, num_classes: int, multi_loss_weight=(1.0,), align_corners: bool = True,
                 in_channels: int = 3, variant: str = "paddlex") -> None:
        super().__init__()
        weights = tuple(float(w) for w in multi_loss_weight)
        if not 1 <= len(weights) <= 3:
            raise ValueError(f"FastSCNN: multi_loss_weight takes 1 to 3 weights, got {list(weights)}")
        if variant not in VARIANTS:
            raise ValueError(f"FastSCNN: variant must be one of {VARIANTS}, got {variant!r}")
        self.num_classes, self.align_corners, self.variant = num_classes, align_corners, variant
        self.loss_weights = weights
        ps = variant == "paddleseg"
        # learning to downsample
        self.downsample = ConvBN(in_channels, 32, 3, stride=2, padding="same" if ps else 0, bias=ps)
        self.dsconv1 = SeparableConv(32, 48, stride=2, paddleseg=ps)
        self.dsconv2 = SeparableConv(48, 64, stride=2, paddleseg=ps)
        # global feature extractor
        stages, previous = [], 64
        for out, stride in zip((64, 96, 128), (2, 2, 1), strict=True):
            stages.append(nn.Sequential(*[
                InvertedResidual(previous if i == 0 else out, out, stride if i == 0 else 1, 6,
                                 shortcut=i > 0, act="relu" if ps else "relu6") for i in range(3)]))
            previous = out
        self.bottlenecks = nn.LayerList(stages)
        self.psp = PyramidPooling(128, paddleseg=ps)
        self.psp_out = ConvBN(256, 128, 3, padding=1, bias=True) if ps else ConvBN(256, 128)
        # feature fusion
        self.fusion_lower = (ConvBN(128, 128, 3, padding=1, groups=128) if ps
                             else ConvBN(128, 128))
        self.fusion_lower_linear = ConvBN(128, 128, bias=True, act=None)
        self.fusion_higher = ConvBN(64, 128, bias=True, act=None)
        # classifier
        self.classifier = nn.Sequential()
        self.classifier.add_sublayer("dsconv1", SeparableConv(128, 128, paddleseg=ps))
        self.classifier.add_sublayer("dsconv2", SeparableConv(128, 128, paddleseg=ps))
        self.classifier.add_sublayer("dropout", nn.Dropout2D(0.1))
        self.classifier.add_sublayer("logit", nn.Conv2D(128, num_classes, 1))
        if len(weights) >= 2:
            self.aux_higher = AuxHead(64, num_classes)
        if len(weights) == 3:
            self.aux_lower = AuxHead(128, num_classes)

    def forward(self, images):
        higher = self.dsconv2(self.dsconv1(self.downsample(images)))
        lower = higher
        for stage in self.bottlenecks:
            lower = stage(lower)
        lower = self.psp_out(self.psp(lower))
        fused = resize_bilinear(lower, higher, align_corners=self.align_corners)
        fused = self.fusion_lower_linear(self.fusion_lower(fused))
        fused = nn.functional.relu(self.fusion_higher(higher) + fused)
        logits = resize_bilinear(self.classifier(fused), images, align_corners=self.align_corners)
        if not self.training or len(self.loss_weights) == 1:
            return logits
        outputs = [logits, resize_bilinear(self.aux_higher(higher), images,
                                           align_corners=self.align_corners)]
        if len(self.loss_weights) == 3:
            outputs.append(resize_bilinear(self.aux_lower(lower), images,
                                           align_corners=self.align_corners))
        return outputs

    def weight_aliases(self) -> dict[str, str]:
        """PaddleX 1.x / PaddleSeg legacy static variable names (the zoo's
        ``fast_scnn_cityscape.tar``), or for ``variant="paddleseg"`` PaddleSeg 2.x's
        state-dict keys (a PaddleX 2.x ``model.pdparams``) -> our keys."""
        from .legacy_names import paddleseg_names, static_names

        return paddleseg_names(self) if self.variant == "paddleseg" else static_names(self)
