"""The hook pxcore calls: one runtime spec; nothing imported until it is used."""

import pxcore


@pxcore.hookimpl
def px_register_runtimes(registry):
    registry.add(
        name="lite",
        factory="pxcore_runtime_lite.runtime:LiteRuntime",
        probe="pxcore_runtime_lite.runtime:probe",
        # Lite is for ARM devices; on x86 servers it is slower than the others.
        metadata={"devices": ["cpu"], "priority": {"cpu": 5}},
        summary="Paddle Lite: opt to a .nb model, run by the light predictor",
    )
