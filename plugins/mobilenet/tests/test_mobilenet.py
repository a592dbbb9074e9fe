"""pxcore-mobilenet against pxcore's conformance checks and the zoo's weight layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.errors import WeightsError
from pxcore.testing import pytest_plugin as kit
from pxcore.testing.layouts import check_weight_layouts, random_state
from pxcore.weights import write_legacy_tensor

DIST = "pxcore-mobilenet"

# With 1000 classes, BatchNorm running statistics included: PaddleClas 2.6's counts.
PARAMETERS = {
    "MobileNetV1": 4_253_864,
    "MobileNetV2": 3_540_136,
    "MobileNetV3_large": 5_504_638,
    "MobileNetV3_small": 2_952_102,
}
# Zoo model -> the architecture (and layout manifest) it shares.
MODELS = {name: name for name in PARAMETERS} | {
    "MobileNetV3_large_ssld": "MobileNetV3_large",
    "MobileNetV3_small_ssld": "MobileNetV3_small",
}


manifest_for = kit.layout_manifests(__file__)

# The _ssld rows build exactly their architecture's spec
# (test_ssld_rows_build_their_architectures_spec): the checks on it are the checks on them.
test_conformance = kit.conformance_test(DIST, leave_out=[name for name, arch in MODELS.items() if name != arch])


def test_registers_every_zoo_row_and_architecture():
    kit.check_entry_point(DIST, {"backbone": list(PARAMETERS), "model": list(MODELS)})
    kit.check_classifier_presets(MODELS)


@pytest.mark.parametrize("name", list(MODELS))
def test_parameter_count(name):
    kit.check_parameter_count(name, PARAMETERS[MODELS[name]], manifest_for(MODELS[name]))


def test_ssld_rows_build_their_architectures_spec():
    """An _ssld row differs from its architecture's only in name, zoo row and weights:
    everything that building it, the conformance checks and loading weights read is
    the architecture's (so those run on the architecture only)."""
    registry = pxcore.get_registry()
    for name, arch in MODELS.items():
        if name == arch:
            continue
        variant, architecture = registry.get("model", name), registry.get("model", arch)
        for field in ("kind", "factory", "defaults", "metadata", "task", "distribution"):
            assert getattr(variant, field) == getattr(architecture, field), f"{name}: {field}"
        with paddle.LazyGuard():
            nets = [pxcore.create_model(n, num_classes=3).net for n in (name, arch)]
        assert type(nets[0]) is type(nets[1])
        assert {k: v.shape for k, v in nets[0].state_dict().items()} == {
            k: v.shape for k, v in nets[1].state_dict().items()}
        assert nets[0].weight_aliases() == nets[1].weight_aliases()


@pytest.mark.parametrize("name", list(PARAMETERS))  # the _ssld rows build these (above)
def test_takes_the_official_weight_layouts(name, tmp_path):
    manifest = manifest_for(MODELS[name])
    check_weight_layouts({**manifest, "model": name}, tmp_path)


@pytest.mark.parametrize("arch", list(PARAMETERS))
def test_legacy_names_come_from_rules_that_match_the_manifest(arch):
    net = pxcore.create_model(arch).net
    assert net.weight_aliases() == manifest_for(arch)["legacy"]


def test_backbone_levels():
    expected = {
        "MobileNetV1": [(128, 4), (256, 8), (512, 16), (1024, 32)],
        "MobileNetV2": [(24, 4), (32, 8), (96, 16), (320, 32)],
        "MobileNetV3_large": [(24, 4), (40, 8), (112, 16), (160, 32)],
        "MobileNetV3_small": [(16, 4), (24, 8), (48, 16), (96, 32)],
    }
    for name, levels in expected.items():
        backbone = pxcore.create_backbone(name)
        assert [(f.channels, f.stride) for f in backbone.out_features] == levels, name


@pytest.mark.parametrize(("name", "scale", "count"), [
    # PaddleClas 2.6's MobileNetV1_x0_25, MobileNetV2_x1_5, V3 large x0_5, V3 small x0_35
    ("MobileNetV1", 0.25, 475_544),
    ("MobileNetV2", 1.5, 6_903_976),
    ("MobileNetV3_large", 0.5, 2_685_790),
    ("MobileNetV3_small", 0.35, 1_670_226),
])
def test_width_is_a_parameter(name, scale, count):
    assert pxcore.create_model(name, scale=scale).num_parameters() == count


def test_small_inputs():
    net = pxcore.create_model("MobileNetV3_small", num_classes=5).net
    net.eval()
    assert list(net(paddle.rand([1, 3, 32, 32])).shape) == [1, 5]


