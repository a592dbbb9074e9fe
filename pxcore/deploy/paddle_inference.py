"""The core's runtime: Paddle Inference (oneDNN on CPU; CUDA, and TensorRT in FP16,
where paddle is built with them)."""

from __future__ import annotations

import os

import numpy as np

from .runtime import Runtime, RuntimeUnavailable


def probe() -> str | None:
    try:
        import paddle.inference  # noqa: F401
    except Exception as exc:  # not installed, or a broken install
        return f"paddle cannot be imported ({exc}); pip install 'pxcore[cpu]' or paddlepaddle-gpu"
    return None


class PaddleInferenceRuntime(Runtime):
    name = "paddle"

    def __init__(self, model_dir, info, *, device="cpu", precision="fp32", threads=None,
                 _predictor=None) -> None:
        super().__init__(model_dir, info, device=device, precision=precision, threads=threads)
        if _predictor is not None:  # a clone for another thread
            self.predictor = _predictor
        else:
            self.predictor = self._create()
        self.input_names = self.predictor.get_input_names()
        self.output_names = self.predictor.get_output_names()

    def _create(self):
        import paddle
        from paddle import inference

        files = self.info["files"]
        config = inference.Config(str(self.model_dir / files["program"]),
                                  str(self.model_dir / files["params"]))
        if self.device == "gpu":
            if not paddle.device.is_compiled_with_cuda():
                raise RuntimeUnavailable("this paddle is the CPU build; install paddlepaddle-gpu for device='gpu'")
            config.enable_use_gpu(256, 0)
            if self.precision == "fp16":
                if not paddle.base.core.is_compiled_with_tensorrt():
                    raise RuntimeUnavailable("fp16 in Paddle Inference needs paddle built with TensorRT")
                config.enable_tensorrt_engine(workspace_size=1 << 30, max_batch_size=8,
                                              precision_mode=inference.PrecisionType.Half)
        else:
            if self.precision != "fp32":
                raise RuntimeUnavailable("Paddle Inference on CPU runs fp32 only")
            config.disable_gpu()
            config.enable_mkldnn()  # oneDNN: about 10x eager on CPU here
            config.set_cpu_math_library_num_threads(self.threads or os.cpu_count() or 1)
        config.disable_glog_info()
        config.switch_ir_optim(True)
        return inference.create_predictor(config)

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        for name, array in zip(self.input_names, inputs, strict=True):
            handle = self.predictor.get_input_handle(name)
            handle.reshape(array.shape)
            handle.copy_from_cpu(np.ascontiguousarray(array))
        self.predictor.run()
        return [self.predictor.get_output_handle(name).copy_to_cpu() for name in self.output_names]

    def clone(self) -> PaddleInferenceRuntime:
        # Paddle predictors are not thread-safe; a clone shares the weights.
        return PaddleInferenceRuntime(self.model_dir, self.info, device=self.device,
                                      precision=self.precision, threads=self.threads,
                                      _predictor=self.predictor.clone())
