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
          "activations per tensor, fast bias correction)")


def quantize(model_dir: Path, info: dict[str, Any], samples: list, save_dir: Path) -> dict[str, Any]:
    """The quantizer pxcore.deploy.quantize calls: writes ``INT8_MODEL`` under ``save_dir``."""
    if importlib.util.find_spec("nncf") is None:
        raise PxError("quantizing needs NNCF: pip install 'pxcore-runtime-openvino[quantize]'")
    import nncf
    import openvino as ov

    from pxcore_runtime_onnx.convert import onnx_model

    logging.getLogger("nncf").setLevel(logging.WARNING)  # per-step progress otherwise
    model = core().read_model(str(onnx_model(model_dir, info)))
    names = [port.get_any_name() for port in model.inputs]
    dataset = nncf.Dataset(samples, lambda arrays: dict(zip(names, arrays, strict=True)))
    quantized = nncf.quantize(model, dataset, subset_size=len(samples),
                              preset=nncf.QuantizationPreset.PERFORMANCE)
    target = Path(save_dir) / INT8_MODEL
    target.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(target), compress_to_fp16=False)
    return {"model": INT8_MODEL, "weights": INT8_MODEL.replace(".xml", ".bin"), "method": METHOD}
