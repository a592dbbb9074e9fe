"""int8 by NNCF's post-training quantization, OpenVINO's own route (``px quantize``).

The export's ONNX conversion is read by OpenVINO, calibrated by NNCF on the network
inputs pxcore hands over (the model's own pre-processing of the user's images), and
saved as OpenVINO IR beside the export: ``openvino/model-int8.xml`` and ``.bin``. The
weights stay in fp32 in the IR file (no fp16 compression) so that only quantization
changes the results.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

from pxcore.errors import PxError

from .runtime import core

INT8_MODEL = "openvino/model-int8.xml"
METHOD = ("NNCF post-training quantization (symmetric int8 weights per channel, "
          "activations per tensor, fast bias correction; element-wise products kept in float)")
# Element-wise products stay float: hard-swish (x * hardsigmoid(x)) and squeeze-excitation
# scaling quantized per tensor wrecked MobileNetV3_small on the digits (top-1 0.10 against
# fp32's 0.955; 0.961 with them ignored, bench/precision_accuracy.py); convolutions and
# matrix products, where int8 pays, are still quantized.
IGNORED_TYPES = ["Multiply"]


def quantize(model_dir: Path, info: dict[str, Any], samples: list, save_dir: Path) -> dict[str, Any]:
    """The quantizer pxcore.deploy.quantize calls: writes ``INT8_MODEL`` under ``save_dir``."""
    if importlib.util.find_spec("nncf") is None:
        raise PxError("quantizing needs NNCF: pip install 'pxcore-runtime-openvino[quantize]'")
    import openvino as ov

    from pxcore_runtime_onnx.convert import onnx_model

    logging.getLogger("nncf").setLevel(logging.WARNING)  # per-step progress otherwise
    quantized = quantize_model(core().read_model(str(onnx_model(model_dir, info))), samples)
    target = Path(save_dir) / INT8_MODEL
    target.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(target), compress_to_fp16=False)
    return {"model": INT8_MODEL, "weights": INT8_MODEL.replace(".xml", ".bin"), "method": METHOD}


def quantize_model(model, samples: list):
    """``model`` (an OpenVINO model) quantized by NNCF, calibrated on ``samples`` (lists of
    input arrays, one per image)."""
    import nncf

    names = [port.get_any_name() for port in model.inputs]
    dataset = nncf.Dataset(samples, lambda arrays: dict(zip(names, arrays, strict=True)))
    return nncf.quantize(model, dataset, subset_size=len(samples),
                         preset=nncf.QuantizationPreset.PERFORMANCE,
                         ignored_scope=nncf.IgnoredScope(types=IGNORED_TYPES, validate=False))
