"""pxcore-hrnet against pxcore's conformance checks and the zoo's weight layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.errors import PxError
from pxcore.testing import pytest_plugin as kit
from pxcore.testing.layouts import check_weight_layouts, load_manifest, random_state
from pxcore_hrnet.plugin import ARCHITECTURES, PADDLESEG, SEGMENTATION

DIST = "pxcore-hrnet"
LAYOUTS = Path(__file__).parent / "layouts"
MANIFEST = LAYOUTS / "HRNet_W18.json"

# With 1000 classes, BatchNorm running statistics included: PaddleClas 2.6's count.
PARAMETERS = 21_346_380


# slow: to_static of ~300 layers, twice (backbone and classifier)
test_conformance = kit.conformance_test(DIST, slow=True)


def test_registers_the_zoo_row_and_its_backbone():
    kit.check_entry_point(DIST, {"backbone": list(ARCHITECTURES), "model": [*ARCHITECTURES, *SEGMENTATION, *PADDLESEG]})
    spec = pxcore.get_registry().get("model", "HRNet_W18")
    assert spec.task == "classification" and spec.paddlex == {"class": "HRNet_W18_C"}
    assert spec.defaults == {"width": 18, "num_classes": 1000} and spec.metadata["input_size"] == 224


def test_parameter_count():
    kit.check_parameter_count("HRNet_W18", PARAMETERS, load_manifest(MANIFEST))


@pytest.mark.slow  # builds the net three times and writes 1,627 tensor files
def test_takes_the_official_weight_layouts(tmp_path):
    check_weight_layouts(MANIFEST, tmp_path)


def test_legacy_names_come_from_rules_that_match_the_manifest():
    with paddle.LazyGuard():  # shapes only: skip initialising the values
        net = pxcore.create_model("HRNet_W18").net
    manifest = load_manifest(MANIFEST)
    assert list(net.state_dict()) == list(manifest["pdparams"])  # PaddleClas's order too
    assert net.weight_aliases() == manifest["legacy"]


def test_backbone_reports_its_four_branches():
    backbone = pxcore.create_backbone("HRNet_W18")
    assert [(f.name, f.channels, f.stride) for f in backbone.out_features] == [
        ("C2", 18, 4), ("C3", 36, 8), ("C4", 72, 16), ("C5", 144, 32)]
    backbone.eval()
    with paddle.no_grad():
        levels = backbone(paddle.rand([1, 3, 64, 96]))
    assert [list(t.shape) for t in levels] == [
        [1, 18, 16, 24], [1, 36, 8, 12], [1, 72, 4, 6], [1, 144, 2, 3]]
    picked = pxcore.create_backbone("HRNet_W18", out_indices=(0, -1))
    assert [f.stride for f in picked.out_features] == [4, 32]


@pytest.mark.parametrize(("width", "count"), [
    # PaddleClas 2.6's HRNet_W32_C and HRNet_W48_C with 1000 classes
    (32, 41_303_464),
    pytest.param(48, 77_567_400, marks=pytest.mark.slow),
])
def test_width_is_a_parameter(width, count):
    with paddle.LazyGuard():  # shapes only: skip initialising the values
        net = pxcore.create_model("HRNet_W18", width=width).net
        backbone = pxcore.create_backbone("HRNet_W18", width=width)
    assert sum(int(np.prod(t.shape)) for t in net.state_dict().values()) == count
    assert [f.channels for f in backbone.out_features] == [width, 2 * width, 4 * width, 8 * width]


def test_width_must_be_a_positive_integer():
    with pytest.raises(PxError, match="width must be a positive integer"):
        pxcore.create_backbone("HRNet_W18", width=0)


def test_other_class_count_reinitialises_only_the_head(tmp_path):
    state = random_state(load_manifest(MANIFEST)["pdparams"])
    net = pxcore.create_model("HRNet_W18", num_classes=7, pretrained=kit.save_pdparams(state, tmp_path / "w.pdparams")).net
    loaded = net.state_dict()
    assert list(loaded["fc.weight"].shape) == [2048, 7]
    assert np.array_equal(loaded["conv_last.conv.weight"].numpy(), state["conv_last.conv.weight"])


def test_backbone_takes_its_classifier_checkpoint(tmp_path):
    kit.check_backbone_takes_classifier_weights("HRNet_W18", tmp_path)


def test_legacy_archive_loads_into_the_backbone(tmp_path):
    # the zoo's HRNet_W18_C archive, random values: the backbone drops the classifier's part
    manifest = load_manifest(MANIFEST)
    state = random_state(manifest["pdparams"])
    folder = kit.write_legacy_archive(tmp_path / "HRNet_W18_C_pretrained", manifest["legacy"], state)
    backbone = pxcore.create_backbone("HRNet_W18", pretrained=folder)
    loaded = backbone.state_dict()
    assert len(loaded) < len(state)
    for key, value in loaded.items():
        np.testing.assert_array_equal(value.numpy(), state[key])


def test_weights_of_another_width_fail_clearly(tmp_path):
    # an HRNet_W18_C archive given to a W32 net: same names, other shapes
    manifest = load_manifest(MANIFEST)
    folder = kit.write_legacy_archive(tmp_path / "HRNet_W18_C_pretrained", manifest["legacy"],
                                      {key: np.zeros(shape, "float32") for key, shape in manifest["pdparams"].items()})
    kit.check_weights_refused("HRNet_W18",
                              "do not fit HRNetClassifier",
                              "shape of conv_tr1_1.conv.weight: file [18, 256, 3, 3], model [32, 256, 3, 3]", width=32, pretrained=folder)


def test_weights_of_another_model_fail_clearly(tmp_path):
    path = tmp_path / "other.pdparams"
    paddle.save({"conv1._conv.weight": paddle.zeros([32, 3, 3, 3]),
                 "out.weight": paddle.zeros([1280, 1000])}, str(path))
    kit.check_weights_refused("HRNet_W18",
                              "not in the model: conv1._conv.weight",
                              "missing from the file: conv_layer1_1.conv.weight", pretrained=path)


def test_input_sizes():
    net = pxcore.create_model("HRNet_W18", num_classes=5).net
    net.eval()
    with paddle.no_grad():
        # the smallest, and sizes that are not multiples of 32 but still halve exactly
        for height, width in ((32, 32), (222, 96), (64, 125)):
            assert list(net(paddle.rand([1, 3, height, width])).shape) == [1, 5]
        with pytest.raises(PxError, match="a 100x72 input does not fit"):
            net(paddle.rand([1, 3, 100, 72]))


def test_upsampling_is_the_references_nearest_interpolation():
    from pxcore.nn.resize import upsample_nearest

    x = paddle.rand([2, 3, 5, 7])
    for factor in (2, 4, 8):
        like = paddle.zeros([2, 3, 5 * factor, 7 * factor])
        expected = paddle.nn.functional.interpolate(x, scale_factor=factor, mode="nearest")
        np.testing.assert_array_equal(upsample_nearest(x, factor, like).numpy(), expected.numpy())


def test_paddledetection_0x_fusions_align_corners():
    # fluid resize_nearest(scale=f) with its default align_corners=True: Paddle's
    # nearest_interp operator, which F.interpolate no longer reaches
    from pxcore_hrnet.hrnet import HRNet, upsample_branch

    x = paddle.rand([2, 3, 5, 7])
    for factor in (2, 4, 8):
        size = (5 * factor, 7 * factor)
        expected = paddle._C_ops.nearest_interp(x, None, None, None, "NCHW", -1, *size, [],
                                                "nearest", True, 1)
        got = upsample_branch(x, factor, paddle.zeros([2, 3, *size]), "nearest_align_corners")
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    corners, nearest = HRNet(width=8, fuse_upsample="nearest_align_corners"), HRNet(width=8)
    corners.set_state_dict(nearest.state_dict())
    corners.eval()
    nearest.eval()
    # only the fusions by 4 and 8 (stage 3 on) differ, and so the outputs
    x = paddle.rand([1, 3, 64, 64])
    with paddle.no_grad():
        a, b = corners.forward_features(x), nearest.forward_features(x)
    assert not np.allclose(a[0].numpy(), b[0].numpy())
    with pytest.raises(PxError, match="upsamples bilinearly in its fusions"):
        pxcore.create_model("HRNet_W18_seg", fuse_upsample="nearest_align_corners")