def test_other_class_count_reinitialises_only_the_head(tmp_path):
    state = random_state(manifest_for("MobileNetV2")["pdparams"])
    net = pxcore.create_model("MobileNetV2", num_classes=7, pretrained=kit.save_pdparams(state, tmp_path / "w.pdparams")).net
    loaded = net.state_dict()
    assert list(loaded["out.weight"].shape) == [1280, 7]
    assert np.array_equal(loaded["conv9._conv.weight"].numpy(), state["conv9._conv.weight"])


def test_weights_of_another_model_fail_clearly(tmp_path):
    # MobileNetV3_small's archive given to MobileNetV3_large: same naming, other shapes
    folder = tmp_path / "MobileNetV3_small_pretrained"
    folder.mkdir()
    manifest = manifest_for("MobileNetV3_small")
    for legacy, key in manifest["legacy"].items():
        write_legacy_tensor(folder / legacy, np.zeros(manifest["pdparams"][key], "float32"))
    kit.check_weights_refused("MobileNetV3_large",
                              "do not fit MobileNetV3Classifier",
                              "shape of blocks.1.expand_conv.conv.weight: file [72, 16, 1, 1], model [64, 16, 1, 1]",
                              "missing from the file: blocks.14.linear_conv.bn._variance", pretrained=folder)
    with pytest.raises(WeightsError, match="not in the model: conv1._conv.weight"):
        pxcore.create_model("MobileNetV1", pretrained=_pdparams("MobileNetV2", tmp_path))


def _pdparams(arch: str, folder: Path) -> Path:
    manifest = manifest_for(arch)
    path = folder / f"{arch}.pdparams"
    paddle.save({k: paddle.zeros(s) for k, s in manifest["pdparams"].items()}, str(path))
    return path


@pytest.mark.parametrize("name", ["MobileNetV1", "MobileNetV2", "MobileNetV3_large"])
def test_backbone_takes_its_classifier_checkpoint(name, tmp_path):
    kit.check_backbone_takes_classifier_weights(name, tmp_path)


@pytest.mark.parametrize("name", ["MobileNetV1", "MobileNetV2", "MobileNetV3_small"])
def test_backbone_takes_its_classifier_legacy_archive(name, tmp_path):
    classifier = pxcore.create_model(name, num_classes=1000)
    state = {k: v.numpy() for k, v in classifier.net.state_dict().items()}
    for legacy_name, key in classifier.net.weight_aliases().items():
        write_legacy_tensor(tmp_path / legacy_name, state[key])
    backbone = pxcore.create_backbone(name, pretrained=tmp_path)
    for key, value in backbone.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), state[key])


@pytest.mark.parametrize(("name", "args", "expanded"), [
    ("MobileNetV2", {"scale": 0.5, "output_stride": 16}, ("C2_expanded", 72, 4)),
    ("MobileNetV3_large", {"config": "large_seg"}, ("C3_expanded", 120, 8)),
])
def test_expanded_strides_report_the_depthwise_output(name, args, expanded):
    """``expanded_strides``: the level at a stride is its block's expanded depthwise
    output (DeepLabv3+'s decode point in PaddleX 1.x), reported and returned as such;
    the parameters do not change."""
    plain = pxcore.create_backbone(name, **args)
    net = pxcore.create_backbone(name, expanded_strides=(expanded[2],), **args)
    assert set(net.state_dict()) == set(plain.state_dict())
    net.set_state_dict(plain.state_dict())
    infos = [(f.name, f.channels, f.stride) for f in net.feature_info]
    assert expanded in infos and len(infos) == len(plain.feature_info)
    net.eval()
    plain.eval()
    image = paddle.rand([1, 3, 64, 96])
    levels, reference = net(image), plain(image)
    for info, level, other in zip(net.feature_info, levels, reference, strict=True):
        assert list(level.shape) == [1, info.channels, 64 // info.stride, 96 // info.stride]
        if not info.name.endswith("_expanded"):
            np.testing.assert_allclose(level.numpy(), other.numpy(), rtol=1e-5, atol=1e-6)
    index = 1 if name == "MobileNetV2" else 5  # the block forward_with_hidden reads
    _, hidden = net.forward_with_hidden(image, index)
    np.testing.assert_allclose(levels[infos.index(expanded)].numpy(), hidden.numpy(), rtol=1e-6)
    with pytest.raises(pxcore.PxError, match="no level at stride 2"):
        pxcore.create_backbone(name, expanded_strides=(2,), **args)
