"""The hooks pxcore calls: the zoo's Fast-SCNN row (PaddleSeg's Cityscapes weights, 19
classes) as a preset of ``pxcore_fastscnn.fastscnn:FastSCNN`` with PaddleX 1.x's
defaults."""

from __future__ import annotations

import pxcore

# PaddleX 1.x FastSCNN(num_classes=2, multi_loss_weight=[1.0], ...); the zoo row gives 19.
# The preset keeps the auxiliary head on the higher-resolution branch ([1.0, 0.4], as
# PaddleSeg trains Fast-SCNN): the zoo's fast_scnn_cityscape.tar is 9.8 MB, which is what
# the weights with that head take with their momentum and tar headers (9.82 MB; 9.66 MB
# without it, 10.13 MB with both heads). Built with [1.0], the network drops the
# archive's aux_layer_* tensors on loading (unused_prefixes).
DEFAULTS = {"num_classes": 19, "multi_loss_weight": [1.0, 0.4], "align_corners": True}

# PaddleSeg legacy's Cityscapes Fast-SCNN: 1024x1024 training crops, images scaled to
# [-1, 1] (mean 0.5, std 0.5 on a 0..1 scale).
METADATA = {"input_size": 1024, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
            "test_input_size": 64, "size_divisor": 32}


# PaddleSeg 2.x's FastSCNN as PaddleX 2.x builds it (FastSCNN(num_classes=2,
# align_corners=False); its auxiliary head, for training, is not built).
PADDLESEG_DEFAULTS = {"num_classes": 2, "multi_loss_weight": [1.0], "align_corners": False,
                      "variant": "paddleseg"}


@pxcore.hookimpl
def px_register_models(registry):
    registry.add(name="Fast-SCNN", factory="pxcore_fastscnn.fastscnn:FastSCNN", defaults=DEFAULTS,
                 task="semantic_segmentation", paddlex={"class": "FastSCNN"}, metadata=METADATA,
                 summary="Fast-SCNN: learning-to-downsample, MobileNetV2 global features with "
                         "pyramid pooling, two-branch fusion (real time)")
    registry.add(name="Fast-SCNN_PaddleSeg", factory="pxcore_fastscnn.fastscnn:FastSCNN",
                 defaults=PADDLESEG_DEFAULTS, task="semantic_segmentation", metadata=METADATA,
                 summary="Fast-SCNN as PaddleSeg 2.x / PaddleX 2.x build it (biased convs, "
                         "ReLU bottlenecks, depthwise fusion, half-pixel resizes)")


@pxcore.hookimpl
def px_register_zoo(registry):
    from .zoo_rows import ROWS  # the zoo rows this plugin owns

    for row in ROWS:
        registry.add(row)
