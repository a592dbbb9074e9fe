"""Activations written so that every runtime computes them right."""

from __future__ import annotations

import paddle


def leaky_relu(x, negative_slope: float = 0.1):
    """max(x, slope * x): leaky ReLU for 0 <= slope <= 1, without the leaky_relu op. Paddle
    3.3 saves that op's slope as a double; paddle2onnx 2.1 then reads a float ~1e-43 (the
    ONNX model computes ReLU) and Paddle Inference's oneDNN conv fusion segfaults."""
    return paddle.maximum(x, x * negative_slope)
