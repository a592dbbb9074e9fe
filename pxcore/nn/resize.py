"""Resizing feature maps in ways every runtime runs."""

from __future__ import annotations

import numpy as np
import paddle
import paddle.nn.functional as F


def fit_to(x, like, margin: int):
    """``x`` cut, or extended by repeating its last row and column (up to ``margin``
    times), to the height and width of ``like``.

    Joins an upsampled level to a finer one. Upsampled by f, a level is up to f - 1
    pixels smaller than the finer one when a backbone floors its sizes (convolutions
    that do not pad, as AlexNet's), and larger when it ceils them (an input size that is
    not a multiple of the coarsest stride); exactly as large otherwise, and then this is
    the identity."""
    if margin:
        x = F.pad(x, [0, margin, 0, margin], mode="replicate")
    size = paddle.shape(like)[2:]
    return paddle.slice(x, axes=[2, 3], starts=[0, 0], ends=[size[0], size[1]])


def upsample_nearest(x, factor: int, like):
    """Nearest-neighbour upsampling of ``x`` by an integer ``factor``, fitted to the
    height and width of ``like`` (``fit_to``): every pixel repeated factor x factor
    times. When ``like`` is exactly ``factor`` times larger this is
    ``F.interpolate(x, scale_factor=factor, mode="nearest")``.

    Not written as an interpolation: exported, Paddle Inference with oneDNN (Paddle
    3.3) rejects every nearest_interp op ("ConvertPirAttribute2RuntimeAttribute not
    support pir::ArrayAttribute<pir::DoubleAttribute>"), and paddle2onnx refuses one
    with a scale factor. Tile, reshape, pad and slice (to sizes read from the tensors,
    which Paddle Lite also runs) export to every runtime."""
    shape = paddle.shape(x)
    tiled = paddle.tile(paddle.unsqueeze(x, [3, 5]), [1, 1, 1, factor, 1, factor])
    return fit_to(paddle.reshape(tiled, paddle.concat([shape[:2], shape[2:] * factor])),
                  like, factor - 1)


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


def _dim(shape, axis: int):
    # A one-element slice, not shape[axis]: oneDNN's slice kernel fails on the
    # dimension-dropping form in exported graphs.
    return paddle.slice(shape, axes=[0], starts=[axis], ends=[axis + 1])


def _as_tensor(value):
    return paddle.full([1], int(value), "int64") if isinstance(value, int | np.integer) else value


def _taps(in_size, out_size, align_corners: bool):
    """Source rows of bilinear resizing along one axis: (lower index, upper index,
    weight of the upper), as Paddle's bilinear_interp computes them."""
    in_size, out_size = _as_tensor(in_size), _as_tensor(out_size)
    dst = paddle.arange(out_size, dtype="float32")
    n_in = paddle.cast(in_size, "float32")
    n_out = paddle.cast(out_size, "float32")
    if align_corners:
        src = dst * (n_in - 1) / paddle.maximum(n_out - 1, paddle.ones_like(n_out))
    else:  # half-pixel centres, clamped at the first pixel (align_mode 0); one output
        # pixel reads the first input pixel, as Paddle's kernel has it
        ratio = paddle.where(n_out > 1, n_in / n_out, paddle.zeros_like(n_in))
        src = paddle.clip((dst + 0.5) * ratio - 0.5, min=0.0)
    last = paddle.cast(in_size, "int64") - 1
    lower = paddle.minimum(paddle.cast(paddle.floor(src), "int64"), last)
    upper = paddle.minimum(lower + 1, last)
    return lower, upper, src - paddle.cast(lower, "float32")


def _target(size):
    """(height, width) from ``size``: ints, or a tensor whose last two dimensions give
    them (a tensor, eager, or a value while a static graph is built), or a [2] tensor."""
    if isinstance(size, list | tuple):
        return size
    if len(size.shape) == 4:
        shape = paddle.shape(size)
        return _dim(shape, 2), _dim(shape, 3)
    return _dim(size, 0), _dim(size, 1)


def _nearest_corner_rows(in_size, out_size):
    """Source rows of nearest resizing with corners aligned along one axis: destination
    k reads round(k * (in - 1) / (out - 1)), halves rounded up, as Paddle's
    nearest_interp computes it (``int(ratio * k + 0.5)``). No source lands on a half:
    k (in - 1) / (out - 1) + 1/2 is an integer only if the even 2 k (in - 1) is an odd
    multiple of out - 1, so never for an even ``out`` (any upsampling by a power of
    two), and float32 rounding cannot pick another row than the exact arithmetic."""
    in_size, out_size = _as_tensor(in_size), _as_tensor(out_size)
    dst = paddle.arange(out_size, dtype="float32")
    n_in = paddle.cast(in_size, "float32")
    n_out = paddle.cast(out_size, "float32")
    src = dst * (n_in - 1) / paddle.maximum(n_out - 1, paddle.ones_like(n_out)) + 0.5
    return paddle.minimum(paddle.cast(paddle.floor(src), "int64"), paddle.cast(in_size, "int64") - 1)


def resize_nearest_align_corners(x, size):
    """Nearest-neighbour resizing of ``x`` [N, C, H, W] to ``size`` (as
    ``resize_bilinear`` takes it) with corners aligned: Paddle 1.x's
    ``fluid.layers.resize_nearest`` with its default ``align_corners=True``, which
    PaddleDetection 0.x's HRNet fused its branches with. Upsampling by 2 this is pixel
    repetition; by 4 or 8 the rows it picks shift (by 4: 0, 0, 1, 1, 1, 1, 2, ...).
    Paddle 2.x's ``F.interpolate`` refuses ``align_corners`` for "nearest".

    Gathers along each axis, for the reason ``upsample_nearest`` gives: Paddle
    Inference's oneDNN rejects every interpolation op Paddle 3.3 exports, and gathers
    export to ONNX."""
    height, width = _target(size)
    shape = paddle.shape(x)
    rows = paddle.gather(x, _nearest_corner_rows(_dim(shape, 2), height), axis=2)
    return paddle.gather(rows, _nearest_corner_rows(_dim(shape, 3), width), axis=3)


def resize_bilinear(x, size, align_corners: bool = False):
    """Bilinear resizing of ``x`` [N, C, H, W] to ``size``: (height, width) as ints or
    tensors, or a tensor whose last two dimensions give them. Exactly
    ``F.interpolate(x, size, mode="bilinear", align_corners=...)`` (``align_corners``
    True is Paddle 1.x's ``resize_bilinear`` default, False PaddleSeg 2.x's).

    Written as gathers and a weighted sum, for any size and factor, because Paddle
    Inference's oneDNN rejects every interpolation op Paddle 3.3 exports (see
    ``upsample_nearest``); gathers run on every runtime."""
    height, width = _target(size)
    shape = paddle.shape(x)
    top, bottom, wy = _taps(_dim(shape, 2), height, align_corners)
    left, right, wx = _taps(_dim(shape, 3), width, align_corners)
    wy = paddle.reshape(wy, [1, 1, -1, 1])
    rows = paddle.gather(x, top, axis=2) * (1 - wy) + paddle.gather(x, bottom, axis=2) * wy
    wx = paddle.reshape(wx, [1, 1, 1, -1])
    return paddle.gather(rows, left, axis=3) * (1 - wx) + paddle.gather(rows, right, axis=3) * wx
