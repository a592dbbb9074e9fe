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


def numpy_dtype(trt, dtype) -> np.dtype:
    """The numpy dtype of a TensorRT tensor type, or an error naming a type numpy lacks
    (bfloat16, FP8, INT4)."""
    try:
        return np.dtype(trt.nptype(dtype))
    except Exception as exc:  # noqa: BLE001 - trt.nptype raises TypeError, KeyError, ...
        raise RuntimeUnavailable(f"the TensorRT engine has a tensor of type {dtype}, which numpy has "
                                 f"no type for ({exc})") from exc


def check_device_index(index: int, count: int) -> None:
    if not 0 <= index < count:
        have = f"gpu:0 to gpu:{count - 1}" if count > 1 else "gpu:0 only" if count == 1 else "none"
        raise RuntimeUnavailable(f"there is no CUDA device gpu:{index} here ({count} found: {have})")


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
        if self.device_type != "gpu":
            raise RuntimeUnavailable("TensorRT runs on device='gpu' (or 'gpu:N') only")
        if precision not in ("fp32", "fp16"):
            raise RuntimeUnavailable(f"the tensorrt runtime builds fp32 and fp16 engines, not {precision}; "
                                     "bf16 runs in runtime='openvino' (CPUs with bf16)")
        reason = probe()
        if reason is not None:
            raise RuntimeUnavailable(reason)
        import tensorrt as trt

        from pxcore_runtime_onnx.convert import onnx_model

        from .engine import cached_engine

        self.trt = trt
        self.cudart = _cudart()
        check_device_index(self.device_id, _check(self.cudart.cudaGetDeviceCount()))
        _check(self.cudart.cudaSetDevice(self.device_id))  # engines and buffers live on it
        self.max_batch = max_batch
        self.profile = optimization_profile(info, max_batch=max_batch)
        if _engine is None:
            onnx_path = onnx_model(self.model_dir, info)
            missing = unsupported_ops(onnx_path)
            if missing:
                raise RuntimeUnavailable(f"TensorRT's ONNX parser has no {', '.join(missing)}; "
                                         "use runtime='paddle' or 'onnxruntime'")
            props = _check(self.cudart.cudaGetDeviceProperties(self.device_id))
            gpu = f"{props.name.decode(errors='replace').strip(chr(0))} sm{props.major}{props.minor}"
            deserializer = trt.Runtime(trt.Logger(trt.Logger.WARNING))
            _engine = cached_engine(trt, onnx_path, self.profile, precision, gpu,
                                    deserializer.deserialize_cuda_engine)
            self._deserializer = deserializer  # the runtime must outlive its engines
        self.engine = _engine
        self.context = self.engine.create_execution_context()
        self.stream = _check(self.cudart.cudaStreamCreate())
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = trt.TensorIOMode.INPUT
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == mode]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) != mode]
        # Outputs are not all float32 (an argmax map, class ids); nor are inputs always.
        self.dtypes = {n: numpy_dtype(trt, self.engine.get_tensor_dtype(n)) for n in names}
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
        if self.context is None:
            raise RuntimeUnavailable("this TensorRT runtime was closed")
        cudart = self.cudart
        _check(cudart.cudaSetDevice(self.device_id))  # the current device is per thread
        h2d = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        d2h = cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        for name, array in zip(self.inputs, inputs, strict=True):
            array = np.ascontiguousarray(array, self.dtypes[name])
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
            out = np.empty(shape, self.dtypes[name])
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
        twin = TensorRTRuntime(self.model_dir, self.info, device=self.device, precision=self.precision,
                               threads=self.threads, max_batch=self.max_batch, _engine=self.engine)
        twin._deserializer = getattr(self, "_deserializer", None)
        return twin

    def close(self) -> None:
        """Free the device buffers and destroy the CUDA stream; safe to call twice, and
        on an instance whose construction failed half way."""
        cudart = getattr(self, "cudart", None)
        buffers, self._buffers = getattr(self, "_buffers", {}), {}
        stream, self.stream = getattr(self, "stream", None), None
        self.context = None  # before the engine, which clones may still share
        if cudart is None:
            return
        try:
            cudart.cudaSetDevice(getattr(self, "device_id", 0))  # close() may run in another thread
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
        for pointer, _ in buffers.values():
            try:
                cudart.cudaFree(pointer)
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass
        if stream is not None:
            try:
                cudart.cudaStreamDestroy(stream)
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass

    def __del__(self):
        self.close()
