"""Paddle Lite's light predictor over the optimized .nb model."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from pxcore.deploy.runtime import Runtime, RuntimeUnavailable

MAX_SHAPES = 8


def probe() -> str | None:
    try:
        import paddlelite.lite  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means not usable
        return ("paddlelite cannot be imported: PyPI has its wheels for Python 3.10 and older "
                "only; use a Python 3.10 environment (tox -e lite) with pxcore-runtime-lite")
    return None


class LiteRuntime(Runtime):
    name = "lite"

    def __init__(self, model_dir, info, *, device="cpu", precision="fp32", threads=None) -> None:
        super().__init__(model_dir, info, device=device, precision=precision, threads=threads)
        if self.device_type != "cpu" or precision != "fp32":
            bf16 = "; bf16 runs in runtime='openvino'" if precision == "bf16" else ""
            raise RuntimeUnavailable(f"the lite runtime runs on device='cpu' in fp32 here{bf16}")
        from .convert import lite_model

        self.nb_path = lite_model(self.model_dir, info)
        self.num_outputs = len(info["outputs"])
        # One predictor per input shape: on x86 Lite corrupts its memory when a
        # predictor's input shape changes (measured: 1x3x224x224 then 1x3x96x128).
        self._predictors: OrderedDict[tuple, object] = OrderedDict()
        self._check_bindings()

    def _check_bindings(self) -> None:
        """Lite's bindings misread numpy 2 arrays; a round trip through an input finds it."""
        shape = tuple(d if d > 0 else 32 for d in self.info["inputs"][0]["shape"])
        shape = (1, *shape[1:]) if self.info["inputs"][0]["shape"][0] <= 0 else shape
        probe_array = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) / 7
        tensor = self._predictor(shape).get_input(0)
        tensor.from_numpy(probe_array)
        if not np.array_equal(np.asarray(tensor.numpy()), probe_array):
            raise RuntimeUnavailable(
                f"paddlelite misreads arrays of numpy {np.__version__} (its bindings predate numpy "
                "2); install numpy<2 beside it (pip install 'numpy<2')")

    def _predictor(self, shape: tuple):
        from paddlelite.lite import MobileConfig, create_paddle_predictor

        predictor = self._predictors.get(shape)
        if predictor is None:
            config = MobileConfig()
            config.set_model_from_file(str(self.nb_path))
            predictor = self._predictors[shape] = create_paddle_predictor(config)
            if len(self._predictors) > MAX_SHAPES:
                self._predictors.popitem(last=False)
        self._predictors.move_to_end(shape)
        return predictor

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        (array,) = inputs
        array = np.ascontiguousarray(array, np.float32)
        predictor = self._predictor(array.shape)
        predictor.get_input(0).from_numpy(array)
        predictor.run()
        return [np.array(predictor.get_output(i).numpy()) for i in range(self.num_outputs)]
