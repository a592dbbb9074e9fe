"""ResNet's output_stride and multi_grid (PaddleSeg 2.x's dilated ResNet_vd, for
DeepLabv3+): the levels report the strides they reach, the dilated stages hold the same
tensors (ImageNet weights load), and PaddleSeg 2.x's keys name every tensor once. The
network against PaddleSeg 2.8's own is tests/test_migrate_paddlex_reference.py's."""

import math

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.errors import PxError
from pxcore_resnet.resnet import ResNet


def _blocks_conv3x3(net, attribute="conv1"):
    return [getattr(block, attribute).conv for block in net.blocks]


@pytest.mark.parametrize("output_stride, strides", [(32, [4, 8, 16, 32]), (16, [4, 8, 16, 16]),
                                                    (8, [4, 8, 8, 8])])
@pytest.mark.parametrize("size", [64, 65])
def test_levels_report_the_strides_they_reach(output_stride, strides, size):
    net = pxcore.create_backbone("ResNet50_vd", output_stride=output_stride)
    net.eval()
    assert [f.stride for f in net.out_features] == strides
    for info, out in zip(net.out_features, net(paddle.rand([1, 3, size, size])), strict=True):
        side = math.ceil(size / info.stride)
        assert list(out.shape) == [1, info.channels, side, side]


def test_dilations_and_shortcuts_are_paddlesegs():
    """At 8: C4 dilation 2, C5 4 x multi_grid; no stride and no pooled shortcut there."""
    net = ResNet(50, "vd", output_stride=8, multi_grid=(1, 2, 4))
    dilations = [conv._dilation[0] for conv in _blocks_conv3x3(net)]
    assert dilations == [1] * 3 + [1] * 4 + [2] * 6 + [4, 8, 16]
    assert [conv._padding for conv in _blocks_conv3x3(net)] == dilations  # sizes kept
    c4_first, c5_first = net.blocks[7], net.blocks[13]
    for block in (c4_first, c5_first):
        assert block.conv1.conv._stride == [1, 1] and not block.short.pool_stride
    assert net.blocks[3].short.pool_stride  # C3 still strides, through its pooled shortcut
    basic = ResNet(18, "vd", output_stride=16)
    assert [b.conv0.conv._dilation[0] for b in basic.blocks] == [1] * 6 + [2, 2]
    assert [b.conv1.conv._dilation[0] for b in basic.blocks] == [1] * 6 + [2, 2]


def test_dilation_keeps_the_tensors():
    plain, dilated = ResNet(50, "vd"), ResNet(50, "vd", output_stride=8)
    assert {k: list(v.shape) for k, v in plain.state_dict().items()} == {
        k: list(v.shape) for k, v in dilated.state_dict().items()}
    # output stride 32 is the undilated network, tensor for tensor and output for output
    paddle.seed(3)
    one = ResNet(18, "vd")
    other = ResNet(18, "vd", output_stride=32)
    other.set_state_dict(one.state_dict())
    one.eval(), other.eval()
    x = paddle.rand([1, 3, 48, 48])
    for a, b in zip(one(x), other(x), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("depth", [18, 50, 101])
def test_paddleseg_names_cover_every_tensor_once(depth):
    net = ResNet(depth, "vd", output_stride=8)
    names = net.paddleseg_aliases()
    assert sorted(names.values()) == sorted(net.state_dict())
    assert names["conv1_3._batch_norm._variance"] == "stem.2.bn._variance"
    assert names["bb_1_0.short._conv.weight"] == f"blocks.{net._stage_depths[0]}.short.conv.weight"
    with pytest.raises(PxError, match="all vd"):
        ResNet(depth, "b").paddleseg_aliases()


@pytest.mark.parametrize("args, message", [
    ({"output_stride": 4}, "output_stride 4 is not one of"),
    ({"multi_grid": (1, 2, 4)}, "output_stride 32 leaves undilated"),
    ({"output_stride": 8, "multi_grid": (1, 2)}, "must be 3 positive integers"),
    ({"output_stride": 8, "multi_grid": (1, 0, 2)}, "must be 3 positive integers"),
    ({"output_stride": 16, "dcn_stages": (3,)}, "both change the same stage"),
])
def test_bad_arguments_are_refused(args, message):
    with pytest.raises(PxError, match=message):
        ResNet(50, "vd", **args)
