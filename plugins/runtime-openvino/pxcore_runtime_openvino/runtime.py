"""OpenVINO over the ONNX file pxcore-runtime-onnx converts (and caches).

A model is compiled once; each thread gets its own infer request on it (``clone``), as
an infer request must not be used by two threads at once.

Precision is always set: OpenVINO's CPU plugin otherwise infers in bf16 on a CPU that
has it (AVX-512 BF16, AMX), which would silently change the results of an fp32 export.
"""

from __future__ import annotations

import importlib.util
import os
import threading

import numpy as np

from pxcore.deploy.runtime import Runtime, RuntimeUnavailable

PRECISIONS = {"fp32": "f32", "bf16": "bf16"}  # pxcore's name -> INFERENCE_PRECISION_HINT
ISA_CAP = "ONEDNN_MAX_CPU_ISA"
# The oneDNN ISA names of a cap that still has bf16 instructions (AVX512_CORE_BF16,
# AVX512_CORE_AMX, AVX10_1_512..., AVX2_VNNI_2) or no cap at all (ALL, DEFAULT).
BF16_ISAS = ("BF16", "AMX", "AVX10", "AVX2_VNNI_2", "FP16", "ALL", "DEFAULT")

_core = None
_core_lock = threading.Lock()


def probe() -> str | None:
    # Found, not imported: importing openvino loads its native libraries.
    if importlib.util.find_spec("openvino") is None:
        return "openvino is not installed; pip install pxcore-runtime-openvino"
    return None


def core():
    """One openvino.Core per process (reading and compiling through it is thread-safe)."""
    global _core
    with _core_lock:
        if _core is None:
            import openvino as ov

            _core = ov.Core()
        return _core


def cpu_capabilities() -> list[str]:
    """What OpenVINO's CPU plugin reports this CPU can do: "FP32", "BF16", "INT8", ..."""
    return list(core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def check_precision(precision: str) -> None:
    """Refuse a precision OpenVINO cannot run here, saying why and what to use."""
    if precision not in PRECISIONS:
        raise RuntimeUnavailable(f"the openvino runtime runs {' and '.join(PRECISIONS)} on CPU, not "
                                 f"{precision}; for fp16 use runtime='tensorrt' on a GPU")
    if precision == "bf16":
        capabilities = cpu_capabilities()
        if "BF16" not in capabilities:
            raise RuntimeUnavailable(
                "this CPU has no bf16 support (OpenVINO's CPU plugin reports "
                f"{', '.join(capabilities) or 'nothing'}, no BF16: it needs AVX-512 BF16 or AMX); "
                "use precision='fp32'")
        isa = os.environ.get(ISA_CAP, "").strip().upper()
        if isa and not any(part in isa for part in BF16_ISAS):
            # OpenVINO's CPU plugin obeys the cap but still reports BF16; compiling or
            # running then fails deep inside ("Supported primitive descriptors list is empty").
            raise RuntimeUnavailable(f"{ISA_CAP}={isa} caps oneDNN (which OpenVINO's CPU plugin uses) "
                                     "below the instructions bf16 needs; unset it or use "
                                     "precision='fp32'")


class OpenVinoRuntime(Runtime):
    name = "openvino"
    thread_safe = False  # an infer request serves one thread: clone() makes one per thread

    def __init__(self, model_dir, info, *, device="cpu", precision="fp32", threads=None,
                 _compiled=None) -> None:
        super().__init__(model_dir, info, device=device, precision=precision, threads=threads)
        if self.device_type != "cpu":
            raise RuntimeUnavailable("the openvino runtime runs on device='cpu'; on a GPU use "
                                     "runtime='tensorrt', 'onnxruntime' or 'paddle'")
        if _compiled is None:
            check_precision(precision)
            from pxcore_runtime_onnx.convert import onnx_model

            self.onnx_path = onnx_model(self.model_dir, info)
            try:
                model = core().read_model(str(self.onnx_path))
                _compiled = core().compile_model(model, "CPU", {
                    "INFERENCE_PRECISION_HINT": PRECISIONS[precision],
                    "INFERENCE_NUM_THREADS": self.threads,
                    "PERFORMANCE_HINT": "LATENCY",
                })
            except RuntimeError as exc:  # OpenVINO's errors (an op it lacks, a bad file)
                raise RuntimeUnavailable(f"OpenVINO cannot compile {self.onnx_path}: "
                                         f"{str(exc).strip()[-1500:]}") from exc
        self.compiled = _compiled
        self.request = _compiled.create_infer_request()
        self.input_types = [port.get_element_type().to_dtype() for port in _compiled.inputs]

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        feed = {i: np.ascontiguousarray(array, dtype)
                for i, (array, dtype) in enumerate(zip(inputs, self.input_types, strict=True))}
        # share_inputs: the request reads the arrays in place (infer is synchronous);
        # outputs are copied out of the request's buffers, which the next call reuses.
        return list(self.request.infer(feed, share_inputs=True, share_outputs=False).to_tuple())

    def clone(self) -> OpenVinoRuntime:
        twin = OpenVinoRuntime(self.model_dir, self.info, device=self.device,
                               precision=self.precision, threads=self.threads,
                               _compiled=self.compiled)
        twin.onnx_path = getattr(self, "onnx_path", None)
        return twin
