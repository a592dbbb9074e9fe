"""The hook pxcore calls: one runtime spec; nothing imported until it is used."""

import pxcore


@pxcore.hookimpl
def px_register_runtimes(registry):
    registry.add(
        name="onnxruntime",
        factory="pxcore_runtime_onnx.runtime:OnnxRuntime",
        probe="pxcore_runtime_onnx.runtime:probe",
        # Measured faster than Paddle Inference on CPU, so "auto" prefers it there.
        metadata={"devices": ["cpu", "gpu"], "priority": {"cpu": 20, "gpu": 5}},
        summary="paddle2onnx conversion (in a child process) and ONNX Runtime",
    )
