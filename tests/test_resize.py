"""Resizing written in ops every runtime runs gives what Paddle's interpolation does."""

from __future__ import annotations

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from pxcore.nn.resize import upsample_bilinear, upsample_nearest


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


@pytest.mark.parametrize("factor", [3, 1, 2.0])
def test_upsample_bilinear_takes_powers_of_two(factor):
    with pytest.raises(ValueError, match="power of two"):
        upsample_bilinear(paddle.rand([1, 1, 2, 2]), factor)
