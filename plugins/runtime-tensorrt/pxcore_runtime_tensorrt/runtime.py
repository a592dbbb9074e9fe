"""TensorRT execution: device buffers through CUDA's runtime bindings (cuda-python)."""

from __future__ import annotations

import numpy as np

from pxcore.deploy.runtime import Runtime, RuntimeUnavailable

from .onnx_ops import unsupported_ops
from .profile import fits, optimization_profile

INSTALL = "pip install 'pxcore-runtime-tensorrt[gpu]' on a machine with an NVIDIA GPU and driver"


def _cudart():
    try:
        from cuda.bindings import runtime as cudart  # cuda-python 12.6+
    except ImportError:
        from cuda import cudart  # older cuda-python
    return cudart


def _check(result):
    """cuda-python returns (error, values...); raise on an error."""
    error, *values = result if isinstance(result, tuple) else (result,)
    if int(error) != 0:
        raise RuntimeUnavailable(f"CUDA error {error}")
    return values[0] if len(values) == 1 else values


def probe() -> str | None:
    try:
        import tensorrt  # noqa: F401
    except Exception:  # noqa: BLE001
        return f"tensorrt cannot be imported; {INSTALL}"
    try:
        cudart = _cudart()
    except Exception:  # noqa: BLE001
        return f"cuda-python cannot be imported; {INSTALL}"
    try:
        count = _check(cudart.cudaGetDeviceCount())
    except Exception as exc:  # noqa: BLE001 - no driver, say
        return f"no usable CUDA device ({exc})"
    return None if count > 0 else "no CUDA device found"


class TensorRTRuntime(Runtime):
    name = "tensorrt"

    def __init__(self, model_dir, info, *, device="gpu", precision="fp32", threads=None,
                 max_batch: int = 8, _engine=None) -> None:
        super().__init__(model_dir, info, device=device, precision=precision, threads=threads)
        if device != "gpu":
            raise RuntimeUnavailable("TensorRT runs on device='gpu' only")
        reason = probe()
        if reason is not None:
            raise RuntimeUnavailable(reason)
        import tensorrt as trt

        from pxcore_runtime_onnx.convert import onnx_model

        from .engine import cached_engine

        self.trt = trt
        self.cudart = _cudart()
        self.max_batch = max_batch
        self.profile = optimization_profile(info, max_batch=max_batch)
        if _engine is None:
            onnx_path = onnx_model(self.model_dir, info)
            missing = unsupported_ops(onnx_path)
            if missing:
                raise RuntimeUnavailable(f"TensorRT's ONNX parser has no {', '.join(missing)}; "
                                         "use runtime='paddle' or 'onnxruntime'")
            props = _check(self.cudart.cudaGetDeviceProperties(0))
            gpu = f"{props.name.decode(errors='replace').strip(chr(0))} sm{props.major}{props.minor}"
            data = cached_engine(trt, onnx_path, self.profile, precision, gpu)
            _engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(data)
        self.engine = _engine
        self.context = self.engine.create_execution_context()
        self.stream = _check(self.cudart.cudaStreamCreate())
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = trt.TensorIOMode.INPUT
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == mode]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) != mode]
        self._buffers: dict[str, tuple[int, int]] = {}  # name -> (pointer, bytes)

    def _buffer(self, name: str, nbytes: int) -> int:
        pointer, size = self._buffers.get(name, (0, 0))
        if size < nbytes:
            if pointer:
                _check(self.cudart.cudaFree(pointer))
            pointer = _check(self.cudart.cudaMalloc(nbytes))
            self._buffers[name] = (pointer, nbytes)
        return pointer

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        cudart = self.cudart
        h2d = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        d2h = cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        for name, array in zip(self.inputs, inputs, strict=True):
            array = np.ascontiguousarray(array, np.float32)
            if not fits(self.profile, name, array.shape):
                low, _, high = self.profile[name]
                raise RuntimeUnavailable(f"input {name} of shape {array.shape} is outside the engine's "
                                         f"profile {low}..{high}")
            self.context.set_input_shape(name, array.shape)
            pointer = self._buffer(name, array.nbytes)
            _check(cudart.cudaMemcpyAsync(pointer, array.ctypes.data, array.nbytes, h2d, self.stream))
            self.context.set_tensor_address(name, pointer)
        results = []
        for name in self.outputs:
            shape = tuple(self.context.get_tensor_shape(name))
            out = np.empty(shape, np.float32)
            self.context.set_tensor_address(name, self._buffer(name, out.nbytes))
            results.append(out)
        if not self.context.execute_async_v3(self.stream):
            raise RuntimeUnavailable("TensorRT failed to run the engine")
        for name, out in zip(self.outputs, results, strict=True):
            _check(cudart.cudaMemcpyAsync(out.ctypes.data, self._buffers[name][0], out.nbytes, d2h,
                                          self.stream))
        _check(cudart.cudaStreamSynchronize(self.stream))
        return results

    def clone(self) -> TensorRTRuntime:
        # One engine, an execution context and buffers per thread.
        return TensorRTRuntime(self.model_dir, self.info, device=self.device, precision=self.precision,
                               threads=self.threads, max_batch=self.max_batch, _engine=self.engine)

    def __del__(self):
        for pointer, _ in getattr(self, "_buffers", {}).values():
            try:
                self.cudart.cudaFree(pointer)
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass
