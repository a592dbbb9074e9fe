"""ONNX ops OpenVINO's ONNX front end cannot read, converted to OpenVINO's own.

DeformConv (ONNX opset 19): paddle2onnx writes Paddle's deformable convolution (PP-YOLO,
the _dcn ResNets) as it, and OpenVINO 2026.4 has no conversion for it, though its CPU
plugin runs deformable convolutions (DeformableConvolution-8). Sampling points outside
the image read zeros weighted bilinearly (``bilinear_interpolation_pad``), as ONNX's
DeformConv (and ONNX Runtime, and Paddle) do.
"""

from __future__ import annotations

import numpy as np


def _absent(output) -> bool:
    """An optional input the ONNX node leaves empty ("")."""
    return output.get_node().get_type_name() == "NullNode"


def deform_conv(context):
    import openvino.opset8 as ops

    def attribute(name, default):
        return context.get_attribute(name) if context.has_attribute(name) else default

    inputs = [context.get_input(i) for i in range(context.get_input_size())]
    data, weights, offsets = inputs[:3]
    bias = inputs[3] if len(inputs) > 3 and not _absent(inputs[3]) else None
    mask = inputs[4] if len(inputs) > 4 and not _absent(inputs[4]) else None
    pads = list(attribute("pads", [0, 0, 0, 0]))
    half = len(pads) // 2
    out = ops.deformable_convolution(
        data, offsets, weights, list(attribute("strides", [1, 1])), pads[:half], pads[half:],
        list(attribute("dilations", [1, 1])), mask, "explicit", int(attribute("group", 1)),
        int(attribute("offset_group", 1)), True)
    if bias is not None:
        out = ops.add(out, ops.reshape(bias, ops.constant(np.array([1, -1, 1, 1], np.int64)), False))
    return [out.output(0)]


def extensions():
    from openvino.frontend import ConversionExtension

    return [ConversionExtension("DeformConv", deform_conv)]
