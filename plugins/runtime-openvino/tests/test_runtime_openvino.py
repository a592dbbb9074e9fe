"""The OpenVINO plugin: the ONNX plugin's conversion run by OpenVINO on CPU; fp32 unless
told, threads as asked, bf16 where the CPU has it and refused with the reason where not."""

from __future__ import annotations

import numpy as np
import openvino as ov
import paddle
import pytest

import pxcore
from pxcore.deploy import RuntimeUnavailable
from pxcore.testing import pytest_plugin as kit
from pxcore.testing.numerics import assert_logits_close
from pxcore_runtime_onnx import convert as conversion
from pxcore_runtime_openvino import runtime as ov_runtime

# OpenVINO fp32 against eager Paddle on MobileNetV3_small: measured 1.2e-6 of the
# largest logit (other kernels, other summation order). 1e-4, the bound for deep nets
# across runtimes (pxcore.testing.numerics), is far below what bf16 gives (2e-3 and
# more, below): a runtime silently in bf16 fails it.
FP32_RTOL = 1e-4

# bf16 keeps 8 significant bits (unit roundoff 2**-8, about 3.9e-3): OpenVINO rounds each
# convolution's and matmul's inputs and weights to it and accumulates in fp32, so each
# such layer moves its output by up to about 4e-3 relatively, and the errors of tens of
# layers add up, partly cancelling. Measured (max |bf16 - fp32| over the largest fp32
# logit): ResNet18 2.2e-3 trained on the digits (top-1 on the 179 test images the same),
# 2.4e-3 to 4.9e-3 untrained at 96 and 224 px; MobileNetV3_small 1.4e-2 trained on the
# digits (2 of 179 top-1 flips, the same accuracy), 6.4e-3 to 1.1e-2 untrained;
# MobileNetV3_large up to 1.9e-2 and ResNet50 up to 1.1e-2 untrained. 3e-2 bounds them
# all with a margin of 1.5x over the worst; top-1 must agree except where fp32's top two
# are closer than that.
BF16_RTOL = 3e-2


test_conformance = kit.conformance_test("pxcore-runtime-openvino")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    paddle.seed(0)
    model = pxcore.create_model("MobileNetV3_small", num_classes=5)
    return model, model.export(tmp_path_factory.mktemp("openvino") / "inference")


def _python(model, batch):
    model.net.eval()
    with paddle.no_grad():
        return model(paddle.to_tensor(batch)).numpy()


@pytest.mark.parity
def test_fp32_by_default_at_any_batch_and_image_size(exported):
    model, out = exported
    predictor = pxcore.Predictor(out, runtime="openvino", threads=2)
    # Set explicitly, not left to OpenVINO: on a CPU with bf16 its default is bf16.
    assert predictor._runtime.compiled.get_property("INFERENCE_PRECISION_HINT") == ov.Type.f32
    rng = np.random.default_rng(1)
    for shape in ((3, 3, 64, 80), (1, 3, 32, 48), (2, 3, 96, 96), (3, 3, 64, 80)):
        batch = rng.random(shape, dtype=np.float32)
        (logits,) = predictor.run(batch)
        assert_logits_close(logits, _python(model, batch), FP32_RTOL, f"openvino fp32 {shape}")


@pytest.mark.parity
def test_the_export_input_size_runs_on_a_static_compile_other_shapes_on_the_dynamic_one(exported):
    """deploy.yml's input_size at batch 1 runs on the model compiled for that shape;
    other shapes on the dynamic one, compiled on first need; both agree with Python."""
    model, out = exported
    runtime = pxcore.Predictor(out, runtime="openvino", threads=2)._runtime
    assert runtime.info["input_size"] == [224, 224]
    assert runtime._models.static == ((1, 3, 224, 224),)
    assert runtime.compiled.inputs[0].get_partial_shape().is_static
    assert runtime._dynamic_request is None  # not compiled until a shape needs it
    rng = np.random.default_rng(2)
    for shape in ((1, 3, 224, 224), (2, 3, 224, 224), (1, 3, 96, 128), (1, 3, 224, 224)):
        batch = rng.random(shape, dtype=np.float32)
        (logits,) = runtime.run([batch])
        assert_logits_close(logits, _python(model, batch), FP32_RTOL, f"openvino fp32 {shape}")
    assert runtime._models.dynamic().inputs[0].get_partial_shape().is_dynamic
    twin = runtime.clone()
    assert twin._models is runtime._models and twin.compiled is runtime.compiled


