"""ONNX Runtime over the converted model."""

from __future__ import annotations

import importlib.util

import numpy as np

from pxcore.deploy.runtime import Runtime, RuntimeUnavailable


def probe() -> str | None:
    # Found, not imported. Only ONNX Runtime is needed to run: paddle2onnx (which imports
    # paddle) converts, in its own process, and only where the export carries no ONNX file.
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed; pip install pxcore-runtime-onnx"
    return None


class OnnxRuntime(Runtime):
    name = "onnxruntime"
    thread_safe = True  # InferenceSession.run may be called from several threads

    def __init__(self, model_dir, info, *, device="cpu", precision="fp32", threads=None) -> None:
        super().__init__(model_dir, info, device=device, precision=precision, threads=threads)
        import onnxruntime as ort

        from .convert import onnx_model

        if precision != "fp32":
            way_out = ("for bf16 use runtime='openvino' (CPUs with bf16)" if precision == "bf16"
                       else "for fp16 use runtime='tensorrt'")
            raise RuntimeUnavailable(f"the onnxruntime runtime runs fp32, not {precision}; {way_out}")
        if self.device_type == "gpu":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise RuntimeUnavailable("this onnxruntime has no CUDA provider; pip install onnxruntime-gpu")
            providers = [("CUDAExecutionProvider", {"device_id": self.device_id}), "CPUExecutionProvider"]
        else:
            providers = ["CPUExecutionProvider"]
        self.onnx_path = onnx_model(self.model_dir, info)
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.log_severity_level = 3  # errors only: paddle2onnx leaves unused initializers
        self.session = ort.InferenceSession(str(self.onnx_path), options, providers=providers)
        self.input_names = [i.name for i in self.session.get_inputs()]

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        feed = {name: np.ascontiguousarray(array, np.float32)
                for name, array in zip(self.input_names, inputs, strict=True)}
        return self.session.run(None, feed)
