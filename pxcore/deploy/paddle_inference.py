"""The core's runtime: Paddle Inference (oneDNN on CPU; CUDA, and TensorRT in FP16,
where paddle is built with them)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..inference.runtime import Runtime, RuntimeUnavailable
from ..inference.shapes import NoShapeRule, derived_range, nominal_input_size

TRT_WORKSPACE_BYTES = 1 << 30
TRT_MAX_BATCH = 8


def trt_shape_ranges(info: dict[str, Any], trt_shape_range: dict[str, Any] | None = None,
                     max_batch: int = TRT_MAX_BATCH) -> dict[str, dict[str, list[int]]]:
    """{"min"|"opt"|"max": {input name: shape}}: the dynamic-shape ranges Paddle-TensorRT
    needs (it cannot build engines for dynamic inputs without them).

    ``trt_shape_range`` gives them: ``{"min": [1, 3, 224, 224], "opt": ..., "max": ...}``
    for the first input, or ``{"min": {name: shape, ...}, ...}``. Otherwise they follow
    deploy.yml, by the rule the TensorRT runtime uses too (``shapes.derived_range``,
    around ``shapes.nominal_input_size``). With neither, a RuntimeUnavailable says how
    to give them."""
    names = [spec["name"] for spec in info["inputs"]]
    ranges: dict[str, dict[str, list[int]]] = {"min": {}, "opt": {}, "max": {}}
    if trt_shape_range is not None:
        if set(trt_shape_range) != set(ranges):
            raise RuntimeUnavailable(f"trt_shape_range needs the keys min, opt and max, got "
                                     f"{sorted(trt_shape_range)}")
        for key, shapes in trt_shape_range.items():
            given = shapes if isinstance(shapes, dict) else {names[0]: shapes}
            unknown = sorted(set(given) - set(names))
            if unknown:
                raise RuntimeUnavailable(f"trt_shape_range names {', '.join(unknown)}; the model's "
                                         f"inputs are {', '.join(names)}")
            ranges[key] = {name: [int(d) for d in shape] for name, shape in given.items()}
    # deploy.yml's input_size, else what its pre-processing makes of a photo (R-CNN's graphs)
    nominal = nominal_input_size(info) if info.get("input_size") or info.get("transforms") else None
    for spec in info["inputs"]:
        name, shape = spec["name"], list(spec["shape"])
        if all(name in ranges[key] for key in ranges):
            low, best, high = (ranges[key][name] for key in ("min", "opt", "max"))
            ok = len(low) == len(best) == len(high) == len(shape) and all(
                lo <= b <= hi and (d == -1 or lo == b == hi == d)
                for lo, b, hi, d in zip(low, best, high, shape, strict=True))
            if not ok:
                raise RuntimeUnavailable(
                    f"trt_shape_range for input {name!r} (min {low}, opt {best}, max {high}) does "
                    f"not fit its shape {shape} in deploy.yml: min <= opt <= max, fixed dimensions "
                    "as exported")
            continue
        try:
            low, best, high = derived_range(spec, nominal, max_batch=max_batch)
        except NoShapeRule:
            raise RuntimeUnavailable(
                f"Paddle-TensorRT needs shape ranges for input {name!r} of shape {shape}, and "
                "deploy.yml gives no input_size to derive them from: pass "
                "runtime_options={'trt_shape_range': {'min': [1, 3, H, W], 'opt': [...], "
                "'max': [...]}}, or export with fixed_input_shape=[W, H]") from None
        ranges["min"][name], ranges["opt"][name], ranges["max"][name] = low, best, high
    return ranges


def configure_gpu(config, info: dict[str, Any], *, device_id: int, precision: str, precision_types,
                  trt_shape_range: dict[str, Any] | None = None) -> None:
    """Set up a Paddle Inference ``config`` for the GPU ``device_id``, with TensorRT and
    its dynamic-shape ranges in fp16. ``precision_types``: ``paddle.inference.PrecisionType``
    (passed in, so that a test can give a fake config and check the calls)."""
    config.enable_use_gpu(256, device_id)
    if precision == "fp16":
        ranges = trt_shape_ranges(info, trt_shape_range, max_batch=TRT_MAX_BATCH)
        config.enable_tensorrt_engine(workspace_size=TRT_WORKSPACE_BYTES, max_batch_size=TRT_MAX_BATCH,
                                      precision_mode=precision_types.Half, use_calib_mode=False)
        # Paddle's order: min, max, opt.
        config.set_trt_dynamic_shape_info(ranges["min"], ranges["max"], ranges["opt"])


def probe() -> str | None:
    try:
        import paddle.inference  # noqa: F401
    except Exception as exc:  # not installed, or a broken install
        return f"paddle cannot be imported ({exc}); pip install 'pxcore[cpu]' or paddlepaddle-gpu"
    return None


class PaddleInferenceRuntime(Runtime):
    name = "paddle"

    def __init__(self, model_dir, info, *, device="cpu", precision="fp32", threads=None,
                 trt_shape_range=None, _predictor=None) -> None:
        super().__init__(model_dir, info, device=device, precision=precision, threads=threads)
        self.trt_shape_range = trt_shape_range
        if _predictor is not None:  # a clone for another thread
            self.predictor = _predictor
        else:
            self.predictor = self._create()
        self.input_names = self.predictor.get_input_names()
        self.output_names = self.predictor.get_output_names()

    def _create(self):
        import paddle
        from paddle import inference

        if self.precision == "bf16":
            raise RuntimeUnavailable("Paddle Inference runs fp32 here (fp16 through Paddle-TensorRT on a "
                                     "GPU), not bf16; bf16 runs in runtime='openvino' (CPUs with bf16)")
        files = self.info["files"]
        config = inference.Config(str(self.model_dir / files["program"]),
                                  str(self.model_dir / files["params"]))
        if self.device_type == "gpu":
            if not paddle.device.is_compiled_with_cuda():
                raise RuntimeUnavailable("this paddle is the CPU build; install paddlepaddle-gpu for device='gpu'")
            if self.precision == "fp16" and not paddle.base.core.is_compiled_with_tensorrt():
                raise RuntimeUnavailable("fp16 in Paddle Inference needs paddle built with TensorRT")
            configure_gpu(config, self.info, device_id=self.device_id, precision=self.precision,
                          precision_types=inference.PrecisionType, trt_shape_range=self.trt_shape_range)
        else:
            if self.precision != "fp32":
                raise RuntimeUnavailable("Paddle Inference on CPU runs fp32 only")
            config.disable_gpu()
            config.enable_mkldnn()  # oneDNN: about 10x eager on CPU here
            config.set_cpu_math_library_num_threads(self.threads)
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
                                      trt_shape_range=self.trt_shape_range,
                                      _predictor=self.predictor.clone())
