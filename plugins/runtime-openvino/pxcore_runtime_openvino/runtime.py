"""OpenVINO over the ONNX file pxcore-runtime-onnx converts (and caches).

A model is compiled once; each thread gets its own infer request on it (``clone``), as
an infer request must not be used by two threads at once.

Where the export runs at one input size (deploy.yml's ``input_size``), the model is
compiled for that static shape, batch 1 (the latency case ``runtime="auto"`` and
``px bench`` time): OpenVINO's CPU plugin then plans shapes and memory once instead of
on every call. Measured on 2 cores (AMD EPYC, AVX2, interleaved blocks), that ran the
mobile networks 7 to 11% faster (MobileNetV2 6.26 -> 5.62 ms, MobileNetV3_large 8.74 ->
7.85, ShuffleNetV2 5.11 -> 4.76, MobileNetV3_small 4.43 -> 3.82) and ResNet18, ResNet50
and DenseNet121 within +-3%. Any other shape (a larger batch, another size) runs on the
model compiled with its dynamic shapes, compiled on the first such call and shared too;
an export without one input size is compiled dynamic only, as before.

Precision is always set: OpenVINO's CPU plugin otherwise infers in bf16 on a CPU that
has it (AVX-512 BF16, AMX), which would silently change the results of an fp32 export.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import threading

import numpy as np

from pxcore.deploy.runtime import Runtime, RuntimeUnavailable

# pxcore's name -> INFERENCE_PRECISION_HINT. int8 is the quantized model px quantize wrote
# (its integer ops run int8 whatever the hint); the ops left in float run f32.
PRECISIONS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}
ISA_CAP = "ONEDNN_MAX_CPU_ISA"
# The oneDNN ISA names of a cap that still has bf16 instructions (AVX512_CORE_BF16,
# AVX512_CORE_AMX, AVX10_1_512..., AVX2_VNNI_2) or no cap at all (ALL, DEFAULT).
BF16_ISAS = ("BF16", "AMX", "AVX10", "AVX2_VNNI_2", "FP16", "ALL", "DEFAULT")

_core = None
_core_lock = threading.Lock()
logger = logging.getLogger("pxcore")


def probe() -> str | None:
    # Found, not imported: importing openvino loads its native libraries.
    if importlib.util.find_spec("openvino") is None:
        return "openvino is not installed; pip install pxcore-runtime-openvino"
    return None


def core():
    """One openvino.Core per process (reading and compiling through it is thread-safe),
    reading the ONNX ops its front end lacks through onnx_ops."""
    global _core
    with _core_lock:
        if _core is None:
            import openvino as ov

            from .onnx_ops import extensions

            _core = ov.Core()
            for extension in extensions():
                _core.add_extension(extension)
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


def int8_model(model_dir, info: dict):
    """The int8 OpenVINO IR ``px quantize`` wrote into the export (deploy.yml ``files.int8``)."""
    entry = info.get("files", {}).get("int8")
    if not entry:
        raise RuntimeUnavailable(f"{model_dir} has no int8 model; make one with px quantize "
                                 f"{model_dir} --calib-list LIST --save-dir DIR, or use precision='fp32'")
    if entry.get("runtime") != "openvino":
        raise RuntimeUnavailable(f"{model_dir}'s int8 model is for the {entry.get('runtime')} runtime")
    path = os.path.join(model_dir, entry["model"])
    if not os.path.isfile(path):
        raise RuntimeUnavailable(f"{model_dir}'s int8 model {entry['model']} is missing; quantize again")
    return path


_NO_RULE = re.compile(r"No conversion rule found for operations: ([^\n]+)")


def compile_error(onnx_path, log: str) -> str:
    """What to tell the user when OpenVINO cannot read or compile the ONNX file: the ONNX
    ops its front end has no conversion for, if that is why, and the runtimes that run
    them."""
    missing = _NO_RULE.search(log)
    if missing:
        return (f"OpenVINO's ONNX front end has no conversion for {missing.group(1).strip()} "
                f"(in {onnx_path}); use runtime='onnxruntime' or 'paddle'")
    return f"OpenVINO cannot compile {onnx_path}: {log.strip()[-1500:]}"


def static_shapes(info: dict) -> dict[str, tuple[int, ...]] | None:
    """{input name: shape} to compile for: batch 1 at deploy.yml's ``input_size`` (fixed
    dimensions kept), or None where the export has no one input size (the image's own
    size, R-CNN's graphs) or an input with no rule for a dynamic axis."""
    from pxcore.inference.shapes import NoShapeRule, derived_range

    if not info.get("input_size"):
        return None
    try:
        return {spec["name"]: tuple(derived_range(spec, info["input_size"])[1]) for spec in info["inputs"]}
    except (NoShapeRule, KeyError, TypeError, ValueError):
        return None


class Compiled:
    """What a runtime and its clones share: ``first``, the model compiled when the
    runtime is built (for ``static``, the input shapes, where there are some; dynamic
    otherwise), and the dynamic one that other shapes run on, compiled on first need."""

    def __init__(self, path, config: dict, shapes: dict[str, tuple[int, ...]] | None) -> None:
        self.path, self.config = path, config
        self._dynamic = None
        self._lock = threading.Lock()
        model = self._read()
        static = None  # the shapes in the model's input order
        names = [port.get_any_name() for port in model.inputs]
        if shapes is not None and sorted(names) == sorted(shapes):
            try:
                model.reshape({name: ov_shape(shapes[name]) for name in names})
                static = tuple(shapes[name] for name in names)
            except (RuntimeError, ValueError) as exc:  # a graph whose shapes cannot be fixed
                logger.info("openvino: %s keeps its dynamic shapes (%s)", path, exc)
                model = self._read()
        self.static = static
        self.first = self._compile(model)
        if static is None:
            self._dynamic = self.first

    def _read(self):
        try:
            return core().read_model(str(self.path))
        except RuntimeError as exc:  # OpenVINO's errors (an op it lacks, a bad file)
            raise RuntimeUnavailable(compile_error(self.path, str(exc))) from exc

    def _compile(self, model):
        try:
            return core().compile_model(model, "CPU", self.config)
        except RuntimeError as exc:
            raise RuntimeUnavailable(compile_error(self.path, str(exc))) from exc

    def dynamic(self):
        """The model compiled with its dynamic shapes (once, for all clones)."""
        with self._lock:
            if self._dynamic is None:
                self._dynamic = self._compile(self._read())
            return self._dynamic


def ov_shape(shape):
    import openvino as ov

    return ov.PartialShape(list(shape))


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

            self.onnx_path = (int8_model(self.model_dir, info) if precision == "int8"
                              else onnx_model(self.model_dir, info))
            _compiled = Compiled(self.onnx_path, {
                "INFERENCE_PRECISION_HINT": PRECISIONS[precision],
                "INFERENCE_NUM_THREADS": self.threads,
                "PERFORMANCE_HINT": "LATENCY",
            }, static_shapes(info))
        self._models = _compiled
        self.compiled = _compiled.first  # static where the export has one input size
        self.request = self.compiled.create_infer_request()
        self._dynamic_request = None if _compiled.static is not None else self.request
        self.input_types = [port.get_element_type().to_dtype() for port in self.compiled.inputs]

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        feed = {i: np.ascontiguousarray(array, dtype)
                for i, (array, dtype) in enumerate(zip(inputs, self.input_types, strict=True))}
        request = self.request
        if self._models.static is not None and tuple(a.shape for a in feed.values()) != self._models.static:
            if self._dynamic_request is None:
                self._dynamic_request = self._models.dynamic().create_infer_request()
            request = self._dynamic_request
        # share_inputs: the request reads the arrays in place (infer is synchronous);
        # outputs are copied out of the request's buffers, which the next call reuses.
        return list(request.infer(feed, share_inputs=True, share_outputs=False).to_tuple())

    def clone(self) -> OpenVinoRuntime:
        twin = OpenVinoRuntime(self.model_dir, self.info, device=self.device,
                               precision=self.precision, threads=self.threads,
                               _compiled=self._models)
        twin.onnx_path = getattr(self, "onnx_path", None)
        return twin
