"""DeepLabv3+ on any backbone: it reads the deepest level and the low-level one from the
backbone's feature report, by stride, and says so when a backbone lacks one; PaddleX's
backbone names are the registered backbones reporting PaddleX's decode points."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.errors import IncompatiblePartsError, PxError
from pxcore.nn.backbone import Backbone
from pxcore.nn.features import FeatureInfo
from pxcore.testing import check_static_parity
from pxcore.weights import load_weights
from pxcore_deeplab.deeplabv3p import DeepLabV3P, aspp_dilations

SIZE = (64, 96)
NARROW = {"aspp_channels": 16, "decoder_channels": 16}  # the head's widths, for speed


class Plain(Backbone):
    """A stride-2 conv per level, reporting ``strides``."""

    def __init__(self, strides=(4, 8, 16, 32), width=8, out_indices=None):
        super().__init__(out_indices)
        self.feature_info, layers, channels, stride = [], [], 3, 1
        self.stem = nn_conv(channels, width, strides[0])
        for level, target in enumerate(strides):
            if level:
                layers.append(nn_conv(width, width, target // stride))
            self.feature_info.append(FeatureInfo(f"L{level}", width, target))
            stride = target
        self.levels = paddle.nn.LayerList(layers)

    def forward_features(self, x):
        x = self.stem(x)
        out = [x]
        for layer in self.levels:
            x = layer(x)
            out.append(x)
        return out


def nn_conv(cin, cout, stride):
    return paddle.nn.Conv2D(cin, cout, 3, stride=stride, padding=1)


def _run(net, size=SIZE):
    net.eval()
    with paddle.no_grad():
        return net(paddle.rand([1, 3, *size]))


@pytest.mark.parametrize("backbone", ["ResNet18", "MobileNetV1", "ShuffleNetV2", "DarkNet53",
                                      "HRNet_W18", "MobileNetV3_small"])
def test_registered_backbones_under_the_xception_preset(backbone):
    """The preset asks for output stride 16; ResNet takes output_stride (dilated C5), the
    backbones that do not stay at 32, and the ASPP's rates follow: 3/6/9."""
    model = pxcore.create_model("DeepLabv3_Xception65", num_classes=3, backbone=backbone, **NARROW)
    net = model.net
    stride = 16 if backbone.startswith("ResNet") else 32
    assert net.output_stride == stride and net.encoder.dilations == aspp_dilations(16, stride)
    low, deep = net.backbone.out_features
    assert low.stride == 4 and deep.stride == stride and deep == net.backbone.feature_info[-1]
    assert net.encoder_kind.low_level_channels == low.channels
    assert list(_run(net).shape) == [1, 3, *SIZE]
    assert set(net.weight_aliases().values()) <= set(net.state_dict())


@pytest.mark.parametrize("preset", ["DeepLabv3_MobileNetV2_x1.0", "DeepLabv3_MobileNetV3_large_x1_0_ssld"])
def test_the_other_heads_take_another_backbone(preset):
    """No ASPP and decoder (MobileNetV2's zoo weights): only the deepest level is read.
    LR-ASPP (MobileNetV3's): no dilated branches, the sum decoder on stride 4."""
    net = pxcore.create_model(preset, num_classes=3, backbone="ResNet18").net
    if net.decoder is None:  # output stride 16, which ResNet takes
        assert [f.stride for f in net.backbone.out_features] == [16]
        assert net.encoder_kind.low_level_channels == 64  # reported, not read
    else:
        assert [f.stride for f in net.backbone.out_features] == [4, 32]
        assert net.encoder.dilations == () and not net.encoder_kind.extras
    assert list(_run(net).shape) == [1, 3, *SIZE]


def test_output_stride_reaches_backbones_that_take_it():
    """MobileNetV2 and Xception declare output_stride: they give the stride asked, and
    the rates are PaddleX's (ResNet too: PaddleSeg 2.x's dilation); a backbone that does
    not keeps its stride, and the rates span the same pixels."""
    net = DeepLabV3P(3, backbone="MobileNetV2", output_stride=8, **NARROW)
    assert net.backbone.output_stride == 8 and net.output_stride == 8
    assert net.encoder.dilations == (12, 24, 36)
    # the registered MobileNetV2 reports its stage output at stride 4 (not PaddleX's map)
    assert [f.name for f in net.backbone.out_features] == ["C2", "C3"]
    assert list(_run(net).shape) == [1, 3, *SIZE]
    net = DeepLabV3P(3, backbone="ResNet18", output_stride=8, **NARROW)
    assert net.output_stride == 8 and net.encoder.dilations == (12, 24, 36)
    assert [f.stride for f in net.backbone.out_features] == [4, 8]
    net = DeepLabV3P(3, backbone="ShuffleNetV2", output_stride=8, **NARROW)
    assert net.output_stride == 32 and net.encoder.dilations == (3, 6, 9)
    # the caller's backbone_args win over output_stride
    net = DeepLabV3P(3, backbone="MobileNetV2", backbone_args={"scale": 0.5, "output_stride": 32},
                     **NARROW)
    assert net.output_stride == 32 and net.encoder.dilations == (3, 6, 9)


