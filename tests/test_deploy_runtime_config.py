"""Choosing and configuring runtimes without a GPU: "auto"'s fallback warning, device
names, and the Paddle-TensorRT configuration (its calls recorded on a fake config)."""

from __future__ import annotations

import logging

import pytest

import pxcore
from pxcore.deploy.paddle_inference import configure_gpu, trt_shape_ranges
from pxcore.errors import PxError
from pxcore.inference import RuntimeUnavailable, select_runtime
from pxcore.inference.runtime import Runtime, parse_device, runtime_specs

INFO = {"model": "Tiny", "inputs": [{"name": "image", "shape": [-1, 3, -1, -1]}],
        "input_size": [224, 160], "files": {}}


class FailingRuntime(Runtime):
    name = "failing"

    def __init__(self, model_dir, info, **kwargs):
        raise RuntimeUnavailable("its converter aborted on operator frobnicate")


class WorkingRuntime(Runtime):
    name = "working"


class Runtimes:
    @pxcore.hookimpl
    def px_register_runtimes(self, registry):
        registry.add(name="failing", factory=f"{__name__}:FailingRuntime",
                     metadata={"devices": ["cpu", "gpu"], "priority": {"cpu": 1000, "gpu": 1000}})
        registry.add(name="working", factory=f"{__name__}:WorkingRuntime",
                     metadata={"devices": ["cpu", "gpu"], "priority": {"cpu": 999, "gpu": 999}})
        registry.add(name="absent", factory=f"{__name__}:WorkingRuntime",
                     probe=f"{__name__}:_not_installed",
                     metadata={"devices": ["cpu", "gpu"], "priority": {"cpu": 2000, "gpu": 2000}})


def _not_installed():
    return "absent-lib is not installed"


@pytest.fixture
def runtimes():
    pxcore.register_plugin(Runtimes(), name="fixture-runtimes")


def test_auto_warns_naming_the_runtime_that_failed_on_the_model_and_its_error(runtimes, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="pxcore"):
        chosen = select_runtime(tmp_path, INFO, "auto", device="gpu:1")
    assert isinstance(chosen, WorkingRuntime) and chosen.device_id == 1 and chosen.device == "gpu:1"
    # (the core's Paddle Inference is a candidate too, and fails on this non-export)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "failing" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
    assert "its converter aborted on operator frobnicate" in warnings[0].getMessage()
    # One that is merely not installed is not news: info only.
    (absent,) = [r for r in caplog.records if "absent" in r.getMessage()]
    assert absent.levelno == logging.INFO


def test_runtime_options_go_to_a_named_runtime_only(runtimes, tmp_path):
    with pytest.raises(PxError, match="runtime_options .*trt_shape_range.* name it"):
        select_runtime(tmp_path, INFO, "auto", runtime_options={"trt_shape_range": {}})


def test_device_names():
    assert parse_device("cpu") == ("cpu", 0) and parse_device("gpu") == ("gpu", 0)
    assert parse_device("gpu:3") == ("gpu", 3)
    for bad in ("tpu", "gpu:", "gpu:x", "cpu:1", "gpu:-1"):
        with pytest.raises(PxError, match=f"device '{bad}' is not one of cpu, gpu"):
            parse_device(bad)
    assert [s.name for s in runtime_specs("gpu:1")] == [s.name for s in runtime_specs("gpu")]