def test_an_export_without_one_input_size_is_compiled_dynamic(exported, tmp_path):
    import shutil

    import yaml

    _, out = exported
    copy = tmp_path / "any_size"
    shutil.copytree(out, copy)
    info = yaml.safe_load((copy / "deploy.yml").read_text())
    info["input_size"] = None
    (copy / "deploy.yml").write_text(yaml.safe_dump(info))
    runtime = pxcore.Predictor(copy, runtime="openvino", threads=1)._runtime
    assert runtime._models.static is None
    assert runtime.compiled.inputs[0].get_partial_shape().is_dynamic
    assert runtime._models.dynamic() is runtime.compiled


def test_threads_are_honoured(exported, monkeypatch):
    _, out = exported
    # OpenVINO caps the count at the physical cores (2 here) and uses them all unless told.
    compiled = pxcore.Predictor(out, runtime="openvino", threads=1)._runtime.compiled
    assert compiled.get_property("INFERENCE_NUM_THREADS") == 1
    monkeypatch.setenv("PXCORE_NUM_THREADS", "1")  # the default when not told
    compiled = pxcore.Predictor(out, runtime="openvino")._runtime.compiled
    assert compiled.get_property("INFERENCE_NUM_THREADS") == 1


def test_it_runs_the_onnx_plugins_cached_conversion(exported, tmp_path, monkeypatch):
    """The same file ONNX Runtime runs; on a machine without the converter, the one the
    export carries."""
    import shutil

    _, out = exported
    ours = pxcore.Predictor(out, runtime="openvino")._runtime.onnx_path
    assert ours == pxcore.Predictor(out, runtime="onnxruntime")._runtime.onnx_path
    assert ours.parent == out / "onnx"
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    monkeypatch.setattr(conversion, "converter_available", lambda: "paddle is not installed")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert pxcore.Predictor(copy, runtime="openvino")._runtime.onnx_path == copy / "onnx" / ours.name


def test_a_clone_shares_the_compiled_model_with_a_request_of_its_own(exported):
    _, out = exported
    runtime = pxcore.Predictor(out, runtime="openvino", threads=1)._runtime
    twin = runtime.clone()
    assert not runtime.thread_safe
    assert twin.compiled is runtime.compiled and twin.request is not runtime.request
    batch = np.random.default_rng(3).random((1, 3, 64, 64), dtype=np.float32)
    # Exact on purpose: one compiled model, one thread, the same batch: the same kernels.
    np.testing.assert_array_equal(twin.run([batch])[0], runtime.run([batch])[0])


@pytest.mark.parity
@pytest.mark.parametrize("name", ["MobileNetV3_small", "ResNet18"])
def test_bf16_agrees_with_fp32_within_its_precision(name, tmp_path):
    try:
        ov_runtime.check_precision("bf16")
    except RuntimeUnavailable as exc:  # the refusals are tested below
        pytest.skip(f"no bf16 here: {exc}")
    paddle.seed(0)
    out = pxcore.create_model(name, num_classes=7).export(tmp_path / name)
    batch = np.random.default_rng(0).random((2, 3, 96, 96), dtype=np.float32)
    bf16 = pxcore.Predictor(out, runtime="openvino", precision="bf16", threads=2)
    assert bf16._runtime.compiled.get_property("INFERENCE_PRECISION_HINT") == ov.Type.bf16
    (reduced,) = bf16.run(batch)
    (full,) = pxcore.Predictor(out, runtime="openvino", threads=2).run(batch)
    assert_logits_close(reduced, full, BF16_RTOL, f"{name} bf16 against fp32")
    # and it is bf16: fp32 kernels differ by about 1e-6 of the largest logit, bf16 by 2e-3 and more
    assert np.abs(reduced - full).max() > FP32_RTOL * np.abs(full).max()


def test_what_it_cannot_run_is_refused_with_the_way_out(exported, monkeypatch):
    _, out = exported
    with pytest.raises(RuntimeUnavailable, match="not fp16; for fp16 use runtime='tensorrt'"):
        pxcore.Predictor(out, runtime="openvino", precision="fp16")
    with pytest.raises(RuntimeUnavailable, match="runs on device='cpu'"):
        pxcore.Predictor(out, runtime="openvino", device="gpu")
    # A CPU without bf16 (no AVX-512 BF16, no AMX): refused, naming what it lacks.
    monkeypatch.setattr(ov_runtime, "cpu_capabilities", lambda: ["FP32", "INT8", "BIN"])
    with pytest.raises(RuntimeUnavailable, match=r"this CPU has no bf16 support \(OpenVINO's CPU plugin "
                                                 r"reports FP32, INT8, BIN, no BF16.*use precision='fp32'"):
        pxcore.Predictor(out, runtime="openvino", precision="bf16")
    # A CPU with bf16 whose oneDNN is capped below it (as .ci/parity does): OpenVINO still
    # reports BF16, then fails to compile; refused first, naming the variable.
    monkeypatch.setattr(ov_runtime, "cpu_capabilities", lambda: ["FP32", "BF16", "INT8"])
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    with pytest.raises(RuntimeUnavailable, match="ONEDNN_MAX_CPU_ISA=AVX2 caps oneDNN"):
        pxcore.Predictor(out, runtime="openvino", precision="bf16")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx512_core_bf16")
    ov_runtime.check_precision("bf16")  # a cap that keeps bf16 passes


