"""A network's export path, checked without the task machinery: ``paddle.jit.to_static``
with dynamic batch and image size (outputs equal to eager at every size), saved with
``paddle.jit.save``, then run by Paddle Inference with oneDNN or by the registered
"onnxruntime" runtime (a plugin's).

    eager = save_dynamic(net, images, folder)          # folder/net.json, net.pdiparams
    check_outputs(paddle_inference_outputs(folder, images), eager, "Paddle Inference")
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

INPUT_SPEC_SHAPE = [None, 3, None, None]


def save_dynamic(net, images: list, folder: str | os.PathLike, rtol: float = 1e-4) -> list[np.ndarray]:
    """``net`` (eval mode) through to_static with dynamic shapes and ``paddle.jit.save``
    to ``folder/net``; asserts the static outputs equal the eager ones for every image
    (NCHW arrays or tensors) and returns the eager outputs."""
    import paddle

    net.eval()
    tensors = [paddle.to_tensor(np.asarray(x)) for x in images]
    with paddle.no_grad():
        eager = [net(x).numpy() for x in tensors]
    static = paddle.jit.to_static(net, input_spec=[paddle.static.InputSpec(INPUT_SPEC_SHAPE)],
                                  full_graph=True)
    with paddle.no_grad():
        check_outputs([static(x).numpy() for x in tensors], eager, "to_static", rtol)
    Path(folder).mkdir(parents=True, exist_ok=True)
    paddle.jit.save(static, str(Path(folder) / "net"))
    return eager


def paddle_inference_outputs(folder: str | os.PathLike, images: list) -> list[np.ndarray]:
    """The first output of ``folder/net`` run by Paddle Inference on CPU with oneDNN (which
    rejects ops the other runtimes take: every interpolation op Paddle 3.3 exports)."""
    from paddle import inference

    folder = Path(folder)
    config = inference.Config(str(folder / "net.json"), str(folder / "net.pdiparams"))
    config.disable_gpu()
    config.enable_mkldnn()
    config.disable_glog_info()
    predictor = inference.create_predictor(config)
    outputs = []
    for x in images:
        x = np.ascontiguousarray(np.asarray(x, np.float32))
        handle = predictor.get_input_handle(predictor.get_input_names()[0])
        handle.reshape(x.shape)
        handle.copy_from_cpu(x)
        predictor.run()
        outputs.append(predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu())
    return outputs


ONNX_RUNTIME = "onnxruntime"
ONNX_PLUGIN_INSTALL = "pip install plugins/runtime-onnx"


def onnx_runtime_outputs(folder: str | os.PathLike, images: list) -> list[np.ndarray]:
    """The first output of ``folder/net`` run on CPU by the registered "onnxruntime"
    runtime (the pxcore-runtime-onnx plugin: paddle2onnx conversion, then ONNX Runtime),
    found through the registry as ``Predictor`` finds it. Raises RuntimeUnavailable,
    saying to ``pip install plugins/runtime-onnx``, where that runtime is not registered
    or cannot run here."""
    from ..inference.runtime import RuntimeUnavailable
    from ..inference.runtime_choice import select_runtime
    from ..plugins import get_registry

    spec = get_registry().find("runtime", ONNX_RUNTIME)
    if spec is None:
        raise RuntimeUnavailable(f"no {ONNX_RUNTIME!r} runtime is registered: the "
                                 f"pxcore-runtime-onnx plugin is not installed ({ONNX_PLUGIN_INSTALL})")
    reason = spec.unavailable_reason()
    if reason is not None:
        raise RuntimeUnavailable(f"the {ONNX_RUNTIME!r} runtime cannot run here: {reason} "
                                 f"({ONNX_PLUGIN_INSTALL} installs what it needs)")
    info = {"files": {"program": "net.json", "params": "net.pdiparams"}}
    runtime = select_runtime(Path(folder), info, ONNX_RUNTIME, device="cpu")
    return [runtime.run([np.asarray(x, np.float32)])[0] for x in images]


def check_outputs(got: list[np.ndarray], expected: list[np.ndarray], what: str, rtol: float = 1e-4,
                  atol_scale: float = 1e-4) -> None:
    """Each output equal to the expected one in shape, and in value within ``rtol`` and
    an absolute tolerance of ``atol_scale`` times the largest expected magnitude."""
    assert len(got) == len(expected), f"{what}: {len(got)} outputs, expected {len(expected)}"
    for i, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert a.shape == b.shape, f"{what}: output {i} is {a.shape}, expected {b.shape}"
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol_scale * float(np.abs(b).max()),
                                   err_msg=f"{what}: output {i}")


def usable_runtimes(names, device: str = "cpu") -> tuple[str, ...]:
    """Those of ``names`` whose runtime is registered and usable here for ``device``, in
    the order given: a parity test runs an optional runtime (OpenVINO) wherever it is
    installed, with the tolerances the required ones meet."""
    from ..inference.runtime import runtime_report

    usable = {row["name"] for row in runtime_report(device) if row["usable"]}
    return tuple(name for name in names if name in usable)
