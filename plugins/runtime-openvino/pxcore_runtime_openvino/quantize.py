"""int8 by NNCF's post-training quantization, OpenVINO's own route (``px quantize``).

The export's ONNX conversion is converted by OpenVINO's model conversion
(``openvino.convert_model``, which folds batch normalization into the convolutions
before them, as NNCF expects of the models it quantizes), calibrated by NNCF on the
network inputs pxcore hands over (the model's own pre-processing of the user's images),
and saved as OpenVINO IR beside the export: ``openvino/model-int8.xml`` and ``.bin``.
The weights stay in fp32 in the IR file (no fp16 compression) so that only quantization
changes the results.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

from pxcore.errors import PxError

INT8_MODEL = "openvino/model-int8.xml"
METHOD = ("NNCF post-training quantization of OpenVINO's converted model (batch norm folded; "
          "symmetric int8 weights per channel, activations per tensor, fast bias correction; "
          "element-wise products and the first and last convolutions or matrix products kept in float)")
# Measured on bench/precision_accuracy.py's four cases (2026-12-05, 300 calibration images):
# - The graph OpenVINO reads straight from the ONNX file keeps BatchNormInference after each
#   convolution, so NNCF put a quantizer between the two; that graph ran ResNet18 and
#   MobileNetV3_small wrong at batch 1 on the CPU plugin (logits 1.0 and 1.5 relative error
#   against fp32; 0.08 and 0.13 at batch 8, which the bench scored), and YOLOv3-MobileNetV1 lost
#   2.3 mAP@0.5 points. openvino.convert_model folds them (and reads leaky ReLU as PRelu):
#   relative error 0.07 / 0.12 / 0.03 / 0.03 (ResNet18, MobileNetV3_small, YOLOv3, Fast-SCNN),
#   the same at batch 1 and 8, and faster (YOLOv3 at 416 px: 12 ms against 21, fp32 32).
# - That still cost YOLOv3 1.7 to 2.0 points over three calibration draws, most of it in its
#   three output convolutions (box offsets and objectness logits rounded to 1/255 of their
#   range). The weighted layers the inputs reach with no other weighted layer between, and
#   those reaching an output so, stay float (from the graph, every model alike): -0.42 to
#   +0.24 points. Still int8: 46 of YOLOv3's 50 convolutions, 53 of MobileNetV3_small's 55
#   weighted layers, 20 of ResNet18's 22, 43 of Fast-SCNN's 45 (ResNet18 at 224 px: 6.1 ms
#   against fp32's 17, 5.0 with its 7x7 stem int8).
# - Not taken: MIXED preset (asymmetric activations) -0.40 to +0.15 points, no better;
#   fast_bias_correction=False, overflow fix off: no better; activation ranges by histogram
#   -0.8 points on 300 images but -7.9 on 700 (unstable), by median or outlier-free mean
#   -2.1 and -1.1 (MobileNetV3_small -14.5 and -7.8), by global min/max -9 to -15.
# - MobileNetV3_small stays near the line on the digits: int8 flips 2 to 8 of 538 validation
#   and test images whatever the settings above, so its 179-image test split moves by one
#   image (0.56 points) with the training and the calibration draw: -0.56 for the bench's
#   seeds 0 and 1, -1.12 for seed 1's model calibrated on seed 0's draw.
# Element-wise products stay float: hard-swish (x * hardsigmoid(x)) and squeeze-excitation
# scaling quantized per tensor wrecked MobileNetV3_small on the digits (top-1 0.10 against
# fp32's 0.955; 0.961 with them ignored); still so on the converted graph (0.095).
IGNORED_TYPES = ["Multiply"]
# layers with weights: what int8 speeds up, and what FLOAT_ENDS looks for
WEIGHTED_TYPES = {"Convolution", "GroupConvolution", "ConvolutionBackpropData",
                  "GroupConvolutionBackpropData", "MatMul", "DeformableConvolution"}
# what may stand between a weighted layer and its constant weights (or their int8 form)
_WEIGHT_PATH = {"Convert", "Reshape", "Unsqueeze", "Squeeze", "Transpose", "FakeQuantize",
                "FakeConvert", "Multiply", "Subtract"}


def quantize(model_dir: Path, info: dict[str, Any], samples: list, save_dir: Path) -> dict[str, Any]:
    """The quantizer pxcore.deploy.quantize calls: writes ``INT8_MODEL`` under ``save_dir``."""
    if importlib.util.find_spec("nncf") is None:
        raise PxError("quantizing needs NNCF: pip install 'pxcore-runtime-openvino[quantize]'")
    import openvino as ov

    from pxcore_runtime_onnx.convert import onnx_model

    from .onnx_ops import extensions

    logging.getLogger("nncf").setLevel(logging.WARNING)  # per-step progress otherwise
    model = ov.convert_model(str(onnx_model(model_dir, info)), extension=extensions())
    quantized = quantize_model(model, samples)
    target = Path(save_dir) / INT8_MODEL
    target.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(target), compress_to_fp16=False)
    return {"model": INT8_MODEL, "weights": INT8_MODEL.replace(".xml", ".bin"), "method": METHOD}


def quantize_model(model, samples: list):
    """``model`` (an OpenVINO model, as ``openvino.convert_model`` makes) quantized by NNCF,
    calibrated on ``samples`` (lists of input arrays, one per image); ``float_ends(model)``
    and element-wise products stay in float."""
    import nncf

    names = [port.get_any_name() for port in model.inputs]
    dataset = nncf.Dataset(samples, lambda arrays: dict(zip(names, arrays, strict=True)))
    return nncf.quantize(model, dataset, subset_size=len(samples),
                         preset=nncf.QuantizationPreset.PERFORMANCE,
                         ignored_scope=nncf.IgnoredScope(names=float_ends(model), types=IGNORED_TYPES,
                                                         validate=False))


def weights_of(op):
    """The constant at the end of ``op``'s weight input (None where it has none: a product
    of two activations), and whether it is quantized (through a FakeQuantize, or stored as
    integers)."""
    if op.get_type_name() not in WEIGHTED_TYPES or op.get_input_size() < 2:
        return None, False
    source, quantized = op.input_value(1).get_node(), False
    while source.get_type_name() in _WEIGHT_PATH:
        kind = source.get_type_name()
        if kind in ("Multiply", "Subtract") and source.input_value(1).get_node().get_type_name() != "Constant":
            return None, False  # scaled by an activation: not a weight's dequantization
        quantized |= kind in ("FakeQuantize", "FakeConvert")
        source = source.input_value(0).get_node()
    if source.get_type_name() != "Constant":
        return None, False
    return source, quantized or source.get_element_type().is_integral()


def float_ends(model) -> list[str]:
    """Names of the weighted layers at the ends of the network: those the inputs reach with
    no other weighted layer between (the first convolution), and those that reach an output
    so (the classifier, the detection or segmentation head's output convolutions). Shape
    computations (ShapeOf) are not followed."""
    def is_weighted(op) -> bool:
        return weights_of(op)[0] is not None

    found: set[str] = set()
    for start, step in ((model.get_parameters(), lambda op: [i.get_node() for o in op.outputs()
                                                             for i in o.get_target_inputs()]),
                        (model.get_results(), lambda op: [v.get_node() for v in op.input_values()])):
        todo, seen = list(start), set()
        while todo:
            for op in step(todo.pop()):
                name = op.get_friendly_name()
                if name in seen or op.get_type_name() in ("ShapeOf", "Constant"):
                    continue
                seen.add(name)
                if is_weighted(op):
                    found.add(name)
                else:
                    todo.append(op)
    return sorted(found)


def quantized_share(model) -> tuple[int, int]:
    """(weighted layers with int8 weights, weighted layers) of a quantized model."""
    layers = [weights_of(op) for op in model.get_ordered_ops()]
    layers = [quantized for constant, quantized in layers if constant is not None]
    return sum(layers), len(layers)
