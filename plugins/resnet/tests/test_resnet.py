"""pxcore-resnet's tests: pxcore's conformance checks, exact sizes, and the official
weight layouts (PaddleClas .pdparams, the zoo's Paddle 1.x archives) recorded in
tests/layouts/ by tools/make_layouts.py from the reference implementations."""

import math

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.errors import PxError, WeightsError
from pxcore.testing import pytest_plugin as kit
from pxcore.testing.layouts import check_weight_layouts, random_state
from pxcore_resnet.legacy_names import legacy_weight_names
from pxcore_resnet.plugin import ARCHITECTURES, WEIGHT_VARIANTS, architecture_of, model_names
from pxcore_resnet.resnet import ARCHITECTURES as DEPTHS

DIST = "pxcore-resnet"

# With 1000 classes, BatchNorm running statistics included: the PaddleClas 2.6 nets' sizes.
PARAMETER_COUNTS = {
    "ResNet18": 11_703_464,
    "ResNet34": 21_819_048,
    "ResNet50": 25_610_152,
    "ResNet101": 44_654_504,
    "ResNet50_vd": 25_629_512,
    "ResNet101_vd": 44_673_864,
}


def architecture_name(model: str) -> str:
    return WEIGHT_VARIANTS.get(model, model)


def is_slow(name: str) -> bool:
    """ResNet101-size nets take several seconds per check (building initialises ~45M
    values; to_static converts ~500 layers): marked slow, still run by default and in CI."""
    depth, _ = architecture_of(name)
    return depth >= 101


def manifest_for(model: str) -> dict:
    return {**kit.layout_manifests(__file__)(architecture_name(model)), "model": model}


# Less the weight variants (_ssld): each builds exactly its base architecture's spec
# (test_weight_variants_build_their_architectures_spec), so the checks on the base are
# the checks on it.
test_conformance = kit.conformance_test(DIST, slow=is_slow, leave_out=WEIGHT_VARIANTS)


def test_found_through_its_entry_point():
    kit.check_entry_point(DIST, {"backbone": list(ARCHITECTURES), "model": model_names()})


def test_ssld_models_share_their_architecture():
    registry = pxcore.get_registry()
    for ssld, base in WEIGHT_VARIANTS.items():
        assert registry.get("model", ssld).defaults == registry.get("model", base).defaults
        assert registry.find("backbone", ssld) is None
    spec = registry.get("model", "ResNet50_vd")
    assert spec.factory == "pxcore_resnet.resnet:ResNetClassifier"
    assert spec.paddlex == {"class": "ResNet50_vd"} and spec.metadata["input_size"] == 224


def test_weight_variants_build_their_architectures_spec():
    """An _ssld row differs from its base only in name, zoo row and weights: everything
    that building it, the conformance checks and loading weights read is the base's
    (so those run on the base only)."""
    registry = pxcore.get_registry()
    for ssld, base in WEIGHT_VARIANTS.items():
        variant, architecture = registry.get("model", ssld), registry.get("model", base)
        for field in ("kind", "factory", "defaults", "metadata", "task", "distribution"):
            assert getattr(variant, field) == getattr(architecture, field), f"{ssld}: {field}"
        with paddle.LazyGuard():
            nets = [pxcore.create_model(name, num_classes=3).net for name in (ssld, base)]
        assert type(nets[0]) is type(nets[1])
        assert {k: v.shape for k, v in nets[0].state_dict().items()} == {
            k: v.shape for k, v in nets[1].state_dict().items()}
        assert nets[0].weight_aliases() == nets[1].weight_aliases()


@pytest.mark.parametrize("name", model_names())
def test_parameter_count_is_exact(name):
    kit.check_parameter_count(name, PARAMETER_COUNTS[architecture_name(name)], manifest_for(name))


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_legacy_naming_rules_match_the_reference_names(name):
    depth, variant = architecture_of(name)
    block_kind, stage_depths = DEPTHS[depth]
    assert legacy_weight_names(block_kind, stage_depths, variant) == manifest_for(name)["legacy"]


# the _ssld rows share their base's manifest and build (see above)
@pytest.mark.parametrize("name", kit.by_model(ARCHITECTURES, is_slow))
def test_takes_the_official_weight_layouts(name, scratch):
    check_weight_layouts(manifest_for(name), scratch)


