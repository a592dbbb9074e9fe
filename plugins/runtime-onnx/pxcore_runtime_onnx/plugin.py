"""The hook pxcore calls: one runtime spec; nothing imported until it is used."""

import pxcore

# Ops paddle2onnx 2.1.0 has no conversion for: converting a graph with any of them
# aborts the converter (measured one op at a time). R-CNN's graph has all four.
_P2O = "paddle2onnx 2.1.0 has no conversion for it (the converter aborts)"
UNSUPPORTED_OPS = {op: _P2O for op in ("generate_proposals", "collect_fpn_proposals",
                                       "distribute_fpn_proposals", "multiclass_nms3")}


@pxcore.hookimpl
def px_register_runtimes(registry):
    registry.add(
        name="onnxruntime",
        factory="pxcore_runtime_onnx.runtime:OnnxRuntime",
        probe="pxcore_runtime_onnx.runtime:probe",
        # Measured faster than Paddle Inference on CPU, so "auto" prefers it there.
        metadata={"devices": ["cpu", "gpu"], "priority": {"cpu": 20, "gpu": 5}, "precisions": ["fp32"],
                  "unsupported_ops": UNSUPPORTED_OPS},
        summary="paddle2onnx conversion (in a child process) and ONNX Runtime",
    )
