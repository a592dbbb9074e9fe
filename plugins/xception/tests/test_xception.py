"""pxcore-xception's tests: pxcore's conformance checks, exact sizes, the feature levels
DeepLabv3+ needs, and the official weight layouts (PaddleClas .pdparams, the zoo's
Paddle 1.x archives, PaddleX 1.x's names) recorded in tests/layouts/ by
tools/make_layouts.py from the reference implementations."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.errors import PxError, WeightsError
from pxcore.testing import check_static_parity
from pxcore.testing import pytest_plugin as kit
from pxcore.testing.layouts import check_weight_layouts, random_state
from pxcore.weights import fit_state, write_legacy_tensor
from pxcore_xception.plugin import ARCHITECTURES

DIST = "pxcore-xception"

# With 1000 classes, BatchNorm running statistics included: PaddleClas 2.6's
# Xception41_deeplab and Xception65_deeplab.
PARAMETER_COUNTS = {
    "Xception41": 27_084_872,
    "Xception65": 40_101_512,
}
# Building, converting or loading Xception65 takes several seconds on two cores.
SLOW = {"Xception65"}

manifest_for = kit.layout_manifests(__file__)

test_conformance = kit.conformance_test(DIST, slow=SLOW)


def test_found_through_its_entry_point():
    kit.check_entry_point(DIST, {"backbone": list(ARCHITECTURES), "model": list(ARCHITECTURES)})
    kit.check_classifier_presets(ARCHITECTURES)


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_parameter_count_is_exact(name):
    kit.check_parameter_count(name, PARAMETER_COUNTS[name], manifest_for(name))


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_legacy_naming_rules_match_the_reference_names(name):
    with paddle.LazyGuard():
        net = pxcore.create_model(name).net
    manifest = manifest_for(name)
    assert net.weight_aliases() == {**manifest["legacy"], **manifest["paddlex_legacy"]}
    assert list(net.state_dict()) == list(manifest["pdparams"])


@pytest.mark.parametrize("name", kit.by_model(ARCHITECTURES, SLOW))
def test_legacy_names_place_every_tensor(name):
    # what reading the archive gives, keyed by Paddle 1.x name, fitted to the net
    manifest = manifest_for(name)
    net = pxcore.create_model(name).net
    rng = np.random.default_rng(0)
    archive = {legacy: rng.standard_normal(manifest["pdparams"][key]).astype("float32")
               for legacy, key in manifest["legacy"].items()}
    fitted, notes = fit_state(net, archive, "archive")
    assert not notes
    assert {key: fitted[key].shape for key in fitted} == {
        key: tuple(shape) for key, shape in manifest["pdparams"].items()}
    for legacy, key in manifest["legacy"].items():
        assert fitted[key] is archive[legacy]


@pytest.mark.parametrize("name", kit.by_model(ARCHITECTURES, SLOW))
def test_takes_the_zoo_archive_layout(name, scratch):
    # PaddleClas's .pdparams first (check_weight_layouts' first step), then the archive's
    # per-variable directory and .tar
    check_weight_layouts(manifest_for(name), scratch)


def test_takes_a_paddlex_model_keyed_by_paddle1_names(scratch):
    # PaddleX 1.x saved a trained Xception classifier as one .pdparams keyed by variable
    # names, its fc being "weights" and "bias"
    manifest = manifest_for("Xception41")
    names = {**{legacy: key for legacy, key in manifest["legacy"].items() if not key.startswith("_fc.")},
             **manifest["paddlex_legacy"]}
    state = random_state(manifest["pdparams"])
    state["_fc.weight"], state["_fc.bias"] = state["_fc.weight"][:, :6], state["_fc.bias"][:6]
    path = kit.save_pdparams({legacy: state[key] for legacy, key in names.items()}, scratch / "model.pdparams")
    loaded = pxcore.create_model("Xception41", num_classes=6, pretrained=path).net.state_dict()
    for key, value in state.items():
        np.testing.assert_array_equal(loaded[key].numpy(), value)


# --- feature levels ---------------------------------------------------------------------

@pytest.mark.parametrize(("output_stride", "levels"), [
    (32, [("C2", 256, 4), ("C3", 728, 8), ("C4", 1024, 16), ("C5", 2048, 32)]),
    (16, [("C2", 256, 4), ("C3", 728, 8), ("C4", 2048, 16)]),
    (8, [("C2", 256, 4), ("C3", 2048, 8)]),
])
@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_levels_at_each_output_stride(name, output_stride, levels):
    with paddle.LazyGuard():
        backbone = pxcore.create_backbone(name, output_stride=output_stride)
    assert [(f.name, f.channels, f.stride) for f in backbone.out_features] == levels


@pytest.mark.parametrize("size", [64, 67])
def test_deeplab_levels_on_small_and_odd_inputs(size):
    backbone = pxcore.create_backbone("Xception41", output_stride=16)
    backbone.eval()
    outputs = backbone(paddle.rand([1, 3, size, size]))
    for info, out in zip(backbone.out_features, outputs, strict=True):
        side = -(-size // info.stride)  # every stride-2 conv rounds up
        assert list(out.shape) == [1, info.channels, side, side]


@pytest.mark.parity
def test_deeplab_backbone_converts_to_static():
    backbone = pxcore.create_backbone("Xception41", output_stride=16, out_indices=(0, -1))
    check_static_parity(backbone, [paddle.rand([1, 3, 64, 64])], "Xception41 at output stride 16")


def test_stride_4_level_is_the_deeplab_decoder_feature():
    # PaddleX 1.x and PaddleSeg's static DeepLabv3+ (the zoo's weights) take the decoder's
    # low-level feature at decode point 2: entry block 2's second separable conv (its
    # BatchNorm output, before the ReLU that starts the third)
    backbone = pxcore.create_backbone("Xception41", output_stride=16, out_indices=(0,))
    backbone.eval()
    x = paddle.rand([1, 3, 64, 64])
    with paddle.no_grad():
        (low_level,) = backbone(x)
        block1 = getattr(backbone, "xception_41/entry_flow/block1")
        block2 = getattr(backbone, "xception_41/entry_flow/block2")
        y, _ = block1(backbone._conv2(backbone._conv1(x)))
        relu = paddle.nn.functional.relu
        expected = block2._conv2(relu(block2._conv1(relu(y))))
    np.testing.assert_allclose(low_level.numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)


def test_output_stride_follows_the_deeplab_code():
    # past the output stride a block's stride becomes 1; exit block 2 keeps dilation 2
    with paddle.LazyGuard():
        at16 = pxcore.create_backbone("Xception65", output_stride=16)
        at8 = pxcore.create_backbone("Xception65", output_stride=8)
    assert at16._exit_flow_1._conv3._conv1._stride == [1, 1]
    assert at16._exit_flow_2._conv1._conv1._dilation == [2, 2]
    assert getattr(at8, "xception_65/entry_flow/block3")._short._conv._stride == [1, 1]
    assert getattr(at8, "xception_65/entry_flow/block2")._short._conv._stride == [2, 2]


def test_the_classifier_on_a_small_input():
    net = pxcore.create_model("Xception41", num_classes=7).net
    net.eval()
    assert list(net(paddle.rand([2, 3, 32, 32])).shape) == [2, 7]


def test_unknown_depth_or_output_stride_is_refused():
    with pytest.raises(PxError, match="depth 50"):
        pxcore.create_backbone("Xception65", depth=50)
    with pytest.raises(PxError, match="output_stride 4"):
        pxcore.create_backbone("Xception65", output_stride=4)


# --- weights that do not fit ------------------------------------------------------------

def _pdparams(name: str, folder: Path) -> Path:
    return kit.save_pdparams(random_state(manifest_for(name)["pdparams"]), folder / f"{name}.pdparams")


@pytest.mark.slow
def test_weights_of_another_depth_are_refused_naming_the_tensors(scratch):
    kit.check_weights_refused("Xception65",
                              "do not fit XceptionClassifier",
                              "missing from the file: xception_65/entry_flow/block1._conv1._bn1._mean",
                              "not in the model: xception_41/middle_flow/block8._conv3._conv2.weight",
                              pretrained=_pdparams("Xception41", scratch))


def test_a_broken_weight_file_is_refused(scratch):
    path = _pdparams("Xception41", scratch)
    path.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(WeightsError, match="not a readable"):
        pxcore.create_model("Xception41", pretrained=path)


def test_imagenet_weights_for_another_class_count_keep_a_fresh_head(scratch):
    path = _pdparams("Xception41", scratch)
    loaded = pxcore.create_model("Xception41", num_classes=5, pretrained=path).net.state_dict()
    assert list(loaded["_fc.weight"].shape) == [2048, 5]


def test_backbone_takes_its_classifier_checkpoint(tmp_path):
    # as a .pdparams and as one keyed by the Paddle 1.x names
    kit.check_backbone_takes_classifier_weights("Xception41", tmp_path, legacy="pdparams", output_stride=16,
                                                aliases=manifest_for("Xception41")["legacy"])


def test_backbone_takes_the_zoo_archive(tmp_path):
    classifier = pxcore.create_model("Xception41", num_classes=1000)
    state = {k: v.numpy() for k, v in classifier.net.state_dict().items()}
    folder = tmp_path / "Xception41_deeplab_pretrained"
    for legacy, key in manifest_for("Xception41")["legacy"].items():
        (folder / legacy).parent.mkdir(parents=True, exist_ok=True)
        write_legacy_tensor(folder / legacy, state[key])
    archive = tmp_path / "Xception41_deeplab_pretrained.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(folder, arcname=folder.name)
    backbone = pxcore.create_backbone("Xception41", output_stride=16, pretrained=archive)
    for key, value in backbone.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), state[key])
