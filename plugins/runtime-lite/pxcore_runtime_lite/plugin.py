"""The hook pxcore calls: one runtime spec; nothing imported until it is used."""

import pxcore

# Lite reads the pre-PIR program, which Paddle 3.3 cannot write for R-CNN's graph.
_PRE_PIR = "Paddle 3.3 cannot write it in the pre-PIR format Paddle Lite reads"
UNSUPPORTED_OPS = {op: _PRE_PIR for op in ("generate_proposals", "collect_fpn_proposals",
                                           "distribute_fpn_proposals", "multiclass_nms3")}


@pxcore.hookimpl
def px_register_runtimes(registry):
    registry.add(
        name="lite",
        factory="pxcore_runtime_lite.runtime:LiteRuntime",
        probe="pxcore_runtime_lite.runtime:probe",
        # Lite is for ARM devices; on x86 servers it is slower than the others.
        metadata={"devices": ["cpu"], "priority": {"cpu": 5}, "precisions": ["fp32"],
                  "unsupported_ops": UNSUPPORTED_OPS},
        summary="Paddle Lite: opt to a .nb model, run by the light predictor",
    )