def test_the_other_cpu_runtimes_refuse_bf16_naming_openvino(exported):
    _, out = exported
    for runtime in ("onnxruntime", "paddle"):
        with pytest.raises(RuntimeUnavailable, match=r"not bf16; .*bf16 .*runtime='openvino'"):
            pxcore.Predictor(out, runtime=runtime, precision="bf16")


def test_a_graph_openvino_cannot_compile_is_a_clear_error(exported, tmp_path, monkeypatch):
    _, out = exported
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not an onnx model")
    monkeypatch.setattr(conversion, "onnx_model", lambda model_dir, info: broken)
    with pytest.raises(RuntimeUnavailable, match="OpenVINO cannot compile .*model.onnx"):
        pxcore.Predictor(out, runtime="openvino")


def _onnx_file(path, nodes, inputs, initializers=(), opsets=(("", 19),)):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor(n, TensorProto.FLOAT, a.shape, a.ravel()) for n, a in initializers])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets]), path)
    return path


@pytest.mark.parity
@pytest.mark.parametrize("inputs", [["x", "w", "offset", "b", "mask"], ["x", "w", "offset"],
                                    ["x", "w", "offset", "", "mask"]])
def test_deformable_convolutions_give_onnx_runtimes_results(inputs, exported, tmp_path, monkeypatch):
    """ONNX DeformConv (what paddle2onnx writes for PP-YOLO's and the _dcn ResNets'
    deformable convolutions), which OpenVINO's ONNX front end lacks, read as OpenVINO's
    DeformableConvolution: ONNX Runtime's results, with groups, offset groups, a stride,
    uneven padding and offsets reaching past the border (bilinear zero padding)."""
    import onnxruntime
    from onnx import helper

    _, out = exported
    rng = np.random.default_rng(0)
    weights, bias = rng.standard_normal((6, 2, 3, 3), dtype=np.float32), rng.standard_normal(6, dtype=np.float32)
    node = helper.make_node("DeformConv", inputs, ["y"], kernel_shape=[3, 3], pads=[1, 0, 1, 2],
                            strides=[2, 1], group=2, offset_group=2)
    shapes = [("x", ["n", 4, "h", "w"]), ("offset", ["n", 36, "oh", "ow"])]
    if "mask" in inputs:
        shapes.append(("mask", ["n", 18, "oh", "ow"]))
    path = _onnx_file(tmp_path / "deform.onnx", [node], shapes, [("w", weights), ("b", bias)])
    feed = {"x": rng.standard_normal((2, 4, 9, 11), dtype=np.float32),
            "offset": 4 * rng.standard_normal((2, 36, 5, 11), dtype=np.float32)}
    if "mask" in inputs:
        feed["mask"] = rng.random((2, 18, 5, 11), dtype=np.float32)
    (expected,) = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feed)
    monkeypatch.setattr(conversion, "onnx_model", lambda model_dir, info: path)
    (got,) = pxcore.Predictor(out, runtime="openvino")._runtime.run(list(feed.values()))
    # float32 sums of 18 bilinear samples times weights, in another order: 6e-7 of the
    # largest output (about 8) seen; 1e-5 leaves room for other kernels.
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_an_op_its_onnx_front_end_lacks_is_named_with_the_way_out(exported, tmp_path, monkeypatch):
    from onnx import helper

    _, out = exported
    node = helper.make_node("Foo", ["x"], ["y"], domain="com.example")
    path = _onnx_file(tmp_path / "foo.onnx", [node], [("x", [1, 3])],
                      opsets=(("", 13), ("com.example", 1)))
    monkeypatch.setattr(conversion, "onnx_model", lambda model_dir, info: path)
    with pytest.raises(RuntimeUnavailable, match=r"front end has no conversion for com.example.Foo .*"
                                                 r"runtime='onnxruntime' or 'paddle'"):
        pxcore.Predictor(out, runtime="openvino")


def test_auto_considers_it_on_cpu_only():
    rows = {r["name"]: r for r in pxcore.inference.runtime_report("cpu")}
    assert rows["openvino"]["usable"] and rows["openvino"]["distribution"] == "pxcore-runtime-openvino"
    assert "openvino" not in {r["name"] for r in pxcore.inference.runtime_report("gpu")}
