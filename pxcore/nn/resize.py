"""Resizing feature maps in ways every runtime runs."""

from __future__ import annotations

import paddle


def upsample_nearest(x, factor: int, like):
    """Nearest-neighbour upsampling of ``x`` by an integer ``factor`` to the height and
    width of ``like`` (reached by repeating every pixel factor x factor times): exactly
    ``F.interpolate(x, scale_factor=factor, mode="nearest")``.

    Not written as an interpolation: exported, Paddle Inference with oneDNN (Paddle
    3.3) rejects every nearest_interp op ("ConvertPirAttribute2RuntimeAttribute not
    support pir::ArrayAttribute<pir::DoubleAttribute>"), and paddle2onnx refuses one
    with a scale factor. Tile and reshape (to a shape read from the tensors, which
    Paddle Lite also runs) export to every runtime."""
    tiled = paddle.tile(paddle.unsqueeze(x, [3, 5]), [1, 1, 1, factor, 1, factor])
    shape = paddle.concat([paddle.shape(x)[:2], paddle.shape(like)[2:]])
    return paddle.reshape(tiled, shape)
