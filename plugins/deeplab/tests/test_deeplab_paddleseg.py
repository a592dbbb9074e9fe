"""DeepLabV3P(variant="paddleseg"): PaddleSeg 2.x's head (PaddleX 2.x's DeepLabV3P) on the
same modules, and its presets on the dilated ResNet_vd. Its logits against PaddleSeg
2.8's own are tests/test_migrate_paddlex_reference.py's."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.errors import PxError
from pxcore_deeplab.deeplabv3p import DeepLabV3P
from pxcore_deeplab.plugin import PADDLESEG_PRESETS

NARROW = {"aspp_channels": 16, "decoder_channels": 16}


@pytest.mark.parametrize("name", list(PADDLESEG_PRESETS))
def test_presets_are_paddlex21s_defaults(name):
    with paddle.LazyGuard():
        net = pxcore.create_model(name, num_classes=3).net
    assert net.variant == "paddleseg" and not net.align_corners
    assert net.backbone_name == PADDLESEG_PRESETS[name] and net.backbone.output_stride == 8
    assert [(f.channels, f.stride) for f in net.backbone.out_features] == [(256, 4), (2048, 8)]
    assert net.encoder.dilations == (12, 24, 36) and net.encoder.out_channels == 256
    assert net.encoder.dropout.p == 0.1 and net.encoder.dropout.mode == "upscale_in_train"
    names = net.weight_aliases()
    assert sorted(names.values()) == sorted(net.state_dict())
    assert names["head.aspp.aspp_blocks.2.piontwise_conv._conv.bias"] == "encoder.aspp2.pointwise.conv.bias"
    assert names["head.aspp.global_avg_pool.1._batch_norm._mean"] == "encoder.image_pool.bn._mean"
    assert names["head.decoder.conv_bn_relu3.depthwise_conv._conv.bias"] == (
        "decoder.separable_conv2.depthwise.conv.bias")
    assert names["head.decoder.conv.weight"] == "logit.conv.weight"
    assert names["backbone.bb_3_2.conv2._batch_norm._variance"].startswith("backbone.blocks.")


def test_the_paddleseg_head():
    """Biases on every conv but the image pooling's; no depthwise ReLU; the pooled
    branch last; the decoder's resize follows align_corners."""
    net = DeepLabV3P(3, backbone="ResNet18", output_stride=16, variant="paddleseg", align_corners=False,
                     **NARROW)
    assert net.encoder.image_pool.conv.bias is None and net.encoder.aspp0.conv.bias is not None
    assert net.encoder.aspp1.depthwise.act is None and net.encoder.aspp1.pointwise.act == "relu"
    assert net.decoder.concat.conv.bias is not None and not net.decoder.align_corners
    net.eval()
    # the pooled branch's constant map is the concatenation's last 16 channels
    x = paddle.rand([1, 3, 64, 64])
    deep, _ = net.features(x)
    captured = {}
    hook = net.encoder.concat.register_forward_pre_hook(
        lambda layer, inputs: captured.setdefault("in", inputs[0]))
    net(x)
    hook.remove()
    concatenated = captured["in"].numpy()
    assert concatenated.shape[1] == 16 * 5
    last = concatenated[:, -16:]
    np.testing.assert_allclose(last, np.broadcast_to(last[:, :, :1, :1], last.shape))
    assert list(deep.shape[2:]) == [4, 4]
    # the PaddleX 1.x head keeps its own: no biases, depthwise ReLU, corner-aligned decoder
    old = DeepLabV3P(3, backbone="ResNet18", **NARROW)
    assert old.encoder.aspp0.conv.bias is None and old.encoder.aspp1.depthwise.act == "relu"
    assert old.decoder.align_corners and old.encoder.dropout.mode == "downscale_in_infer"


@pytest.mark.parametrize("args", [{"decoder": "sum"}, {"aspp_with_se": True},
                                  {"enable_decoder": False}, {"variant": "paddleseg2"}])
def test_options_paddleseg_has_not_refused(args):
    with pytest.raises(PxError, match="variant"):
        DeepLabV3P(3, backbone="ResNet18", **{"variant": "paddleseg", **args})


def test_paddleseg_names_need_a_backbone_that_has_them():
    net = DeepLabV3P(3, backbone="MobileNetV2", variant="paddleseg", **NARROW)
    with pytest.raises(ValueError, match="no PaddleSeg 2.x names"):
        net.weight_aliases()
