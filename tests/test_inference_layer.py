"""A deployed model runs on the inference layer alone: in a fresh process (so this one's
imports do not count), ``pxcore.inference`` builds a Predictor on an export and
predicts, and neither paddle nor the training side (``pxcore.tasks``, ``pxcore.engine``)
is imported. The ONNX runtime is the one used (Paddle Inference is paddle): its
conversion needs paddle2onnx, hence paddle, so ``export`` converts where the runtime's
plugin is installed and the export carries the ONNX file, which the child (as a
deploy-only machine would) runs as it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pxcore
from pxcore.plugins import ENV_DISABLE_AUTOLOAD, ENV_EXTRA

ONNX_PLUGIN = "pxcore_runtime_onnx.plugin"

# Modules a deployed model must not pull in (a prefix each).
TRAINING_SIDE = ("paddle", "paddle2onnx", "pxcore.tasks", "pxcore.engine")


# Appended to a child's code: it prints its ``report`` dict and the modules it loaded.
_REPORT = f"""
import json, sys
report["loaded"] = sorted(m for m in sys.modules
                          if any(m == p or m.startswith(p + ".") for p in {TRAINING_SIDE!r}))
print(json.dumps(report))
"""


def _run_child(code: str) -> dict:
    """``code`` in a fresh interpreter (autoload off, only the ONNX runtime's plugin):
    its ``report``, with "loaded" the training-side modules it imported."""
    env = {**os.environ, ENV_DISABLE_AUTOLOAD: "1", ENV_EXTRA: ONNX_PLUGIN, "GLOG_minloglevel": "2"}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code) + _REPORT], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_detection_decoders_import_without_paddle():
    """The decoders deploy.yml names for YOLO and R-CNN, and R-CNN's pipeline between its
    graphs, are numpy: a Predictor can build them where paddle is not installed."""
    pytest.importorskip("pxcore_yolov3")
    pytest.importorskip("pxcore_rcnn")
    found = _run_child("""
        import pxcore.inference
        import pxcore_rcnn.pipeline
        import pxcore_rcnn.postprocess
        import pxcore_yolov3.postprocess

        report = {}
    """)
    assert found["loaded"] == []


@pytest.mark.slow  # an export and a paddle2onnx conversion: a few seconds
def test_a_predictor_runs_an_export_without_paddle(good_plugin, tmp_path):
    pytest.importorskip("pxcore_runtime_onnx")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("paddle2onnx")
    import cv2
    import paddle

    from pxcore.transforms import Compose, Normalize, Resize

    pxcore.register_plugin(ONNX_PLUGIN)
    paddle.seed(0)
    model = pxcore.create_model("FixtureNet_cls", num_classes=3)
    model.labels = ["a", "b", "c"]
    model.eval_transforms = Compose([Resize(32), Normalize()])
    out = model.export(tmp_path / "inference")
    (converted,) = (out / "onnx").glob("model-*.onnx")  # written by export
    rng = np.random.default_rng(0)
    images = []
    for i in range(3):
        path = tmp_path / f"image{i}.png"
        cv2.imwrite(str(path), rng.integers(0, 256, (40 + 8 * i, 48, 3), dtype=np.uint8))
        images.append(str(path))
    stamp = converted.stat().st_mtime_ns
    parent = pxcore.Predictor(out, runtime="onnxruntime")
    assert parent._runtime.onnx_path == converted
    expected = parent.predict(images, topk=2)

    found = _run_child(f"""
        from pxcore.inference import Predictor

        predictor = Predictor({str(out)!r}, runtime="onnxruntime")
        report = {{"runtime": predictor.runtime, "onnx": str(predictor._runtime.onnx_path),
                   "result": predictor.predict({images!r}, topk=2)}}
    """)
    assert found["loaded"] == [], f"a deployed model imported {found['loaded']}"
    assert found["runtime"] == "onnxruntime"
    # the child ran the cached file, and did not convert again
    assert found["onnx"] == str(converted) and converted.stat().st_mtime_ns == stamp
    assert len(found["result"]) == len(images)
    assert found["result"] == expected  # the same runtime on the same file: exactly


@pytest.mark.slow  # an export with a conversion that fails
def test_an_export_whose_conversion_fails_stands_without_it(good_plugin, tmp_path, monkeypatch, caplog):
    conversion = pytest.importorskip("pxcore_runtime_onnx.convert")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("paddle2onnx")

    pxcore.register_plugin(ONNX_PLUGIN)
    monkeypatch.setattr(conversion, "_CHILD", "import sys; sys.exit(3)")
    model = pxcore.create_model("FixtureNet_cls", num_classes=3)
    with caplog.at_level("WARNING", logger="pxcore"):
        out = model.export(tmp_path / "inference")
    assert "the onnxruntime runtime's conversion failed" in caplog.text
    assert (out / "deploy.yml").is_file() and not list(out.rglob("*.onnx"))
    assert not list(out.parent.glob(".inference.*"))  # no temporary folder left
    assert pxcore.Predictor(out, runtime="paddle").predict(np.zeros((32, 32, 3), np.uint8))