def test_aspp_dilations_follow_the_deepest_stride():
    assert aspp_dilations(16, 16) == (6, 12, 18) and aspp_dilations(8, 8) == (12, 24, 36)
    assert aspp_dilations(16, 32) == aspp_dilations(8, 32) == (3, 6, 9)
    assert aspp_dilations(16, 8) == (12, 24, 36)
    assert aspp_dilations(32, 32) == aspp_dilations(32, 16) == ()


def test_paddlex_names_read_the_backbones_reported_decode_points():
    """PaddleX's decode points are levels the MobileNets report when asked (the expanded
    depthwise output); Xception's stride-4 level is its own; MobileNetV3's conv_last
    comes from the backbone (deeplab_extras) and sits under its Paddle 1.x name."""
    v2 = DeepLabV3P(3, backbone="MobileNetV2_x0.5", **NARROW)
    assert [(f.name, f.channels, f.stride) for f in v2.backbone.out_features] == [
        ("C2_expanded", 72, 4), ("C4", 160, 16)]
    v3 = DeepLabV3P(3, backbone="MobileNetV3_large_x1_0_ssld", output_stride=32, **NARROW)
    assert [(f.name, f.channels, f.stride) for f in v3.backbone.out_features] == [
        ("C3_expanded", 120, 8), ("C5", 80, 32)]
    assert [name for name, _, _ in v3.encoder_kind.extras] == ["conv_last"]
    assert v3.encoder_kind.channels == 480 and "conv_last.conv.weight" in v3.state_dict()
    assert v3.weight_aliases()["conv_last_weights"] == "conv_last.conv.weight"
    assert list(_run(v3).shape) == [1, 3, *SIZE]
    with paddle.LazyGuard():
        xception = DeepLabV3P(3, backbone="Xception41", **NARROW)
    assert [(f.channels, f.stride) for f in xception.backbone.out_features] == [(256, 4), (2048, 16)]


def test_a_backbone_without_the_low_level_stride_is_refused():
    with pytest.raises(IncompatiblePartsError) as info:
        DeepLabV3P(3, backbone=Plain(strides=(8, 16, 32)))
    message = str(info.value)
    assert "DeepLabV3P (low-level stride 4, deepest stride 32)" in message
    assert "none at stride 4" in message and "L0 (stride 8, 8 ch)" in message
    with pytest.raises(IncompatiblePartsError, match="none at stride 2"):
        pxcore.create_model("DeepLabv3_Xception65", num_classes=3, backbone="ResNet18",
                            low_level_stride=2)
    with pytest.raises(IncompatiblePartsError, match="shallower than the deepest"):
        DeepLabV3P(3, backbone=Plain(strides=(4,)))
    # without a decoder the low-level map is not needed
    net = DeepLabV3P(3, backbone=Plain(strides=(8, 16, 32)), enable_decoder=False, **NARROW)
    assert net.encoder_kind.low_level is None and list(_run(net).shape) == [1, 3, *SIZE]


def test_a_built_backbone_and_its_names(tmp_path):
    """A built Backbone is used as it is (no backbone_args for it); one without Paddle 1.x
    names leaves its tensors under their keys, the head's are named; weights load."""
    net = DeepLabV3P(3, backbone=Plain(), **NARROW)
    assert net.output_stride == 32 and list(_run(net).shape) == [1, 3, *SIZE]
    aliases = net.weight_aliases()
    assert "logit/weights" in aliases and not any(k.startswith("backbone.") for k in aliases.values())
    paddle.save(net.state_dict(), str(tmp_path / "net.pdparams"))
    other = DeepLabV3P(3, backbone=Plain(), **NARROW)
    load_weights(other, tmp_path / "net.pdparams")
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[key].numpy(), value.numpy())
    with pytest.raises(PxError, match="already built"):
        DeepLabV3P(3, backbone=Plain(), backbone_args={"width": 4})


def test_static_parity_on_another_backbone():
    paddle.seed(0)
    net = DeepLabV3P(3, backbone="ResNet18", **NARROW)
    check_static_parity(net, [paddle.rand([1, 3, 64, 64])], "DeepLabV3P on ResNet18")


def test_a_built_backbone_is_held_once():
    backbone = Plain()
    net = DeepLabV3P(3, backbone=backbone, **NARROW)
    assert net.backbone is backbone and net.backbone_name == "Plain"
    assert all(k.startswith(("backbone.", "encoder.", "decoder.", "logit."))
               for k in net.state_dict())
