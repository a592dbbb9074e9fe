"""Every installed classification model, whichever plugin gives it (timm's habit): it
builds with the published parameter count, runs forward, learns a fixed batch, and a
saved copy gives identical outputs."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

import pxcore

# Parameter counts with 1000 classes, BatchNorm statistics included (the Paddle suites'
# published figures).
PUBLISHED_PARAMETERS = {
    "ResNet18": 11_703_464, "ResNet34": 21_819_048, "ResNet50": 25_610_152,
    "ResNet101": 44_654_504, "ResNet50_vd": 25_629_512, "ResNet101_vd": 44_673_864,
    "ResNet50_vd_ssld": 25_629_512, "ResNet101_vd_ssld": 44_673_864,
    "MobileNetV1": 4_253_864, "MobileNetV2": 3_540_136,
    "MobileNetV3_large": 5_504_638, "MobileNetV3_small": 2_952_102,
    "MobileNetV3_large_ssld": 5_504_638, "MobileNetV3_small_ssld": 2_952_102,
    "ShuffleNetV2": 2_294_784, "DarkNet53": 41_645_640, "Xception41": 27_084_872,
    "Xception65": 40_101_512, "DenseNet121": 8_062_504, "DenseNet161": 28_900_936,
    "DenseNet201": 20_242_984, "HRNet_W18": 21_346_380, "AlexNet": 61_100_840,
}


def input_size(name: str, preferred: int = 64) -> int:
    """A small test input, unless the network needs more (AlexNet's classifier is fixed
    to 224 px inputs): the spec's metadata "min_input_size"."""
    from pxcore.api import resolve_model

    return max(preferred, int(resolve_model(name)[1].metadata.get("min_input_size", 0)))


def _installed_classifiers() -> list[str]:
    """Installed classification presets, leaving out composers that need a backbone."""
    from pxcore.api import resolve_model

    pxcore.plugins.reset()  # collection runs before the isolation fixture: see all plugins
    names = [n for n in pxcore.list_models(task="classification", installed=True)
             if not resolve_model(n)[1].metadata.get("composer")]
    pxcore.plugins.reset()
    return names


MODELS = _installed_classifiers()
pytestmark = pytest.mark.uses_installed_plugins


def test_every_zoo_classifier_with_a_count_is_installed():
    missing = sorted(set(PUBLISHED_PARAMETERS) - set(MODELS))
    assert not missing, f"not installed: {missing} (pip install -r requirements-dev.txt)"


@pytest.mark.parametrize("name", MODELS)
def test_published_parameter_count(name):
    if name not in PUBLISHED_PARAMETERS:
        pytest.skip(f"no published count for {name}")
    with paddle.LazyGuard():  # shapes only: skip initialising the values
        model = pxcore.create_model(name)
    assert model.num_parameters() == PUBLISHED_PARAMETERS[name]


@pytest.mark.parametrize("name", MODELS)
def test_forward_learns_and_round_trips(name, tmp_path):
    paddle.seed(0)
    model = pxcore.create_model(name, num_classes=5)
    size = input_size(name)
    x = paddle.rand([4, 3, size, size])
    y = paddle.to_tensor(np.array([[0], [1], [2], [3]], np.int64))
    opt = paddle.optimizer.Adam(1e-3, parameters=model.parameters())
    model.net.train()
    losses = []
    for step in range(3):
        loss = paddle.nn.functional.cross_entropy(model(x), y)
        losses.append(float(loss))
        if step < 2:  # two steps, then the loss they leave
            loss.backward()
            opt.step()
            opt.clear_grad()
    assert losses[2] < losses[0], f"{name}: loss {losses} did not fall in two steps"

    model.net.eval()
    expected = model(x).numpy()
    assert expected.shape == (4, 5)
    again = pxcore.load_model(model.save(tmp_path / name))
    # exact on purpose: bit-identical weights (float32 saved and read back), the same
    # network on the same batch in the same process: the same kernels in the same order
    np.testing.assert_array_equal(again(x).numpy(), expected)