class FakeConfig:
    """Records the calls Paddle Inference's Config would receive."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.calls.append((name, args, kwargs))


class Precisions:
    Half = "Half"


def test_paddle_tensorrt_fp16_gets_shape_ranges_from_deploy_yml():
    config = FakeConfig()
    configure_gpu(config, INFO, device_id=2, precision="fp16", precision_types=Precisions)
    calls = {name: (args, kwargs) for name, args, kwargs in config.calls}
    assert calls["enable_use_gpu"] == ((256, 2), {})
    assert calls["enable_tensorrt_engine"][1]["precision_mode"] == "Half"
    assert calls["set_trt_dynamic_shape_info"] == (
        ({"image": [1, 3, 32, 32]}, {"image": [8, 3, 448, 320]}, {"image": [1, 3, 224, 160]}), {})
    assert [name for name, _, _ in config.calls] == [
        "enable_use_gpu", "enable_tensorrt_engine", "set_trt_dynamic_shape_info"]


def test_fp32_on_the_gpu_sets_no_tensorrt():
    config = FakeConfig()
    configure_gpu(config, INFO, device_id=0, precision="fp32", precision_types=Precisions)
    assert config.calls == [("enable_use_gpu", (256, 0), {})]


def test_a_fixed_export_keeps_its_shape_and_a_given_range_wins():
    fixed = {**INFO, "inputs": [{"name": "image", "shape": [2, 3, 240, 320]}]}
    assert trt_shape_ranges(fixed) == {k: {"image": [2, 3, 240, 320]} for k in ("min", "opt", "max")}
    given = {"min": [1, 3, 64, 64], "opt": [4, 3, 256, 256], "max": [16, 3, 512, 512]}
    config = FakeConfig()
    configure_gpu(config, INFO, device_id=0, precision="fp16", precision_types=Precisions,
                  trt_shape_range=given)
    (_, args, _), = [c for c in config.calls if c[0] == "set_trt_dynamic_shape_info"]
    assert args == ({"image": given["min"]}, {"image": given["max"]}, {"image": given["opt"]})
    with pytest.raises(RuntimeUnavailable, match="does not fit its shape"):
        trt_shape_ranges(fixed, given)
    with pytest.raises(RuntimeUnavailable, match="keys min, opt and max"):
        trt_shape_ranges(INFO, {"min": [1, 3, 8, 8]})


def test_without_input_size_the_ranges_follow_the_pre_processing():
    """R-CNN's exports name no input_size (the image keeps its aspect): the nominal size
    is what the pre-processing makes of a 640x480 photo, and a graph's feature maps
    follow it by their stride."""
    info = {**INFO, "input_size": None, "inputs": [
        {"name": "image", "shape": [1, 3, -1, -1]},
        {"name": "feature1", "shape": [1, 8, -1, -1], "stride": 8}],
        "transforms": {"type": "Compose", "transforms": [
            {"type": "ResizeByShort", "short_size": 800, "max_size": 1333},
            {"type": "Padding", "coarsest_stride": 32}]}}
    ranges = trt_shape_ranges(info)
    assert ranges["opt"] == {"image": [1, 3, 800, 1088], "feature1": [1, 8, 100, 136]}
    assert ranges["max"]["feature1"] == [1, 8, 200, 272] and ranges["min"]["feature1"] == [1, 8, 4, 4]


def test_no_input_size_and_no_range_is_refused_naming_the_fix():
    bare = {**INFO, "input_size": None}
    with pytest.raises(RuntimeUnavailable, match=r"trt_shape_range.*fixed_input_shape"):
        configure_gpu(FakeConfig(), bare, device_id=0, precision="fp16", precision_types=Precisions)
    # The batch alone may stay dynamic: it has a rule.
    only_batch = {**bare, "inputs": [{"name": "image", "shape": [-1, 3, 96, 96]}]}
    assert trt_shape_ranges(only_batch, max_batch=4)["max"] == {"image": [4, 3, 96, 96]}


def test_threads_default_to_every_core_or_pxcore_num_threads(monkeypatch, tmp_path):
    import os

    monkeypatch.delenv("PXCORE_NUM_THREADS", raising=False)
    assert Runtime(tmp_path, INFO).threads == (os.cpu_count() or 1)
    monkeypatch.setenv("PXCORE_NUM_THREADS", "1")  # what CI's one-thread parity run sets
    assert Runtime(tmp_path, INFO).threads == 1
    assert Runtime(tmp_path, INFO, threads=3).threads == 3  # an explicit count wins
    assert Runtime(tmp_path, INFO).clone().threads == 1
    monkeypatch.setenv("PXCORE_NUM_THREADS", "two")
    with pytest.raises(PxError, match="PXCORE_NUM_THREADS='two' is not a positive whole number"):
        Runtime(tmp_path, INFO)
