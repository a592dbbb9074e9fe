"""Resizing written in ops every runtime runs gives what Paddle's interpolation does."""

from __future__ import annotations

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from pxcore.nn.resize import (
    resize_bilinear,
    resize_nearest_align_corners,
    upsample_bilinear,
    upsample_nearest,
)
from pxcore.testing.runtimes import check_outputs, paddle_inference_outputs, save_dynamic


@pytest.mark.parametrize("factor", [2, 4, 8])
@pytest.mark.parametrize("size", [(5, 7), (1, 1), (8, 3)])
def test_upsample_bilinear_is_paddles_bilinear_interpolation(factor, size):
    x = paddle.rand([2, 3, *size])
    expected = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    np.testing.assert_allclose(upsample_bilinear(x, factor).numpy(), expected.numpy(), atol=1e-5)


def test_upsample_nearest_is_paddles_nearest_interpolation():
    x = paddle.rand([1, 2, 3, 5])
    like = paddle.zeros([1, 1, 6, 10])
    expected = F.interpolate(x, scale_factor=2, mode="nearest")
    np.testing.assert_array_equal(upsample_nearest(x, 2, like).numpy(), expected.numpy())


@pytest.mark.parametrize("finer", [(5, 9), (6, 10), (7, 11)])
def test_upsample_nearest_meets_a_finer_level_one_pixel_off(finer):
    # a 3x5 level under one of 6x10 (exact), 5x9 (input not a multiple of the stride:
    # cut) or 7x11 (a backbone that floors its sizes: the last row and column repeat)
    x = paddle.rand([1, 2, 3, 5])
    got = upsample_nearest(x, 2, paddle.zeros([1, 1, *finer])).numpy()
    doubled = F.interpolate(x, scale_factor=2, mode="nearest").numpy()
    padded = np.pad(doubled, [(0, 0), (0, 0), (0, 1), (0, 1)], mode="edge")
    np.testing.assert_array_equal(got, padded[:, :, :finer[0], :finer[1]])


@pytest.mark.parametrize("factor", [3, 1, 2.0])
def test_upsample_bilinear_takes_powers_of_two(factor):
    with pytest.raises(ValueError, match="power of two"):
        upsample_bilinear(paddle.rand([1, 1, 2, 2]), factor)


@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("size", [(5, 7), (1, 1), (16, 4)])
@pytest.mark.parametrize("out", [(1, 1), (20, 9), (3, 2), (64, 64)])
def test_resize_bilinear_is_paddles_bilinear_interpolation(size, out, align_corners):
    x = paddle.rand([2, 3, *size])
    expected = F.interpolate(x, size=list(out), mode="bilinear", align_corners=align_corners)
    got = resize_bilinear(x, out, align_corners)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5)
    # the size may come from a tensor to match, as inside a network
    like = resize_bilinear(x, paddle.zeros([1, 1, *out]), align_corners)
    np.testing.assert_allclose(like.numpy(), expected.numpy(), atol=1e-5)


def test_resize_bilinear_runs_exported_under_onednn(tmp_path):
    """Exported with dynamic sizes, Paddle Inference (oneDNN) runs it: no interp op."""

    class Net(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = paddle.nn.Conv2D(3, 4, 3, stride=4, padding=1)

        def forward(self, x):
            return resize_bilinear(self.conv(x), x, align_corners=True)

    net = Net()
    images = [np.random.default_rng(0).random(shape, np.float32) for shape in [(1, 3, 64, 96), (2, 3, 37, 50)]]
    eager = save_dynamic(net, images, tmp_path)
    expected = [F.interpolate(net.conv(paddle.to_tensor(x)), size=list(x.shape[2:]), mode="bilinear",
                              align_corners=True).numpy() for x in images]
    check_outputs(eager, expected, "resize_bilinear")
    check_outputs(paddle_inference_outputs(tmp_path, images), expected, "Paddle Inference")


def _paddles_nearest_align_corners(x, out):
    # Paddle's nearest_interp kernel (Paddle 1.x's resize_nearest default); F.interpolate
    # refuses align_corners for "nearest", the operator itself takes it
    return paddle._C_ops.nearest_interp(x, None, None, None, "NCHW", -1, out[0], out[1], [],
                                        "nearest", True, 1)


@pytest.mark.parametrize("factor", [2, 4, 8])
@pytest.mark.parametrize("size", [(5, 7), (1, 3), (16, 4)])
def test_resize_nearest_align_corners_is_paddles_nearest_interp(size, factor):
    x = paddle.rand([2, 3, *size])
    out = (size[0] * factor, size[1] * factor)
    expected = _paddles_nearest_align_corners(x, out).numpy()
    np.testing.assert_array_equal(resize_nearest_align_corners(x, out).numpy(), expected)
    like = resize_nearest_align_corners(x, paddle.zeros([1, 1, *out]))
    np.testing.assert_array_equal(like.numpy(), expected)
    if factor == 2:  # by 2 it is plain repetition, by 4 and 8 it is not
        np.testing.assert_array_equal(expected, upsample_nearest(x, 2, like).numpy())
    elif min(size) > 1:
        assert not np.array_equal(expected, upsample_nearest(x, factor, like).numpy())


def test_resize_nearest_align_corners_runs_exported_under_onednn(tmp_path):
    """Exported with dynamic sizes, Paddle Inference (oneDNN) runs it: no interp op."""

    class Net(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = paddle.nn.Conv2D(3, 4, 3, stride=4, padding=1)

        def forward(self, x):
            return resize_nearest_align_corners(self.conv(x), x)

    net = Net()
    images = [np.random.default_rng(0).random(shape, np.float32) for shape in [(1, 3, 64, 96), (2, 3, 32, 48)]]
    eager = save_dynamic(net, images, tmp_path)
    expected = [_paddles_nearest_align_corners(net.conv(paddle.to_tensor(x)), x.shape[2:]).numpy()
                for x in images]
    check_outputs(eager, expected, "resize_nearest_align_corners")
    check_outputs(paddle_inference_outputs(tmp_path, images), expected, "Paddle Inference")
