"""The hook pxcore calls: one runtime spec; nothing imported until it is used."""

import pxcore

# It runs pxcore-runtime-onnx's conversion, so it inherits the converter's gaps (named
# here so that listing runtimes imports neither plugin's runtime code).
_P2O = "paddle2onnx 2.1.0 has no conversion for it (OpenVINO runs the ONNX)"
UNSUPPORTED_OPS = {op: _P2O for op in ("generate_proposals", "collect_fpn_proposals",
                                       "distribute_fpn_proposals", "multiclass_nms3")}


@pxcore.hookimpl
def px_register_runtimes(registry):
    registry.add(
        name="openvino",
        factory="pxcore_runtime_openvino.runtime:OpenVinoRuntime",
        probe="pxcore_runtime_openvino.runtime:probe",
        # Below ONNX Runtime: faster on the big convolutional nets at fp32, slower on
        # MobileNetV3 and slower to compile, so it wins "auto" only by measurement.
        metadata={"devices": ["cpu"], "priority": {"cpu": 15}, "precisions": ["fp32", "bf16", "int8"],
                  # px quantize: NNCF's post-training int8 (the [quantize] extra installs it)
                  "quantizer": "pxcore_runtime_openvino.quantize:quantize",
                  "unsupported_ops": UNSUPPORTED_OPS},
        summary="OpenVINO on CPU over the ONNX conversion; fp32, or bf16 where the CPU has it",
    )
