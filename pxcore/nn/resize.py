"""Resizing feature maps in ways every runtime runs."""

from __future__ import annotations

import numpy as np
import paddle
import paddle.nn.functional as F


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


def _bilinear_kernel(factor: int) -> np.ndarray:
    """The 2f-tap weights of upsampling by ``factor`` with half-pixel centres."""
    taps = np.arange(2 * factor, dtype=np.float64)
    return 1.0 - np.abs(taps - factor + 0.5) / factor


def upsample_bilinear(x, factor: int):
    """Bilinear upsampling of ``x`` by an integer ``factor`` (a power of two), exactly
    ``F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)``.

    Written as a depthwise transposed conv with fixed bilinear weights over the
    edge-replicated input, for the reason ``upsample_nearest`` gives: Paddle
    Inference's oneDNN rejects every interpolation op Paddle 3.3 exports."""
    if not isinstance(factor, int) or factor < 2 or factor & (factor - 1):
        raise ValueError(f"upsample_bilinear: factor must be a power of two >= 2, got {factor!r}")
    channels = int(x.shape[1])
    kernel = _bilinear_kernel(factor)
    weight = np.broadcast_to(np.outer(kernel, kernel), (channels, 1, 2 * factor, 2 * factor))
    padded = F.pad(x, [1, 1, 1, 1], mode="replicate")
    return F.conv2d_transpose(padded, paddle.to_tensor(weight.astype(np.float32)), stride=factor,
                              padding=3 * factor // 2, groups=channels)
