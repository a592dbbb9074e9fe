"""The TensorRT plugin. Building and running engines needs an NVIDIA GPU with TensorRT
(those tests skip elsewhere, with the reason); what does not — the ONNX it feeds
TensorRT, the optimisation profile, the engine cache keys, the errors — runs anywhere."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.deploy import RuntimeUnavailable, read_deploy_info
from pxcore.testing import check_spec, conformance_params
from pxcore_runtime_onnx.convert import onnx_model
from pxcore_runtime_tensorrt.engine import engine_cache_key
from pxcore_runtime_tensorrt.onnx_ops import TENSORRT_ONNX_OPS, onnx_ops, unsupported_ops
from pxcore_runtime_tensorrt.profile import fits, optimization_profile
from pxcore_runtime_tensorrt.runtime import probe

GPU_REASON = probe()
needs_gpu = pytest.mark.skipif(GPU_REASON is not None, reason=f"TensorRT cannot run here: {GPU_REASON}")


@pytest.mark.parametrize("spec", conformance_params("pxcore-runtime-tensorrt"))
def test_conformance(spec):
    check_spec(spec)


@pytest.fixture(scope="module", params=["MobileNetV3_large", "ResNet50_vd"])
def exported(request, tmp_path_factory):
    paddle.seed(0)
    model = pxcore.create_model(request.param, num_classes=4)
    out = model.export(tmp_path_factory.mktemp("trt") / request.param)
    return model, out, read_deploy_info(out)


def test_the_onnx_it_feeds_tensorrt(exported):
    import onnx

    _, out, info = exported
    path = onnx_model(out, info)
    assert unsupported_ops(path) == [], f"TensorRT cannot parse {unsupported_ops(path)}"
    assert {"Conv", "GlobalAveragePool"} <= onnx_ops(path) <= TENSORRT_ONNX_OPS
    graph = onnx.load(str(path)).graph
    (image,) = graph.input
    dims = image.type.tensor_type.shape.dim
    assert [d.dim_value for d in dims][1] == 3
    assert all(d.dim_param for i, d in enumerate(dims) if i != 1), "batch, height, width stay dynamic"
    assert len(graph.output) == 1


def test_the_profile_follows_the_export(exported, tmp_path):
    model, _, info = exported
    profile = optimization_profile(info, max_batch=4)
    assert profile == {"image": ((1, 3, 32, 32), (1, 3, 224, 224), (4, 3, 448, 448))}
    assert fits(profile, "image", (2, 3, 224, 300)) and not fits(profile, "image", (5, 3, 224, 224))
    fixed = read_deploy_info(model.export(tmp_path / "fixed", fixed_input_shape=[320, 240], batch_size=2))
    assert optimization_profile(fixed)["image"] == ((2, 3, 240, 320),) * 3


def test_engine_cache_keys_change_with_everything_an_engine_depends_on(exported):
    _, out, info = exported
    path = onnx_model(out, info)
    profile = optimization_profile(info)
    base = dict(trt_version="10.3.0", device="NVIDIA H100 sm90", precision="fp32", profile=profile)
    key = engine_cache_key(path, **base)
    assert key == engine_cache_key(path, **base)
    for change in ({"trt_version": "10.4.0"}, {"device": "Tesla T4 sm75"}, {"precision": "fp16"},
                   {"profile": optimization_profile(info, max_batch=16)}):
        assert engine_cache_key(path, **{**base, **change}) != key


@pytest.mark.skipif(GPU_REASON is None, reason="TensorRT is usable here")
def test_without_tensorrt_the_error_says_what_to_install(exported):
    _, out, _ = exported
    assert "pxcore-runtime-tensorrt[gpu]" in GPU_REASON or "CUDA" in GPU_REASON
    with pytest.raises(RuntimeUnavailable, match="cannot run here"):
        pxcore.Predictor(out, runtime="tensorrt", device="gpu")
    report = {r["name"]: r for r in pxcore.deploy.runtime_report("gpu")}
    assert report["tensorrt"]["usable"] is False and report["tensorrt"]["reason"] == GPU_REASON


@needs_gpu
@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-3), ("fp16", 3e-2)])
def test_parity_on_the_gpu(exported, precision, tolerance):
    model, out, _ = exported
    batch = np.random.default_rng(0).random((2, 3, 224, 224), dtype=np.float32)
    model.net.eval()
    with paddle.no_grad():
        expected = model(paddle.to_tensor(batch)).numpy()
    predictor = pxcore.Predictor(out, runtime="tensorrt", device="gpu", precision=precision)
    (logits,) = predictor.run(batch)
    np.testing.assert_array_equal(logits.argmax(1), expected.argmax(1))
    assert np.abs(logits - expected).max() <= tolerance * np.abs(expected).max()
    (again,) = pxcore.Predictor(out, runtime="tensorrt", device="gpu", precision=precision).run(batch)
    np.testing.assert_allclose(again, logits)  # the cached engine gives the same answers
