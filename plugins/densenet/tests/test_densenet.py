"""pxcore-densenet's tests: pxcore's conformance checks, exact sizes, and the official
weight layouts (PaddleClas .pdparams, the zoo's Paddle 1.x archives) recorded in
tests/layouts/ by tools/make_layouts.py from the reference implementations."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.errors import PxError, WeightsError
from pxcore.testing import pytest_plugin as kit
from pxcore.testing.layouts import check_weight_layouts, random_state
from pxcore_densenet.plugin import ARCHITECTURES

DIST = "pxcore-densenet"

# With 1000 classes, BatchNorm running statistics included: PaddleClas 2.6's sizes.
PARAMETER_COUNTS = {
    "DenseNet121": 8_062_504,
    "DenseNet161": 28_900_936,
    "DenseNet201": 20_242_984,
}
LEVELS = {  # (channels, stride) of C2..C5
    "DenseNet121": [(256, 4), (512, 8), (1024, 16), (1024, 32)],
    "DenseNet161": [(384, 4), (768, 8), (2112, 16), (2208, 32)],
    "DenseNet201": [(256, 4), (512, 8), (1792, 16), (1920, 32)],
}
# Building, converting or loading these takes several seconds each on two cores.
SLOW = {"DenseNet161", "DenseNet201"}

manifest_for = kit.layout_manifests(__file__)

test_conformance = kit.conformance_test(DIST, slow=SLOW)


def test_found_through_its_entry_point():
    kit.check_entry_point(DIST, {"backbone": list(ARCHITECTURES), "model": list(ARCHITECTURES)})
    kit.check_classifier_presets(ARCHITECTURES)


def test_the_seed_spelling_resolves():
    assert type(pxcore.create_model("densenet121", num_classes=3).net).__name__ == "DenseNetClassifier"


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_parameter_count_is_exact(name):
    kit.check_parameter_count(name, PARAMETER_COUNTS[name], manifest_for(name))


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_legacy_naming_rules_match_the_reference_names(name):
    with paddle.LazyGuard():
        net = pxcore.create_model(name).net
    assert net.weight_aliases() == manifest_for(name)["legacy"]
    assert list(net.state_dict()) == list(manifest_for(name)["pdparams"])


@pytest.mark.parametrize("name", kit.by_model(ARCHITECTURES, SLOW))
def test_takes_the_official_weight_layouts(name, scratch):
    check_weight_layouts(manifest_for(name), scratch)


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_backbone_levels(name):
    with paddle.LazyGuard():
        backbone = pxcore.create_backbone(name)
    assert [(f.name, f.channels, f.stride) for f in backbone.out_features] == [
        (f"C{i + 2}", channels, stride) for i, (channels, stride) in enumerate(LEVELS[name])]


@pytest.mark.parametrize("size", [32, 50])
def test_small_and_odd_inputs(size):
    backbone = pxcore.create_backbone("DenseNet121", out_indices=(0, -1))
    backbone.eval()
    c2, c5 = backbone(paddle.rand([1, 3, size, size]))
    # the stem and max pool round up, the transitions' 2x2 average pools down
    side = -(-size // 4)
    assert list(c2.shape) == [1, 256, side, side]
    assert list(c5.shape) == [1, 1024, side // 8, side // 8]
    classifier = pxcore.create_model("DenseNet121", num_classes=7).net
    classifier.eval()
    assert list(classifier(paddle.rand([2, 3, size, size])).shape) == [2, 7]


def test_other_depths_and_unknown_ones():
    # PaddleClas's DenseNet169 and DenseNet264, which the zoo does not list
    with paddle.LazyGuard():
        assert pxcore.create_model("DenseNet121", depth=169).num_parameters() == 14_307_880
        assert pxcore.create_model("DenseNet121", depth=264).num_parameters() == 33_736_232
    with pytest.raises(PxError, match="depth 120"):
        pxcore.create_backbone("DenseNet121", depth=120)


# --- weights ------------------------------------------------------------------------------

def test_weights_of_another_depth_are_refused_naming_the_tensors(scratch):
    path = kit.save_pdparams(random_state(manifest_for("DenseNet121")["pdparams"]), scratch / "DenseNet121.pdparams")
    kit.check_weights_refused("DenseNet201",
                              "do not fit DenseNetClassifier",
                              "missing from the file: db_conv_4.conv4_25.bn_ac_func1._batch_norm.weight",
                              "shape of batch_norm.weight: file [1024], model [1920]", pretrained=path)


def test_a_legacy_archive_with_a_missing_or_broken_variable_is_refused(scratch):
    manifest = manifest_for("DenseNet121")
    folder = kit.write_legacy_archive(scratch / "DenseNet121_pretrained", {
        legacy: key for legacy, key in manifest["legacy"].items() if legacy != "conv3_7_x2_bn_variance"},
        random_state(manifest["pdparams"]))
    with pytest.raises(WeightsError, match=r"missing from the file: db_conv_3\.conv3_7\.bn_ac_func2\._batch_norm\._variance"):
        pxcore.create_model("DenseNet121", pretrained=folder)
    (folder / "conv3_7_x2_bn_variance").write_bytes(b"\0" * 10)
    with pytest.raises(WeightsError, match="conv3_7_x2_bn_variance: not a Paddle tensor file"):
        pxcore.create_model("DenseNet121", pretrained=folder)


def test_imagenet_weights_for_another_class_count_keep_a_fresh_head(scratch):
    state = random_state(manifest_for("DenseNet121")["pdparams"])
    path = kit.save_pdparams(state, scratch / "DenseNet121.pdparams")
    loaded = pxcore.create_model("DenseNet121", num_classes=5, pretrained=path).net.state_dict()
    key = "db_conv_5.conv5_16.bn_ac_func2._conv.weight"
    assert np.array_equal(loaded[key].numpy(), state[key])
    assert list(loaded["out.weight"].shape) == [1024, 5]


def test_backbone_takes_its_classifier_checkpoint(tmp_path):
    # as a .pdparams and as a Paddle 1.x archive
    kit.check_backbone_takes_classifier_weights("DenseNet121", tmp_path, legacy="archive")
