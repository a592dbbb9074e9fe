"""The HRNet rows' Paddle 1.x upsampling without the reference code
(test_rcnn_hrnet_reference.py compares them with PaddleX 1.3's network): HRFPN's
corner-aligned bilinear join, the options reaching the network from a zoo archive, and
an export to ONNX computing what the model does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

import pxcore
from pxcore.errors import PxError
from pxcore.nn.features import FeatureInfo
from pxcore.testing import pytest_plugin as kit
from pxcore.testing.layouts import load_manifest
from pxcore.weights import write_legacy_tensor
from pxcore_rcnn.hrfpn import HRFPN
from pxcore_rcnn.zoo_rows import legacy_args

LAYOUTS = Path(__file__).parent / "layouts"
FASTER, MASK = "FasterRCNN-HRNet_W18-FPN", "MaskRCNN-HRNet_W18-FPN"
BRANCHES = [FeatureInfo(f"C{i + 2}", c, 4 * 2 ** i) for i, c in enumerate((4, 6, 8, 10))]


def _row(name):
    return next(e for e in pxcore.zoo.catalog() if e.name == name)


def test_the_hrnet_rows_name_their_codes_upsampling():
    # PaddleDetection 0.5 trained the Faster row (fusions: resize_nearest with fluid's
    # default align_corners=True), PaddleX 1.3 the Mask row (align_corners=False); both
    # joined HRFPN's branches with resize_bilinear's default, corners aligned
    faster, mask = dict(_row(FASTER).legacy_args), dict(_row(MASK).legacy_args)
    assert faster["backbone_args"] == {"fuse_upsample": "nearest_align_corners"}
    assert mask["backbone_args"] == {"fuse_upsample": "nearest"}
    assert faster["neck_args"] == mask["neck_args"] == {"upsample": "bilinear_align_corners"}
    for key, value in legacy_args(fpn=True).items():  # and the conventions every row has
        assert faster[key] == mask[key] == value


@pytest.mark.parametrize(("upsample", "interpolate"), [
    ("bilinear", {"align_corners": False}),  # PaddleDetection 2.x: F.interpolate(scale_factor)
    ("bilinear_align_corners", {"align_corners": True}),  # fluid resize_bilinear's default
])
def test_hrfpn_joins_the_branches_as_each_code_did(upsample, interpolate):
    paddle.seed(0)
    neck = HRFPN(BRANCHES, channels=8, upsample=upsample)
    features = [paddle.rand([1, f.channels, 48 // 2 ** i, 40 // 2 ** i]) for i, f in enumerate(BRANCHES)]
    joined = [features[0]] + [F.interpolate(f, size=[48, 40], mode="bilinear", **interpolate)
                              for f in features[1:]]
    expected = neck.fpn_convs[0](neck.reduction(paddle.concat(joined, axis=1)))
    np.testing.assert_allclose(neck(features)[0].numpy(), expected.numpy(), atol=1e-5)


def test_bad_upsampling_arguments_fail_clearly():
    with pytest.raises(PxError, match="upsample must be one of bilinear, bilinear_align_corners"):
        HRFPN(BRANCHES, upsample="nearest")
    with pytest.raises(PxError, match="neck_args .* do not fit the FPN neck"):
        pxcore.create_model("FasterRCNN-ResNet18-FPN", num_classes=2, fpn_channels=16,
                            neck_args={"upsample": "bilinear_align_corners"})
    with pytest.raises(PxError, match="C4 .* has none"):
        pxcore.create_model("FasterRCNN-ResNet50", num_classes=2, neck_args={"upsample": "x"})


@pytest.mark.slow  # builds the full HRNet R-CNN four times from 1,549 tensor files
def test_the_archive_builds_them_and_model_yml_keeps_them(tmp_path):
    manifest = load_manifest(LAYOUTS / f"{FASTER}.json")
    rng = np.random.default_rng(0)
    folder = tmp_path / "faster_rcnn_hrnetv2p_w18_1x"
    folder.mkdir()
    shapes = {**{name: manifest["pdparams"][key] for name, key in manifest["legacy"].items()},
              **manifest["legacy_converted"]}
    for name, shape in shapes.items():
        value = (rng.standard_normal(shape) * 0.05).astype("float32")
        write_legacy_tensor(folder / name, np.abs(value) + 1 if name.endswith("_variance") else value)
    model = pxcore.create_model(FASTER, pretrained=folder)
    assert model.build_args["backbone_args"] == {"fuse_upsample": "nearest_align_corners"}
    assert model.build_args["neck_args"] == {"upsample": "bilinear_align_corners"}
    assert model.net.backbone.fuse_upsample == "nearest_align_corners"
    assert model.net.neck.upsample == "bilinear_align_corners"
    named = pxcore.create_model(FASTER, pretrained=folder, neck_args={"upsample": "bilinear"})
    assert named.net.neck.upsample == "bilinear"  # a named argument wins
    assert named.net.backbone.fuse_upsample == "nearest_align_corners"  # the others stay

    model.save(tmp_path / "saved")
    reloaded = pxcore.load_model(tmp_path / "saved")
    assert reloaded.net.backbone.fuse_upsample == "nearest_align_corners"
    assert reloaded.net.neck.upsample == "bilinear_align_corners"
    image = paddle.to_tensor(rng.standard_normal((1, 3, 64, 96)).astype("float32"))
    model.net.eval()
    reloaded.net.eval()
    with paddle.no_grad():
        for a, b in zip(model.net._features(image), reloaded.net._features(image), strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.slow  # an HRNet R-CNN export and its ONNX conversion
def test_an_export_with_the_0x_upsampling_runs_as_the_model(tmp_path):
    # the fusions' and HRFPN's corner-aligned resizes are gathers in the exported graph
    paddle.seed(0)
    model = pxcore.create_model(FASTER, num_classes=2, fpn_channels=16, box_head_hidden=32,
                                test_proposals=(50, 10), score_threshold=0.0, keep_top_k=10,
                                **dict(_row(FASTER).legacy_args))
    assert model.net.backbone.fuse_upsample == "nearest_align_corners"
    # batch norms given an input's statistics: untrained, the branches' sums reach 1e9
    # and the scores overflow
    for layer in model.net.sublayers():
        if isinstance(layer, paddle.nn.layer.norm._BatchNormBase):
            layer._momentum = 0.0
    model.net.train()
    with paddle.no_grad():
        model.net._features(paddle.randn([2, 3, 64, 96]))
    kit.check_detector_export(model, tmp_path, keep_top_k=10)
