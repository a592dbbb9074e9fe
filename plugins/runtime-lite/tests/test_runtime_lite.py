"""The Paddle Lite plugin. Lite runs under Python 3.10 (its wheels stop there): these
tests run fully in that environment (`tox -e lite`, or the main suite's
test_lite_under_python310) and check elsewhere what needs no Lite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.deploy import RuntimeUnavailable, read_deploy_info
from pxcore.testing import pytest_plugin as kit
from pxcore.testing.numerics import assert_logits_close
from pxcore_runtime_lite import convert as conversion
from pxcore_runtime_lite.runtime import probe

LITE_REASON = probe()
needs_lite = pytest.mark.skipif(LITE_REASON is not None, reason=f"Paddle Lite cannot run here: {LITE_REASON}")


test_conformance = kit.conformance_test("pxcore-runtime-lite")


@pytest.mark.skipif(LITE_REASON is None, reason="Paddle Lite is usable here")
def test_without_lite_the_error_says_where_it_runs():
    assert "Python 3.10" in LITE_REASON
    report = {r["name"]: r for r in pxcore.deploy.runtime_report("cpu")}
    assert report["lite"]["usable"] is False


def test_an_export_without_the_legacy_program_is_refused_with_the_fix(tmp_path):
    model = pxcore.create_model("MobileNetV3_small", num_classes=3)
    out = model.export(tmp_path / "pir_only")
    with pytest.raises(RuntimeUnavailable, match=r"legacy=True \(px export \.\.\. --legacy\)"):
        conversion.lite_model(out, read_deploy_info(out))


_FLATTEN_NET = textwrap.dedent("""
    import sys, paddle
    class Net(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv, self.fc = paddle.nn.Conv2D(3, 4, 3), paddle.nn.Linear(4, 2)
        def forward(self, x):
            return self.fc(paddle.flatten(paddle.nn.functional.adaptive_avg_pool2d(self.conv(x), 1), 1))
    net = Net(); net.eval()
    spec = [paddle.static.InputSpec([None, 3, None, None], "float32", "image")]
    paddle.jit.save(net, sys.argv[1], input_spec=spec)
""")


@needs_lite
def test_an_operator_that_crashes_lite_is_refused_before_converting(tmp_path):
    env = {**os.environ, "FLAGS_enable_pir_api": "0"}
    script = tmp_path / "flatten_net.py"  # a file: to_static reads the forward's source
    script.write_text(_FLATTEN_NET)
    made = subprocess.run([sys.executable, str(script), str(tmp_path / "model")], env=env,
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr[-2000:]
    with pytest.raises(RuntimeUnavailable, match="crashes on flatten_contiguous_range .*paddle.reshape"):
        conversion.convert(tmp_path / "model.pdmodel", tmp_path / "model.pdiparams", tmp_path / "out")


def _export(name: str, folder):
    """A model of the zoo row and its export with the legacy program Lite converts."""
    paddle.seed(0)
    model = pxcore.create_model(name, num_classes=7)
    return model, model.export(folder / name, legacy=True)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return _export("ResNet18", tmp_path_factory.mktemp("lite"))


@needs_lite
def test_a_crash_during_conversion_becomes_an_error(exported, tmp_path, monkeypatch):
    _, out = exported
    monkeypatch.setattr(conversion, "_CONVERT", f"import os; os.kill(os.getpid(), {int(signal.SIGSEGV)})")
    with pytest.raises(RuntimeUnavailable, match=r"crashed \(SIGSEGV\) converting .*its operators: .*conv2d"):
        conversion.convert(out / "legacy" / "model.pdmodel", out / "legacy" / "model.pdiparams", tmp_path / "m")


@needs_lite
def test_parity_across_shape_changes(exported):
    model, out = exported
    predictor = pxcore.Predictor(out, runtime="lite")
    model.net.eval()
    rng = np.random.default_rng(0)
    # Lite corrupts its memory if one predictor's shape changes: the runtime keeps one per shape.
    for shape in [(1, 3, 224, 224), (1, 3, 96, 128), (2, 3, 96, 128), (1, 3, 224, 224)]:
        batch = rng.random(shape, dtype=np.float32)
        with paddle.no_grad():
            expected = model(paddle.to_tensor(batch)).numpy()
        (logits,) = predictor.run(batch)
        assert_logits_close(logits, expected, where=f"shape {shape}")


def _installed_classifiers() -> list[str]:
    from pxcore.api import resolve_model

    return [n for n in pxcore.list_models(task="classification", installed=True)
            if not resolve_model(n)[1].metadata.get("composer")]


CLASSIFIERS = _installed_classifiers()


# One test per model: the main suite's test_lite_under_python310 deselects the rows that
# are another row's network at another depth or width (tests/classifier_families.py).
@needs_lite
@pytest.mark.slow
@pytest.mark.parametrize("name", CLASSIFIERS)
def test_every_installed_classifier_runs_in_lite_with_parity(name, request, tmp_path):
    assert len(CLASSIFIERS) >= 14
    # ResNet18's export is the module's: made once for the tests above and this one
    model, out = request.getfixturevalue("exported") if name == "ResNet18" else _export(name, tmp_path)
    size = max(96, int(model.spec.metadata.get("min_input_size", 0)))
    batch = np.random.default_rng(1).random((1, 3, size, size), dtype=np.float32)
    model.net.eval()
    with paddle.no_grad():
        expected = model(paddle.to_tensor(batch)).numpy()
    (logits,) = pxcore.Predictor(out, runtime="lite").run(batch)
    assert_logits_close(logits, expected, where=name)


def test_the_converted_model_is_renamed_into_place_whole(tmp_path, monkeypatch):
    """No Lite needed: a stand-in optimizer writes <prefix>.nb as Lite's does."""
    monkeypatch.setattr(conversion, "model_ops", lambda program, params: ["conv2d"])
    monkeypatch.setattr(conversion, "_CONVERT", textwrap.dedent("""
        import sys
        from pathlib import Path
        Path(sys.argv[3] + ".nb").write_bytes(b"naive buffer")
        Path(sys.argv[3] + ".log").write_text("what an optimizer may leave beside it")
    """))
    cache = tmp_path / "cache"
    cache.mkdir()
    target = conversion.convert(tmp_path / "m.pdmodel", tmp_path / "m.pdiparams", cache / "model-k")
    assert target == cache / "model-k.nb" and target.read_bytes() == b"naive buffer"
    assert [p.name for p in cache.iterdir()] == ["model-k.nb"]
    monkeypatch.setattr(conversion, "_CONVERT", "import sys; sys.exit(3)")
    with pytest.raises(RuntimeUnavailable, match="exited with 3 converting"):
        conversion.convert(tmp_path / "m.pdmodel", tmp_path / "m.pdiparams", cache / "model-j")
    assert [p.name for p in cache.iterdir()] == ["model-k.nb"]
