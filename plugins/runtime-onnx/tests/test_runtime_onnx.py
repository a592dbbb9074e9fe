"""The ONNX Runtime plugin: conversion in a child process, cached; parity; errors."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.deploy import RuntimeUnavailable
from pxcore.testing import pytest_plugin as kit
from pxcore_runtime_onnx import convert as conversion

test_conformance = kit.conformance_test("pxcore-runtime-onnx")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    paddle.seed(0)
    model = pxcore.create_model("MobileNetV3_small", num_classes=5)
    return model, model.export(tmp_path_factory.mktemp("onnx") / "inference")


def test_parity_with_python_and_paddle_inference(exported):
    model, out = exported
    batch = np.random.default_rng(1).random((3, 3, 64, 80), dtype=np.float32)
    with paddle.no_grad():
        model.net.eval()
        expected = model(paddle.to_tensor(batch)).numpy()
    (onnx,) = pxcore.Predictor(out, runtime="onnxruntime").run(batch)
    (paddle_inference,) = pxcore.Predictor(out, runtime="paddle").run(batch)
    for logits in (onnx, paddle_inference):
        np.testing.assert_allclose(logits, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())


def test_the_conversion_is_cached_and_keyed(exported):
    _, out = exported
    first = pxcore.Predictor(out, runtime="onnxruntime")._runtime.onnx_path
    stamp = first.stat().st_mtime_ns
    second = pxcore.Predictor(out, runtime="onnxruntime")._runtime.onnx_path
    assert second == first and second.stat().st_mtime_ns == stamp
    info = pxcore.deploy.read_deploy_info(out)
    assert conversion.cache_key(out, info, opset=13) != conversion.cache_key(out, info, opset=14)


def test_an_export_it_cannot_write_to_converts_into_the_user_cache(exported, tmp_path, monkeypatch):
    import shutil

    _, out = exported
    copy = tmp_path / "ro"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("onnx"))
    (copy / "onnx").write_text("")  # a file where the cache folder would go: not writable
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = pxcore.Predictor(copy, runtime="onnxruntime")._runtime.onnx_path
    assert str(path).startswith(str(tmp_path / "cache" / "pxcore" / "onnx"))


def test_an_abort_in_paddle2onnx_becomes_an_error_naming_the_operators(exported, tmp_path, monkeypatch):
    _, out = exported
    info = pxcore.deploy.read_deploy_info(out)
    # What paddle2onnx prints before it aborts on an operator it lacks.
    monkeypatch.setattr(conversion, "_CHILD", (
        "import os, sys\n"
        "print('[Paddle2ONNX] Oops, there are some operators not supported yet, including "
        "matrix_nms, yolo_box_post,', file=sys.stderr, flush=True)\nos.abort()\n"))
    with pytest.raises(RuntimeUnavailable, match=r"aborted \(SIGABRT\) on operators it does not support: "
                                                 r"matrix_nms, yolo_box_post"):
        conversion.convert(out / info["files"]["program"], out / info["files"]["params"],
                           tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []  # neither the ONNX file nor a temporary one


def test_a_broken_program_is_a_clear_error(tmp_path):
    (tmp_path / "model.json").write_text("not a program")
    (tmp_path / "model.pdiparams").write_bytes(b"\0" * 16)
    with pytest.raises(RuntimeUnavailable, match="paddle2onnx cannot convert"):
        conversion.convert(tmp_path / "model.json", tmp_path / "model.pdiparams", tmp_path / "m.onnx")


def test_fp16_and_missing_cuda_are_refused_with_the_way_out(exported):
    _, out = exported
    with pytest.raises(RuntimeUnavailable, match="runtime='tensorrt'"):
        pxcore.Predictor(out, runtime="onnxruntime", precision="fp16")
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(RuntimeUnavailable, match="onnxruntime-gpu"):
            pxcore.Predictor(out, runtime="onnxruntime", device="gpu")


def test_without_the_converter_the_exports_own_conversion_runs(exported, tmp_path, monkeypatch):
    """A deploy-only machine (no paddle, so paddle2onnx cannot run) takes the ONNX file
    the export carries, whatever converter made it; with none it says what to do."""
    import shutil

    model, out = exported
    info = pxcore.deploy.read_deploy_info(out)
    (carried,) = (out / "onnx").glob("model-*.onnx")  # written by export
    assert carried.name == f"model-{conversion.cache_key(out, info)}.onnx"
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    # made by another paddle2onnx: the converter part of the name differs
    other = copy / "onnx" / f"model-{conversion.content_key(copy, info)}-00000000.onnx"
    (copy / "onnx" / carried.name).rename(other)
    monkeypatch.setattr(conversion, "converter_available", lambda: "paddle is not installed")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    predictor = pxcore.Predictor(copy, runtime="onnxruntime")
    assert predictor._runtime.onnx_path == other
    batch = np.random.default_rng(2).random((1, 3, 64, 64), dtype=np.float32)
    (expected,) = pxcore.Predictor(out, runtime="onnxruntime").run(batch)
    np.testing.assert_array_equal(predictor.run(batch)[0], expected)  # the same file, same kernels
    other.unlink()
    with pytest.raises(RuntimeUnavailable, match=r"carries no ONNX conversion .*paddle is not installed"):
        pxcore.Predictor(copy, runtime="onnxruntime")
