"""The TensorRT plugin. Building and running engines needs an NVIDIA GPU with TensorRT
(those tests skip elsewhere, with the reason); what does not — the ONNX it feeds
TensorRT, the optimisation profile, the engine cache keys, the errors — runs anywhere."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.deploy import RuntimeUnavailable, read_deploy_info
from pxcore.testing import pytest_plugin as kit
from pxcore.testing.numerics import assert_logits_close
from pxcore_runtime_onnx.convert import onnx_model
from pxcore_runtime_tensorrt import engine as engine_module
from pxcore_runtime_tensorrt.engine import cached_engine, engine_cache_key, load_engine
from pxcore_runtime_tensorrt.onnx_ops import TENSORRT_ONNX_OPS, onnx_ops, unsupported_ops
from pxcore_runtime_tensorrt.profile import fits, optimization_profile
from pxcore_runtime_tensorrt.runtime import TensorRTRuntime, check_device_index, numpy_dtype, probe

GPU_REASON = probe()
needs_gpu = pytest.mark.skipif(GPU_REASON is not None, reason=f"TensorRT cannot run here: {GPU_REASON}")


test_conformance = kit.conformance_test("pxcore-runtime-tensorrt")


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


def test_split_graph_inputs_follow_their_shape_rules():
    """An R-CNN export's box graph (pxcore.inference.graphs): feature maps at a stride of
    the image's range, RoIs up to a count; the nominal size from the pre-processing
    where deploy.yml has no input_size (800 short side, padded to 32: 800x1088)."""
    info = {"input_size": None, "inputs": [
        {"name": "feature0", "shape": [1, 256, -1, -1], "stride": 4},
        {"name": "rois0", "shape": [-1, 4], "max_count": 1000}],
        "transforms": {"type": "Compose", "transforms": [
            {"type": "ResizeByShort", "short_size": 800, "max_size": 1333},
            {"type": "Padding", "coarsest_stride": 32}]}}
    profile = optimization_profile(info)
    assert profile["feature0"] == ((1, 256, 8, 8), (1, 256, 200, 272), (1, 256, 400, 544))
    assert profile["rois0"] == ((1, 4), (1000, 4), (1000, 4))


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
    assert_logits_close(logits, expected, tolerance, where=precision)
    (again,) = pxcore.Predictor(out, runtime="tensorrt", device="gpu", precision=precision).run(batch)
    np.testing.assert_allclose(again, logits)  # the cached engine gives the same answers


# --- the logic around TensorRT and CUDA, with fakes standing in for them ----------------

class FakeTrt:
    """trt.nptype for the types numpy has, and a TypeError for bfloat16 (as TensorRT)."""

    __version__ = "10.0.fake"

    @staticmethod
    def nptype(dtype):
        types = {"FLOAT": np.float32, "HALF": np.float16, "INT32": np.int32, "INT64": np.int64,
                 "BOOL": np.bool_, "UINT8": np.uint8, "INT8": np.int8}
        if dtype not in types:
            raise TypeError("Could not resolve TensorRT datatype to an equivalent numpy datatype.")
        return types[dtype]


def test_tensor_dtypes_come_from_the_engine():
    assert numpy_dtype(FakeTrt, "FLOAT") == np.float32
    assert numpy_dtype(FakeTrt, "INT64") == np.int64 and numpy_dtype(FakeTrt, "HALF") == np.float16
    with pytest.raises(RuntimeUnavailable, match="type BF16, which numpy has no type for"):
        numpy_dtype(FakeTrt, "BF16")


def test_the_gpu_is_the_predictors():
    check_device_index(1, 2)
    with pytest.raises(RuntimeUnavailable, match=r"no CUDA device gpu:2 here \(2 found: gpu:0 to gpu:1\)"):
        check_device_index(2, 2)
    with pytest.raises(RuntimeUnavailable, match="gpu:0 only"):
        check_device_index(1, 1)
    with pytest.raises(RuntimeUnavailable, match="TensorRT runs on device='gpu'"):
        TensorRTRuntime("unused", {"inputs": []}, device="cpu")


class FakeCudart:
    def __init__(self):
        self.calls = []

    def cudaSetDevice(self, index):
        return (0,)

    def cudaFree(self, pointer):
        self.calls.append(("free", pointer))
        return (0,)

    def cudaStreamDestroy(self, stream):
        self.calls.append(("destroy", stream))
        return (0,)


def test_close_frees_the_buffers_and_destroys_the_stream_once():
    runtime = object.__new__(TensorRTRuntime)  # what __init__ leaves, without a GPU
    runtime.cudart = FakeCudart()
    runtime.stream = "stream-1"
    runtime.context = "context"
    runtime._buffers = {"image": (111, 64), "logits": (222, 16)}
    calls = runtime.cudart.calls
    runtime.close()
    assert sorted(calls) == [("destroy", "stream-1"), ("free", 111), ("free", 222)]
    assert runtime.context is None
    runtime.close()
    runtime.__del__()
    assert len(calls) == 3
    with pytest.raises(RuntimeUnavailable, match="was closed"):
        runtime.run([np.zeros((1, 3, 32, 32), np.float32)])
    half_built = object.__new__(TensorRTRuntime)  # __init__ failed before CUDA was set up
    half_built.__del__()


def test_a_corrupt_cached_engine_is_rebuilt_once_with_a_warning_naming_it(tmp_path, caplog):
    path = tmp_path / "k.engine"
    path.write_bytes(b"truncated")
    builds = []

    def build():
        builds.append(1)
        return b"good engine"

    def deserialize(data):  # TensorRT returns None for bytes it cannot read
        return {"engine": data} if data == b"good engine" else None

    with caplog.at_level("WARNING", logger="pxcore"):
        engine = load_engine(path, build, deserialize)
    assert engine == {"engine": b"good engine"} and builds == [1]
    assert path.read_bytes() == b"good engine" and [p.name for p in tmp_path.iterdir()] == ["k.engine"]
    (record,) = caplog.records
    assert str(path) in record.getMessage() and "building it again" in record.getMessage()
    assert load_engine(path, build, deserialize) == engine and builds == [1]  # the cache serves


def test_an_engine_that_never_deserializes_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "k.engine"
    path.write_bytes(b"corrupt")

    def deserialize(data):
        raise RuntimeError("Serialization assertion magicTagRead == kMAGIC_TAG failed")

    with pytest.raises(RuntimeUnavailable, match=rf"cannot deserialize .*magicTagRead.*{path}"):
        load_engine(path, lambda: b"also bad", deserialize)
    assert not path.exists()


def test_the_engine_cache_is_written_whole(exported, tmp_path, monkeypatch):
    _, out, info = exported
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(engine_module, "build_engine", lambda trt, *args: b"engine bytes")
    onnx_path = onnx_model(out, info)
    engine = cached_engine(FakeTrt, onnx_path, optimization_profile(info), "fp16", "GPU sm90", bytes)
    assert engine == b"engine bytes"
    folder = tmp_path / "pxcore" / "tensorrt"
    assert [p.suffix for p in folder.iterdir()] == [".engine"]
