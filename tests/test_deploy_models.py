"""Every installed classifier exports and every usable runtime agrees with Python:
the same top-1 and logits within a relative 1e-3 (the parity PaddleX users ask for)."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.deploy import runtime_report

pytestmark = [pytest.mark.uses_installed_plugins, pytest.mark.slow]


def _setup():
    from pxcore.api import resolve_model

    pxcore.plugins.reset()
    models = [n for n in pxcore.list_models(task="classification", installed=True)
              if not resolve_model(n)[1].metadata.get("composer")]
    runtimes = [r["name"] for r in runtime_report("cpu") if r["usable"]]
    pxcore.plugins.reset()
    return models, runtimes


MODELS, RUNTIMES = _setup()


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


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", MODELS)
def test_runtime_parity(name, runtime, exports):
    out, batch, expected = exports(name)
    (logits,) = pxcore.Predictor(out, runtime=runtime, threads=2).run(batch)
    assert logits.shape == expected.shape
    np.testing.assert_array_equal(logits.argmax(1), expected.argmax(1))
    scale = np.abs(expected).max()
    assert np.abs(logits - expected).max() <= 1e-3 * scale, (
        f"{name} on {runtime}: logits differ by {np.abs(logits - expected).max():.3g} (scale {scale:.3g})")


def test_auto_takes_the_highest_priority_usable_runtime(exports):
    out, _, _ = exports(MODELS[0])
    expected = max((r for r in runtime_report("cpu") if r["usable"]),
                   key=lambda r: r["priority"].get("cpu", 0))["name"]
    assert pxcore.Predictor(out).runtime == expected
