"""pxcore-darknet against pxcore's conformance checks and the zoo's weight layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.errors import PxError
from pxcore.testing import pytest_plugin as kit
from pxcore.testing.layouts import check_weight_layouts, load_manifest, random_state
from pxcore.weights import write_legacy_tensor

DIST = "pxcore-darknet"
MANIFEST = Path(__file__).parent / "layouts" / "DarkNet53.json"

# With 1000 classes, BatchNorm running statistics included: PaddleClas 2.6's count.
PARAMETERS = 41_645_640


test_conformance = kit.conformance_test(DIST)


def test_registers_the_zoo_row_and_its_backbone():
    kit.check_entry_point(DIST, {"backbone": ["DarkNet53"], "model": ["DarkNet53"]})
    kit.check_classifier_presets(["DarkNet53"])


def test_parameter_count():
    kit.check_parameter_count("DarkNet53", PARAMETERS, load_manifest(MANIFEST))


@pytest.mark.slow  # 42 M values written and read three times
def test_takes_the_official_weight_layouts(tmp_path):
    check_weight_layouts(MANIFEST, tmp_path)


def test_legacy_names_come_from_rules_that_match_the_manifest():
    # the classifier's are checked by loading them (test_takes_the_official_weight_layouts)
    with paddle.LazyGuard():  # shapes only: skip initialising the values
        backbone = pxcore.create_backbone("DarkNet53")
    assert backbone.weight_aliases() == load_manifest(MANIFEST)["legacy"]


def test_backbone_reports_yolov3s_levels():
    backbone = pxcore.create_backbone("DarkNet53", out_indices=(1, 2, 3))
    assert [(f.name, f.channels, f.stride) for f in backbone.out_features] == [
        ("C3", 256, 8), ("C4", 512, 16), ("C5", 1024, 32)]
    assert [(f.channels, f.stride) for f in backbone.feature_info] == [
        (128, 4), (256, 8), (512, 16), (1024, 32)]


def test_leaky_relu_for_yolov3_has_the_same_tensors():
    relu = pxcore.create_backbone("DarkNet53", out_indices=(-1,))
    leaky = pxcore.create_backbone("DarkNet53", act="leaky_relu", out_indices=(-1,))
    leaky.set_state_dict(relu.state_dict())
    relu.eval(), leaky.eval()
    x = paddle.rand([1, 3, 32, 32])
    (a,), (b,) = relu(x), leaky(x)
    assert a.shape == b.shape == [1, 1024, 1, 1]
    assert not np.allclose(a.numpy(), b.numpy())
    with pytest.raises(PxError, match="act 'mish' is not one of"):
        pxcore.create_backbone("DarkNet53", act="mish")


@pytest.fixture(scope="module")
def classifier_checkpoint(tmp_path_factory):
    """A .pdparams in PaddleClas's layout with random values (written from the manifest:
    building a 42 M parameter classifier to save it would take longer)."""
    state = random_state(load_manifest(MANIFEST)["pdparams"])
    return kit.save_pdparams(state, tmp_path_factory.mktemp("darknet") / "DarkNet53_pretrained.pdparams"), state


def test_other_class_count_reinitialises_only_the_head(classifier_checkpoint):
    path, state = classifier_checkpoint
    net = pxcore.create_model("DarkNet53", num_classes=7, pretrained=path).net
    loaded = net.state_dict()
    assert list(loaded["_out.weight"].shape) == [1024, 7]
    np.testing.assert_array_equal(loaded["_basic_block_44._conv2._bn._mean"].numpy(),
                                  state["_basic_block_44._conv2._bn._mean"])


def test_weights_of_another_model_fail_clearly(tmp_path):
    # an archive without the fc and the last stage, as a cut-down backbone would be
    folder = tmp_path / "DarkNet53_truncated"
    folder.mkdir()
    manifest = load_manifest(MANIFEST)
    for legacy, key in manifest["legacy"].items():
        if not legacy.startswith(("fc_", "stage.4.")):
            write_legacy_tensor(folder / legacy, np.zeros(manifest["pdparams"][key], "float32"))
    kit.check_weights_refused("DarkNet53",
                              "do not fit DarkNetClassifier",
                              "missing from the file: _basic_block_41._conv1._bn._mean [512]",
                              "missing from the file: _out.weight [1024, 1000]", pretrained=folder)


def test_backbone_takes_its_classifier_checkpoint(classifier_checkpoint):
    path, state = classifier_checkpoint
    backbone = pxcore.create_backbone("DarkNet53", pretrained=path)
    loaded = backbone.state_dict()
    assert set(loaded) == {k for k in state if not k.startswith("_out.")}
    for key, value in loaded.items():
        np.testing.assert_array_equal(value.numpy(), state[key])


def test_backbone_takes_the_classifiers_legacy_archive(tmp_path):
    # the classifier's Paddle 1.x archive: its head is named too, and left out
    kit.check_backbone_takes_legacy_archive("DarkNet53", load_manifest(MANIFEST), tmp_path / "DarkNet53_pretrained", ("_out.",))
