"""The hook pxcore calls: one runtime spec; nothing imported until it is used."""

import pxcore


@pxcore.hookimpl
def px_register_runtimes(registry):
    registry.add(
        name="tensorrt",
        factory="pxcore_runtime_tensorrt.runtime:TensorRTRuntime",
        probe="pxcore_runtime_tensorrt.runtime:probe",
        metadata={"devices": ["gpu"], "priority": {"gpu": 30}, "precisions": ["fp32", "fp16"]},
        summary="TensorRT engines (FP32/FP16, dynamic shapes) built from the ONNX, cached on disk",
    )
