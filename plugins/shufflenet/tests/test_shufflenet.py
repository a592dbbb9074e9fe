"""pxcore-shufflenet against pxcore's conformance checks and the zoo's weight layouts."""

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

DIST = "pxcore-shufflenet"
LAYOUTS = Path(__file__).parent / "layouts"
MANIFEST = LAYOUTS / "ShuffleNetV2.json"

# With 1000 classes, BatchNorm running statistics included: PaddleClas 2.6's count.
PARAMETERS = 2_294_784


test_conformance = kit.conformance_test(DIST)


def test_registers_the_zoo_row_and_its_backbone():
    kit.check_entry_point(DIST, {"backbone": ["ShuffleNetV2"], "model": ["ShuffleNetV2"]})
    kit.check_classifier_presets(["ShuffleNetV2"])


def test_parameter_count():
    kit.check_parameter_count("ShuffleNetV2", PARAMETERS, load_manifest(MANIFEST))


def test_takes_the_official_weight_layouts(tmp_path):
    check_weight_layouts(MANIFEST, tmp_path)


def test_legacy_names_come_from_rules_that_match_the_manifest():
    legacy = load_manifest(MANIFEST)["legacy"]
    assert pxcore.create_model("ShuffleNetV2").net.weight_aliases() == legacy
    assert pxcore.create_backbone("ShuffleNetV2").weight_aliases() == legacy


def test_backbone_levels():
    backbone = pxcore.create_backbone("ShuffleNetV2")
    assert [(f.channels, f.stride) for f in backbone.out_features] == [
        (24, 4), (116, 8), (232, 16), (464, 32)]


@pytest.mark.parametrize(("scale", "count"), [
    # PaddleClas 2.6's ShuffleNetV2_x0_25, _x0_33, _x0_5, _x1_5, _x2_0
    (0.25, 607_712), (0.33, 652_264), (0.5, 1_374_744), (1.5, 3_527_064), (2.0, 7_427_712),
])
def test_width_is_a_parameter(scale, count):
    assert pxcore.create_model("ShuffleNetV2", scale=scale).num_parameters() == count


def test_an_unknown_width_is_refused():
    with pytest.raises(PxError, match=r"scale 0\.75 is not one of"):
        pxcore.create_model("ShuffleNetV2", scale=0.75)


def test_swish_variant_and_small_inputs():
    # PaddleClas's ShuffleNetV2_swish: the same tensors, swish for ReLU
    assert pxcore.create_model("ShuffleNetV2", act="swish").num_parameters() == PARAMETERS
    net = pxcore.create_model("ShuffleNetV2", num_classes=5, act="swish").net
    net.eval()
    assert list(net(paddle.rand([1, 3, 32, 32])).shape) == [1, 5]


def test_channel_shuffle_interleaves_the_two_halves():
    from pxcore_shufflenet.shufflenet_v2 import channel_shuffle

    x = paddle.arange(2 * 6, dtype="float32").reshape([2, 6, 1, 1]).tile([1, 1, 2, 3])
    shuffled = channel_shuffle(x, 6).numpy()[:, :, 0, 0]
    np.testing.assert_array_equal(shuffled, [[0, 3, 1, 4, 2, 5], [6, 9, 7, 10, 8, 11]])


def test_other_class_count_reinitialises_only_the_head(tmp_path):
    state = random_state(load_manifest(MANIFEST)["pdparams"])
    net = pxcore.create_model("ShuffleNetV2", num_classes=7, pretrained=kit.save_pdparams(state, tmp_path / "w.pdparams")).net
    loaded = net.state_dict()
    assert list(loaded["_fc.weight"].shape) == [1024, 7]
    np.testing.assert_array_equal(loaded["_last_conv._conv.weight"].numpy(),
                                  state["_last_conv._conv.weight"])


def test_weights_of_another_width_fail_clearly(tmp_path):
    # an x0.5 archive given to the x1.0 model: same naming, other shapes
    folder = tmp_path / "ShuffleNetV2_x0_5_pretrained"
    folder.mkdir()
    half = pxcore.create_model("ShuffleNetV2", scale=0.5).net
    shapes = {k: v.shape for k, v in half.state_dict().items()}
    for legacy, key in half.weight_aliases().items():
        write_legacy_tensor(folder / legacy, np.zeros(shapes[key], "float32"))
    kit.check_weights_refused("ShuffleNetV2",
                              "do not fit ShuffleNetV2Classifier",
                              "shape of 2_1._conv_linear_1._conv.weight: file [24, 24, 1, 1], model [58, 24, 1, 1]", pretrained=folder)


def test_backbone_takes_its_classifier_checkpoint(tmp_path):
    kit.check_backbone_takes_classifier_weights("ShuffleNetV2", tmp_path)


def test_backbone_takes_the_classifiers_legacy_archive(tmp_path):
    # the classifier's Paddle 1.x archive: its head is named too, and left out
    kit.check_backbone_takes_legacy_archive("ShuffleNetV2", load_manifest(MANIFEST), tmp_path / "ShuffleNetV2_pretrained",
                                            ("_last_conv.", "_fc."))