@pytest.mark.parametrize("size", [32, 33, 50])
def test_backbone_levels_on_small_and_odd_inputs(size):
    net = pxcore.create_backbone("ResNet50_vd")
    net.eval()
    assert [(f.name, f.channels, f.stride) for f in net.out_features] == [
        ("C2", 256, 4), ("C3", 512, 8), ("C4", 1024, 16), ("C5", 2048, 32)]
    outputs = net(paddle.rand([1, 3, size, size]))
    for info, out in zip(net.out_features, outputs, strict=True):
        side = math.ceil(size / info.stride)
        assert list(out.shape) == [1, info.channels, side, side]


def test_classifier_on_a_small_input():
    model = pxcore.create_model("ResNet18", num_classes=7)
    model.net.eval()
    assert list(model(paddle.rand([2, 3, 32, 32])).shape) == [2, 7]


def test_unknown_depth_or_variant_is_refused():
    with pytest.raises(PxError, match="depth 42"):
        pxcore.create_backbone("ResNet50", depth=42)
    with pytest.raises(PxError, match="variant 'vc'"):
        pxcore.create_model("ResNet50", variant="vc")


# --- weights that do not fit --------------------------------------------------------------

def _official_state(name: str) -> dict:
    return random_state(manifest_for(name)["pdparams"])


def test_weights_of_another_variant_are_refused_naming_the_tensors(scratch):
    path = kit.save_pdparams(_official_state("ResNet18"), scratch / "ResNet18.pdparams")
    kit.check_weights_refused("ResNet34",
                              "missing from the file: blocks.15.conv0.conv.weight", pretrained=path)
    kit.check_weights_refused("ResNet50_vd",
                              "shape of stem.0.conv.weight: file [64, 3, 7, 7], model [32, 3, 3, 3]",
                              "missing from the file: stem.1.conv.weight", pretrained=path)


def test_a_broken_weight_file_is_refused(scratch):
    path = kit.save_pdparams(_official_state("ResNet18"), scratch / "ResNet18.pdparams")
    path.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(WeightsError, match="not a readable"):
        pxcore.create_model("ResNet18", pretrained=path)


def test_a_legacy_archive_with_a_missing_or_broken_variable_is_refused(scratch):
    manifest, state = manifest_for("ResNet18"), _official_state("ResNet18")
    folder = kit.write_legacy_archive(scratch / "ResNet18_pretrained", {
        legacy: key for legacy, key in manifest["legacy"].items() if legacy != "bn3a_branch1_variance"}, state)
    with pytest.raises(WeightsError, match=r"missing from the file: blocks\.2\.short\.bn\._variance"):
        pxcore.create_model("ResNet18", pretrained=folder)
    (folder / "bn3a_branch1_variance").write_bytes(b"\0" * 10)
    with pytest.raises(WeightsError, match="bn3a_branch1_variance: not a Paddle tensor file"):
        pxcore.create_model("ResNet18", pretrained=folder)


def test_a_pdparams_keyed_by_paddle1_names_loads(scratch):
    # PaddleX 1.x saved its models' weights as one .pdparams keyed by variable names
    manifest, state = manifest_for("ResNet18"), _official_state("ResNet18")
    path = kit.save_pdparams({name: state[key] for name, key in manifest["legacy"].items()}, scratch / "model.pdparams")
    loaded = pxcore.create_model("ResNet18", pretrained=path).net.state_dict()
    for key in ("stem.0.bn._variance", "blocks.2.short.conv.weight", "fc.bias"):
        assert np.array_equal(loaded[key].numpy(), state[key])


def test_imagenet_weights_for_another_class_count_keep_a_fresh_head(scratch):
    state = _official_state("ResNet18")
    path = kit.save_pdparams(state, scratch / "ResNet18.pdparams")
    model = pxcore.create_model("ResNet18", num_classes=5, pretrained=path)
    loaded = model.net.state_dict()
    assert np.array_equal(loaded["blocks.7.conv1.bn._mean"].numpy(), state["blocks.7.conv1.bn._mean"])
    assert list(loaded["fc.weight"].shape) == [512, 5]


@pytest.mark.parametrize("name", ["ResNet18", "ResNet50_vd"])
def test_backbone_takes_its_classifier_checkpoint(name, tmp_path):
    # as a .pdparams and as a Paddle 1.x archive
    kit.check_backbone_takes_classifier_weights(name, tmp_path, legacy="archive")
