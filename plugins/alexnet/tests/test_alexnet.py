"""pxcore-alexnet against pxcore's conformance checks and the zoo's weight layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.errors import PxError
from pxcore.testing import pytest_plugin as kit
from pxcore.testing.layouts import check_weight_layouts, load_manifest
from pxcore.weights import write_legacy_tensor

DIST = "pxcore-alexnet"
MANIFEST = Path(__file__).parent / "layouts" / "AlexNet.json"

# With 1000 classes: PaddleClas 2.6's count (AlexNet has no batch norm).
PARAMETERS = 61_100_840


test_conformance = kit.conformance_test(DIST)


def test_registers_the_zoo_row_and_its_backbone():
    kit.check_entry_point(DIST, {"backbone": ["AlexNet"], "model": ["AlexNet"]})
    kit.check_classifier_presets(["AlexNet"])
    assert pxcore.get_registry().get("model", "AlexNet").metadata["min_input_size"] == 224


def test_parameter_count():
    kit.check_parameter_count("AlexNet", PARAMETERS, load_manifest(MANIFEST))


@pytest.mark.slow  # 61 M parameters written and read three times
def test_takes_the_official_weight_layouts(tmp_path):
    check_weight_layouts(MANIFEST, tmp_path)


def test_legacy_names_come_from_rules_that_match_the_manifest():
    legacy = load_manifest(MANIFEST)["legacy"]
    with paddle.LazyGuard():  # shapes only: skip initialising the values
        classifier = pxcore.create_model("AlexNet", num_classes=3).net
        backbone = pxcore.create_backbone("AlexNet")
    assert classifier.weight_aliases() == legacy
    assert backbone.weight_aliases() == legacy


def test_backbone_levels_take_small_inputs():
    backbone = pxcore.create_backbone("AlexNet")
    backbone.eval()
    assert [(f.channels, f.stride) for f in backbone.out_features] == [
        (64, 4), (192, 8), (256, 16), (256, 32)]
    levels = backbone(paddle.rand([1, 3, 127, 127]))
    assert [list(t.shape) for t in levels] == [
        [1, 64, 31, 31], [1, 192, 15, 15], [1, 256, 7, 7], [1, 256, 3, 3]]


def test_the_classifier_names_the_input_sizes_it_takes():
    net = pxcore.create_model("AlexNet", num_classes=3).net
    net.eval()
    for size in (223, 254):
        assert list(net(paddle.rand([1, 3, size, size])).shape) == [1, 3]
    with pytest.raises(PxError, match="inputs of 223 to 254 px .* a 64x64 input gives 1x1"):
        net(paddle.rand([1, 3, 64, 64]))


def test_dropout_scales_at_inference_as_the_weights_were_trained():
    net = pxcore.create_model("AlexNet", num_classes=3).net
    net.eval()
    x = paddle.rand([1, 3, 224, 224])
    pooled = paddle.reshape(net.forward_features(x)[-1], [1, -1])
    hidden = paddle.nn.functional.relu(net._fc6(pooled * 0.5))
    expected = net._fc8(paddle.nn.functional.relu(net._fc7(hidden * 0.5)))
    np.testing.assert_allclose(net(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_other_class_count_reinitialises_only_the_head(tmp_path):
    # the convolutions and fc6/fc7 from an ImageNet checkpoint, fc8 fresh for 7 classes
    reference = pxcore.create_model("AlexNet").net
    path = tmp_path / "w.pdparams"
    paddle.save(reference.state_dict(), str(path))
    net = pxcore.create_model("AlexNet", num_classes=7, pretrained=path).net
    loaded = net.state_dict()
    assert list(loaded["_fc8.weight"].shape) == [4096, 7]
    np.testing.assert_array_equal(loaded["_fc7.weight"].numpy(), reference.state_dict()["_fc7.weight"].numpy())


def test_weights_of_another_model_fail_clearly(tmp_path):
    # the archive of an AlexNet whose conv5 is missing and conv1 has other shapes
    folder = tmp_path / "AlexNet_pretrained"
    folder.mkdir()
    manifest = load_manifest(MANIFEST)
    for legacy, key in manifest["legacy"].items():
        if legacy.startswith(("conv5", "fc")):
            continue
        shape = manifest["pdparams"][key]
        write_legacy_tensor(folder / legacy, np.zeros([96] + shape[1:] if legacy.startswith("conv1")
                                                      else shape, "float32"))
    kit.check_weights_refused("AlexNet",
                              "do not fit AlexNetClassifier",
                              "shape of _conv1._conv.weight: file [96, 3, 11, 11], model [64, 3, 11, 11]",
                              "missing from the file: _conv5._conv.bias", pretrained=folder)


def test_backbone_takes_its_classifier_checkpoint(tmp_path):
    kit.check_backbone_takes_classifier_weights("AlexNet", tmp_path, head=("_fc",))


def test_backbone_takes_the_classifiers_legacy_archive(tmp_path):
    # the classifier's Paddle 1.x archive: its head is named too, and left out
    kit.check_backbone_takes_legacy_archive("AlexNet", load_manifest(MANIFEST), tmp_path / "AlexNet_pretrained", ("_fc",))
