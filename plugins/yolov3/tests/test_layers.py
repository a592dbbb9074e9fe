"""pxcore_yolov3.layers: shapes and PaddleDetection's parameter names, DropBlock's rate
and its absence from eval programs, CoordConv's grid and its export."""

import subprocess
import sys

import numpy as np
import paddle
import pytest

from pxcore.errors import PxError
from pxcore_yolov3.layers import (
    PADDLEDETECTION_COORD_RANGE,
    SPP,
    ConvBNLayer,
    CoordConv,
    DropBlock,
    coord_channels,
)


def test_conv_bn_layer_names_shapes_and_leaky_slope():
    layer = ConvBNLayer(4, 8, 3, stride=2)
    assert list(layer.state_dict()) == [
        "conv.weight", "batch_norm.weight", "batch_norm.bias", "batch_norm._mean",
        "batch_norm._variance"]
    layer.eval()
    x = paddle.randn([2, 4, 9, 10])
    y = layer(x)
    assert list(y.shape) == [2, 8, 5, 5]
    z = layer.batch_norm(layer.conv(x)).numpy()
    np.testing.assert_allclose(y.numpy(), np.where(z > 0, z, 0.1 * z), rtol=1e-6, atol=1e-6)
    assert list(ConvBNLayer(4, 8, 1)(x).shape) == [2, 8, 9, 10]
    with pytest.raises(PxError, match="act 'swish'"):
        ConvBNLayer(4, 8, act="swish")


def test_coord_conv_names_and_grid():
    layer = CoordConv(6, 4, 3)
    assert list(layer.state_dict())[:2] == ["conv.conv.weight", "conv.batch_norm.weight"]
    assert list(layer.conv.conv.weight.shape) == [4, 8, 3, 3]
    x = paddle.randn([2, 6, 5, 7])
    grid = coord_channels(x).numpy()
    assert grid.shape == (2, 2, 5, 7)
    np.testing.assert_allclose(grid[1, 0, 3], np.linspace(-1, 1, 7), atol=1e-6)
    np.testing.assert_allclose(grid[0, 1, :, 2], np.linspace(-1, 1, 5), atol=1e-6)
    # PaddleDetection's arange(w) / ((w - 1.) * 2.) - 1.
    ppdet = coord_channels(x, *PADDLEDETECTION_COORD_RANGE).numpy()
    np.testing.assert_allclose(ppdet[0, 0, 0], np.arange(7) / ((7 - 1.0) * 2.0) - 1.0, atol=1e-6)
    assert np.array_equal(coord_channels(paddle.ones([1, 1, 1, 1])).numpy(), [[[[-1.0]], [[-1.0]]]])
    layer.eval()
    assert list(layer(x).shape) == [2, 4, 5, 7]


def test_spp_keeps_the_size_and_names():
    layer = SPP(8, 4)
    assert list(layer.state_dict())[0] == "conv.conv.weight"
    assert list(layer.conv.conv.weight.shape) == [4, 32, 1, 1]
    layer.eval()
    x = paddle.randn([1, 8, 7, 11])
    assert list(layer(x).shape) == [1, 4, 7, 11]
    # the 13x13 pool at the centre of a 7x11 map sees the whole map
    pooled = paddle.nn.functional.max_pool2d(x, 13, stride=1, padding=6).numpy()
    np.testing.assert_allclose(pooled[0, :, 3, 5], x.numpy()[0].max(axis=(1, 2)))
    with pytest.raises(PxError, match="must be odd"):
        SPP(8, 4, pool_sizes=(5, 8))


def test_dropblock_is_the_identity_in_eval():
    layer = DropBlock(3, 0.9)
    layer.eval()
    x = paddle.randn([2, 4, 8, 8])
    assert layer(x) is x


def _ops(net, training: bool) -> list[str]:
    net.train() if training else net.eval()
    static = paddle.jit.to_static(net, input_spec=[paddle.static.InputSpec([2, 3, 16, 16])],
                                  full_graph=True)
    return [op.name() for op in static.forward.concrete_program.main_program.global_block().ops]


