"""The hook pxcore calls: one runtime spec; nothing imported until it is used."""

import pxcore

# The ONNX conversion's gaps (see pxcore-runtime-onnx), named here so that listing
# runtimes imports neither plugin's runtime code.
_P2O = "paddle2onnx 2.1.0 has no conversion for it (TensorRT builds from the ONNX)"
UNSUPPORTED_OPS = {op: _P2O for op in ("generate_proposals", "collect_fpn_proposals",
                                       "distribute_fpn_proposals", "multiclass_nms3")}


@pxcore.hookimpl
def px_register_runtimes(registry):
    registry.add(
        name="tensorrt",
        factory="pxcore_runtime_tensorrt.runtime:TensorRTRuntime",
        probe="pxcore_runtime_tensorrt.runtime:probe",
        # It builds its engines from the ONNX conversion, so it inherits its gaps.
        metadata={"devices": ["gpu"], "priority": {"gpu": 30}, "precisions": ["fp32", "fp16"],
                  "unsupported_ops": UNSUPPORTED_OPS},
        summary="TensorRT engines (FP32/FP16, dynamic shapes) built from the ONNX, cached on disk",
    )
