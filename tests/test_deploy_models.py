"""Every installed classifier's network exports and every runtime agrees with Python:
the same top-1 (but for near ties) and logits within 1e-3 of the largest (the parity
PaddleX users ask for). Paddle Inference and ONNX Runtime are required: either one
unusable here fails the tests, so that a runtime whose probe breaks cannot drop out of
the parametrization unseen; other runtimes (Lite, TensorRT) run where usable.

A zoo row that is another row's network at another depth or width (ResNet101 is
ResNet50's blocks, more of them; an _ssld row is its base network) has no operator the
other lacks: the check runs on one net per distinct set of layer configurations
(classifier_families.py), which stands for the rest."""

from __future__ import annotations

import numpy as np
import paddle
import pytest
from classifier_families import installed_classifiers, network_class, representatives

import pxcore
from pxcore.inference import runtime_report
from pxcore.testing.numerics import LOGIT_RTOL, assert_logits_close

pytestmark = [pytest.mark.uses_installed_plugins, pytest.mark.slow]

REQUIRED_RUNTIMES = ("paddle", "onnxruntime")


def _setup():
    pxcore.plugins.reset()
    report = {r["name"]: r for r in runtime_report("cpu")}
    pxcore.plugins.reset()
    optional = [name for name, r in report.items() if r["usable"] and name not in REQUIRED_RUNTIMES]
    return representatives(), report, [*REQUIRED_RUNTIMES, *optional]


REPRESENTATIVES, REPORT, RUNTIMES = _setup()
MODELS = list(REPRESENTATIVES)


def _require_usable(runtime: str) -> None:
    """Fail (not skip) when a required runtime is missing or its probe refuses."""
    if runtime not in REQUIRED_RUNTIMES:
        return
    row = REPORT.get(runtime)
    if row is None:
        pytest.fail(f"required runtime {runtime!r} is not registered: its plugin is not installed")
    if not row["usable"]:
        pytest.fail(f"required runtime {runtime!r} is not usable here: {row['reason']}")


@pytest.mark.parametrize("runtime", REQUIRED_RUNTIMES)
def test_required_runtimes_are_usable(runtime):
    _require_usable(runtime)


def test_every_installed_classifier_is_represented():
    stood_for = {name: rep for rep, names in REPRESENTATIVES.items() for name in names}
    assert set(MODELS) | set(stood_for) == set(installed_classifiers())
    assert not set(MODELS) & set(stood_for)
    for name, rep in stood_for.items():
        # a representative is the same network class, only deeper, shallower or wider
        assert network_class(name) is network_class(rep), f"{name} stands behind {rep}"
    assert {"ResNet18", "ResNet50", "ResNet50_vd"} <= set(MODELS)
    assert stood_for["ResNet101_vd_ssld"] == "ResNet50_vd" and stood_for["DenseNet201"] == "DenseNet121"
    assert stood_for["Xception65"] == "Xception41" and "MobileNetV3_large" in MODELS


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """name -> (exported dir, input batch, Python logits), built once per model."""
    cache = {}
    root = tmp_path_factory.mktemp("exports")

    def get(name):
        if name not in cache:
            paddle.seed(0)
            model = pxcore.create_model(name, num_classes=7)
            size = max(96, int(model.spec.metadata.get("min_input_size", 0)))
            batch = np.random.default_rng(0).random((2, 3, size, size), dtype=np.float32)
            model.net.eval()
            with paddle.no_grad():
                expected = model(paddle.to_tensor(batch)).numpy()
            cache[name] = (model.export(root / name), batch, expected)
        return cache[name]

    return get


@pytest.mark.parity
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", MODELS)
def test_runtime_parity(name, runtime, exports):
    _require_usable(runtime)
    out, batch, expected = exports(name)
    (logits,) = pxcore.Predictor(out, runtime=runtime, threads=2).run(batch)
    assert_logits_close(logits, expected, LOGIT_RTOL,
                        f"{name} (for {', '.join([name, *REPRESENTATIVES[name]])}) on {runtime}")


def test_auto_in_priority_mode_takes_the_highest_priority_usable_runtime(exports, monkeypatch):
    # (measuring, the default, is tests/test_runtime_choice.py's)
    monkeypatch.setenv("PXCORE_RUNTIME_CHOICE", "priority")
    out, _, _ = exports(MODELS[0])
    expected = max((r for r in runtime_report("cpu") if r["usable"]),
                   key=lambda r: r["priority"].get("cpu", 0))["name"]
    assert pxcore.Predictor(out).runtime == expected
