"""ResNet with deformable convs (DCNv2, ``dcn_stages``): the keys it adds, its start as
half the plain conv, gradients to the offsets, and export to Paddle Inference and ONNX."""

import subprocess
import sys

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.errors import PxError
from pxcore_resnet.resnet import BottleneckBlock, ConvBN, ResNet


def test_dcn_backbone_through_the_registry():
    net = pxcore.create_backbone("ResNet50_vd", dcn_stages=(3,), out_indices=(1, 2, 3))
    plain = pxcore.create_backbone("ResNet50_vd", out_indices=(1, 2, 3))
    keys, plain_keys = set(net.state_dict()), set(plain.state_dict())
    added = sorted(keys - plain_keys)
    # ResNet50's last stage is blocks 13..15; only their 3x3 conv gains conv_offset.
    assert added == [f"blocks.{b}.conv1.conv_offset.{p}" for b in (13, 14, 15)
                     for p in ("bias", "weight")]
    assert plain_keys <= keys
    state = net.state_dict()
    for key in added:
        assert not state[key].numpy().any(), f"{key} is not zero-initialised"
    assert list(state["blocks.13.conv1.conv_offset.weight"].shape) == [27, 512, 3, 3]
    assert list(state["blocks.13.conv1.conv.weight"].shape) == [512, 512, 3, 3]
    net.eval()
    outputs = net(paddle.rand([1, 3, 64, 96]))
    assert [list(o.shape) for o in outputs] == [[1, 512, 8, 12], [1, 1024, 4, 6], [1, 2048, 2, 3]]


def test_basic_blocks_deform_their_second_conv():
    net = ResNet(18, "b", dcn_stages=(2, 3))
    offsets = sorted({k.rsplit(".", 2)[0] for k in net.state_dict() if "conv_offset" in k})
    assert offsets == ["blocks.4.conv1", "blocks.5.conv1", "blocks.6.conv1", "blocks.7.conv1"]


@pytest.mark.parametrize("stages", [(4,), (-1,), ("3",), (True,)])
def test_bad_dcn_stages_are_refused(stages):
    with pytest.raises(PxError, match="dcn_stages"):
        ResNet(18, dcn_stages=stages)


def test_zero_offsets_give_half_the_plain_conv():
    paddle.seed(1)
    deform = ConvBN(4, 6, 3, stride=2, deformable=True)
    plain = ConvBN(4, 6, 3, stride=2)
    plain.conv.weight.set_value(deform.conv.weight)
    x = paddle.randn([2, 4, 9, 11])
    np.testing.assert_allclose(deform.conv(x, paddle.zeros([2, 18, 5, 6]),
                                           mask=paddle.full([2, 9, 5, 6], 0.5)).numpy(),
                               0.5 * plain.conv(x).numpy(), rtol=1e-5, atol=1e-5)
    offset_mask = deform.conv_offset(x)
    assert list(offset_mask.shape) == [2, 27, 5, 6] and not offset_mask.numpy().any()


def test_gradients_reach_the_offsets_and_the_mask():
    paddle.seed(2)
    block = BottleneckBlock(16, 4, stride=2, projection=True, pool_shortcut=True, deformable=True)
    block(paddle.randn([2, 16, 9, 9])).square().mean().backward()
    grad = block.conv1.conv_offset.weight.grad.numpy()
    assert np.abs(grad[:18]).max() > 0, "no gradient to the offset channels"
    assert np.abs(grad[18:]).max() > 0, "no gradient to the mask channels"
    assert np.abs(block.conv1.conv_offset.bias.grad.numpy()).max() > 0


def _tiny_dcn_net():
    paddle.seed(3)
    net = paddle.nn.Sequential(
        ConvBN(3, 8, 3, relu=True, deformable=True),
        BottleneckBlock(8, 4, stride=2, projection=True, pool_shortcut=True, deformable=True))
    for name, param in net.named_parameters():
        if "conv_offset" in name:  # exercise real deformation, not the zero start
            param.set_value(paddle.randn(param.shape) * 0.1)
    net.eval()
    return net


_ONNX_CHILD = """
import sys, paddle2onnx
paddle2onnx.export(sys.argv[1], sys.argv[2], sys.argv[3], opset_version=13,
                   enable_onnx_checker=True, optimize_tool="None")
"""


@pytest.mark.parity
def test_dcn_exports_to_paddle_inference_and_onnx(tmp_path):
    net = _tiny_dcn_net()
    # odd sizes: the vd shortcut's ceil-mode pool and the strided DCN both round up
    x = np.random.default_rng(0).standard_normal((2, 3, 17, 23)).astype("float32")
    expected = net(paddle.to_tensor(x)).numpy()
    assert expected.shape == (2, 16, 9, 12)
    prefix = tmp_path / "model"
    paddle.jit.save(net, str(prefix), input_spec=[
        paddle.static.InputSpec([None, 3, None, None], "float32", "image")])

    config = paddle.inference.Config(str(prefix) + ".json", str(prefix) + ".pdiparams")
    config.disable_glog_info()
    config.enable_mkldnn()
    predictor = paddle.inference.create_predictor(config)
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    handle.reshape(x.shape)
    handle.copy_from_cpu(x)
    predictor.run()
    got = predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()
    np.testing.assert_allclose(got, expected, atol=1e-4)

    pytest.importorskip("paddle2onnx")
    ort = pytest.importorskip("onnxruntime")
    onnx_file = tmp_path / "model.onnx"
    # paddle2onnx aborts the process on an operator it cannot convert: a child process
    result = subprocess.run([sys.executable, "-c", _ONNX_CHILD, str(prefix) + ".json",
                             str(prefix) + ".pdiparams", str(onnx_file)],
                            capture_output=True, text=True)
    assert result.returncode == 0 and onnx_file.is_file(), result.stdout + result.stderr
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, expected, atol=1e-4)