def test_dropblock_leaves_no_trace_in_an_eval_program():
    with_dropblock = paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 3), DropBlock(3, 0.9))
    without = paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 3))
    assert _ops(with_dropblock, training=False) == _ops(without, training=False)
    assert "pd_op.uniform" in _ops(with_dropblock, training=True)


@pytest.mark.parametrize("block_size, keep_prob", [(3, 0.9), (5, 0.8)])
def test_dropblock_drops_about_one_minus_keep_prob(block_size, keep_prob):
    paddle.seed(0)
    layer = DropBlock(block_size, keep_prob)
    layer.train()
    y = layer(paddle.ones([8, 16, 32, 32])).numpy()
    dropped = float((y == 0).mean())
    # overlapping blocks make it a little less than the paper's gamma aims at
    assert abs(dropped - (1 - keep_prob)) < 0.15 * (1 - keep_prob), dropped
    assert abs(float(y.mean()) - 1.0) < 1e-5  # survivors rescaled: the mean is kept
    # whole blocks: every dropped pixel lies in a zeroed block_size square
    zero = y == 0
    r = block_size // 2
    covered = np.zeros_like(zero)
    for i in range(r, 32 - r):
        for j in range(r, 32 - r):
            square = zero[:, :, i - r:i + r + 1, j - r:j + r + 1].all(axis=(2, 3))
            covered[:, :, i - r:i + r + 1, j - r:j + r + 1] |= square[:, :, None, None]
    assert np.array_equal(covered, zero)


def test_dropblock_refuses_bad_settings():
    with pytest.raises(PxError, match="block_size 4"):
        DropBlock(4, 0.9)
    with pytest.raises(PxError, match="keep_prob 0"):
        DropBlock(3, 0.0)


def _predictor(prefix, onednn: bool):
    config = paddle.inference.Config(f"{prefix}.json", f"{prefix}.pdiparams")
    config.disable_glog_info()
    if onednn:  # as pxcore's deploy runtime on CPU
        config.enable_mkldnn()
    else:
        config.disable_mkldnn()
    return paddle.inference.create_predictor(config)


def _run(predictor, x):
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    handle.reshape(x.shape)
    handle.copy_from_cpu(x)
    predictor.run()
    return predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()


_ONNX_CHILD = """
import sys, paddle2onnx
paddle2onnx.export(sys.argv[1], sys.argv[2], sys.argv[3], opset_version=13,
                   enable_onnx_checker=True, optimize_tool="None")
"""


@pytest.mark.parity
def test_coord_conv_exports_with_dynamic_shapes(tmp_path):
    paddle.seed(0)
    layer = CoordConv(3, 4, 3)
    for param in layer.conv.batch_norm.parameters():
        param.set_value(paddle.randn(param.shape))
    layer.conv.batch_norm._variance.set_value(paddle.rand([4]) + 0.5)
    layer.eval()
    prefix = tmp_path / "coordconv"
    static = paddle.jit.to_static(layer, input_spec=[
        paddle.static.InputSpec([None, 3, None, None], "float32", "x")], full_graph=True)
    paddle.jit.save(static, str(prefix))
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(s).astype("float32") for s in [(2, 3, 5, 7), (1, 3, 12, 4)]]
    expected = [layer(paddle.to_tensor(x)).numpy() for x in inputs]
    for onednn in (False, True):
        predictor = _predictor(prefix, onednn)
        for x, want in zip(inputs, expected, strict=True):
            np.testing.assert_allclose(_run(predictor, x), want, atol=1e-5)

    pytest.importorskip("paddle2onnx")
    ort = pytest.importorskip("onnxruntime")
    onnx_file = tmp_path / "coordconv.onnx"
    # paddle2onnx aborts the process on an operator it cannot convert: a child process
    result = subprocess.run([sys.executable, "-c", _ONNX_CHILD, f"{prefix}.json",
                             f"{prefix}.pdiparams", str(onnx_file)], capture_output=True, text=True)
    assert result.returncode == 0 and onnx_file.is_file(), result.stdout + result.stderr
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    for x, want in zip(inputs, expected, strict=True):
        np.testing.assert_allclose(session.run(None, {"x": x})[0], want, atol=1e-5)
