"""PaddleX 2.x's segmenter directories, loaded by ``pxcore.load_model``
(``pxcore.migrate.segmenters``).

Each fixture is written as PaddleX 2.1.0's ``BaseModel.save_model``
(``paddlex/cv/models/base.py``) writes it: ``paddle.save(net.state_dict(),
"model.pdparams")`` under PaddleSeg 2.x's keys (PaddleSeg's UNet, ``paddleseg/models/
unet.py``, registers its logits conv twice, ``self.cls = self.conv``, so its state dict
holds ``cls.*`` and ``conv.*``, the same tensors), and ``yaml.dump(get_model_info())`` with
``_init_params`` as ``BaseSegmenter.__init__`` (``paddlex/cv/models/segmenter.py``) records
it: ``locals()`` of ``(self, model_name, num_classes, use_mixed_loss, params)``, of which
``get_model_info`` keeps ``num_classes`` and ``use_mixed_loss``. The transforms are
``{op class name: op.__dict__}`` of PaddleX 2.1's ``Resize`` and ``Normalize``
(``paddlex/cv/transforms/operators.py``), ``target_size`` a tuple as the op stores it.

PaddleX 2.1's ``HRNet`` is PaddleSeg's ``FCN`` on ``HRNet_W<width>`` (keys ``backbone.*`` and
``head.*``), its model.yml keeping no width (PaddleX rebuilds 48). Its ``DeepLabV3P`` is
PaddleSeg's on ``ResNet50_vd`` / ``ResNet101_vd`` at output stride 8 (``backbone.bb_*``,
``head.aspp.*``, ``head.decoder.*``), its model.yml keeping no backbone (PaddleX rebuilds
ResNet50_vd).

The weights come from pxcore's ``UNet_PaddleSeg`` / ``HRNet_W18_PaddleSeg`` renamed to
PaddleSeg's keys, so the
loaded model runs the same code on the same tensors (predictions compared exactly);
tests/test_migrate_paddlex_reference.py checks the network against PaddleSeg 2.8's own.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest
from test_migrate_paddlex import _image, _randomize, _state, write_paddlex2_dir

import pxcore as px
from pxcore.errors import PxError

paddle = pytest.importorskip("paddle")
pytest.importorskip("pxcore_unet", reason="needs plugins/unet and hrnet installed")
pytest.importorskip("pxcore_hrnet", reason="needs plugins/unet and hrnet installed")
pytestmark = pytest.mark.uses_installed_plugins

LABELS = ["bg", "a", "b"]
PARAMS = {"num_classes": 3, "use_mixed_loss": False}  # all PaddleX 2.1 keeps
TRANSFORMS = [{"Resize": {"target_size": (64, 96), "interp": "LINEAR", "keep_ratio": False}},
              {"Normalize": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
                             "min_val": [0, 0, 0], "max_val": [255.0, 255.0, 255.0],
                             "is_scale": True}}]


def _paddleseg_dir(folder, cls="UNet", params=PARAMS, preset=None, **build):
    preset = preset or {"UNet": "UNet_PaddleSeg", "HRNet": "HRNet_W18_PaddleSeg",
                        "FastSCNN": "Fast-SCNN_PaddleSeg",
                        "DeepLabV3P": "DeepLabV3P_ResNet50_vd_PaddleSeg"}[cls]
    source = px.create_model(preset, num_classes=3, **build)
    _randomize(source.net)
    theirs = {ours: name for name, ours in source.net.weight_aliases().items()}
    state = _state(source.net, theirs)
    if cls == "UNet":
        assert "logit.weight" not in state and "cls.bias" in state  # PaddleSeg's names
        state["conv.weight"], state["conv.bias"] = state["cls.weight"], state["cls.bias"]
    elif cls == "FastSCNN":  # PaddleSeg's auxiliary head, which PaddleX 2.1 saves too
        assert "feature_fusion.dwconv._conv.weight" in state
        state["auxlayer.conv.weight"] = np.ones((3, 32, 1, 1), "float32")
    elif cls == "DeepLabV3P":
        assert "head.aspp.aspp_blocks.3.piontwise_conv._conv.bias" in state
        assert "head.decoder.conv.bias" in state and "backbone.bb_3_2.conv1._conv.weight" in state
    else:
        assert "head.cls.bias" in state and "backbone.la1.bb_layer2_1.conv_down._conv.weight" in state
    write_paddlex2_dir(folder, {"class": cls, "type": "segmenter", "num_classes": 3,
                                "labels": LABELS}, params, TRANSFORMS, state)
    return source


def _paddleseg_unet_dir(folder, upsample_mode="bilinear", params=PARAMS):
    return _paddleseg_dir(folder, "UNet", params, upsample_mode=upsample_mode)


def test_paddlex2_unet_loads_and_predicts_as_its_weights(tmp_path):
    source = _paddleseg_unet_dir(tmp_path / "unet")
    model = px.load_model(tmp_path / "unet")
    assert model.name == "UNet_PaddleSeg" and model.labels == LABELS
    net = model.net
    assert net.conv_bias and net.upsample_mode == "bilinear"
    assert not net.decode[0].align_corners  # PaddleX 2.1's UNet default, half-pixel
    source.eval_transforms = px.transforms.compose([
        {"type": "Resize", "target_size": [96, 64], "interp": "LINEAR"},
        {"type": "Normalize", "mean": [0.5] * 3, "std": [0.5] * 3}])
    assert model.eval_transforms.to_config() == source.eval_transforms.to_config()
    for image in (_image(3, 50, 70), _image(4, 64, 96)):
        got, want = model.predict(image), source.predict(image)
        assert got["label_map"].shape == image.shape[:2]
        np.testing.assert_array_equal(got["label_map"], want["label_map"])
        assert set(got) == set(want)
        for key in got:
            np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(want[key]))


def test_deconv_tensors_build_the_deconv_unet(tmp_path, caplog):
    """model.yml never stores use_deconv; the tensors of a deconv UNet build one (and the
    log says that PaddleX 2.1 itself would rebuild the bilinear one)."""
    source = _paddleseg_unet_dir(tmp_path / "unet", upsample_mode="deconv")
    with caplog.at_level(logging.WARNING, logger="pxcore"):
        model = px.load_model(tmp_path / "unet")
    assert model.net.upsample_mode == "deconv"
    assert "use_deconv=True, which is built" in caplog.text
    x = paddle.to_tensor(np.random.default_rng(0).standard_normal((1, 3, 32, 48)).astype("float32"))
    np.testing.assert_array_equal(model.net(x).numpy(), source.net(x).numpy())


def test_stated_arguments_are_taken_as_paddlex_takes_them(tmp_path):
    """A model.yml that states UNet's own arguments (PaddleX's constructor takes them)."""
    _paddleseg_unet_dir(tmp_path / "unet", params={**PARAMS, "align_corners": True})
    assert px.load_model(tmp_path / "unet").net.decode[0].align_corners


def test_paddlex2_hrnet_w18_loads_with_its_width_from_the_tensors(tmp_path, caplog):
    """model.yml keeps no width (PaddleX 2.1 rebuilds 48): the tensors' 18 is built, with
    PaddleSeg 2.x's padding, half-pixel resizes and biased FCN head."""
    source = _paddleseg_dir(tmp_path / "hrnet", "HRNet")
    with caplog.at_level(logging.WARNING, logger="pxcore"):
        model = px.load_model(tmp_path / "hrnet")
    assert "width=18, which is built" in caplog.text
    assert model.name == "HRNet_W18_PaddleSeg" and model.labels == LABELS
    net = model.net
    assert net.backbone.fuse_upsample == "bilinear_half_pixel" and not net.align_corners
    assert net.conv_bias and net.backbone.conv_layer1_1.conv._padding_algorithm == "SAME"
    image = _image(5, 64, 96)
    source.eval_transforms = model.eval_transforms
    got, want = model.predict(image), source.predict(image)
    for key in got:
        np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(want[key]))


def test_paddlex2_fastscnn_loads_and_predicts_as_its_weights(tmp_path):
    source = _paddleseg_dir(tmp_path / "fastscnn", "FastSCNN")
    model = px.load_model(tmp_path / "fastscnn")
    assert model.name == "Fast-SCNN_PaddleSeg" and model.net.variant == "paddleseg"
    assert not model.net.align_corners
    source.eval_transforms = model.eval_transforms
    image = _image(6, 64, 96)
    got, want = model.predict(image), source.predict(image)
    for key in got:
        np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(want[key]))


def test_hrnet_width_paddlex_does_not_take_refused(tmp_path):
    folder = write_paddlex2_dir(tmp_path / "h", {"class": "HRNet", "type": "segmenter",
                                                 "num_classes": 3, "labels": LABELS},
                                {**PARAMS, "width": 32}, TRANSFORMS, {"w": np.zeros(1, "float32")})
    with pytest.raises(PxError, match="width=32; PaddleX 2.1's HRNet takes 18 or 48"):
        px.load_model(folder)


def test_paddlex2_deeplabv3p_loads_with_its_backbone_from_the_tensors(tmp_path, caplog):
    """model.yml keeps no backbone (PaddleX 2.1 rebuilds ResNet50_vd): a ResNet101_vd's
    tensors build ResNet101_vd, dilated to output stride 8, with PaddleSeg 2.x's head."""
    source = _paddleseg_dir(tmp_path / "deeplab", "DeepLabV3P",
                            preset="DeepLabV3P_ResNet101_vd_PaddleSeg")
    with caplog.at_level(logging.WARNING, logger="pxcore"):
        model = px.load_model(tmp_path / "deeplab")
    assert "those of ResNet101_vd, which is built" in caplog.text
    assert model.name == "DeepLabV3P_ResNet101_vd_PaddleSeg" and model.labels == LABELS
    net = model.net
    assert net.variant == "paddleseg" and not net.align_corners and net.output_stride == 8
    assert net.backbone.depth == 101 and net.encoder.dilations == (12, 24, 36)
    image = _image(7, 64, 96)
    source.eval_transforms = model.eval_transforms
    got, want = model.predict(image), source.predict(image)
    for key in got:
        np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(want[key]))


@pytest.mark.parametrize("stated, message", [
    ({"output_stride": 16}, "aspp_ratios=(1, 12, 24, 36); pxcore builds PaddleSeg's DeepLabV3P "
                            "with backbone_indices=(0, 3), aspp_ratios=(1, 6, 12, 18)"),
    ({"output_stride": 32}, "output_stride=32; PaddleSeg's ResNet_vd takes 8 or 16"),
    ({"aspp_out_channels": 128}, "aspp_out_channels=128"),
])
def test_deeplabv3p_arguments_pxcore_does_not_build_refused(tmp_path, stated, message):
    folder = write_paddlex2_dir(tmp_path / "d", {"class": "DeepLabV3P", "type": "segmenter",
                                                 "num_classes": 3, "labels": LABELS},
                                {**PARAMS, **stated}, TRANSFORMS, {"w": np.zeros(1, "float32")})
    with pytest.raises(PxError, match=re.escape(message)):
        px.load_model(folder)


def test_deeplabv3p_stated_output_stride_16_with_its_rates_is_built(tmp_path):
    """A model.yml stating output_stride 16 and PaddleSeg's rates for it (PaddleX's
    constructor takes both) builds the stride-16 network."""
    _paddleseg_dir(tmp_path / "d", "DeepLabV3P",
                   params={**PARAMS, "output_stride": 16, "aspp_ratios": [1, 6, 12, 18]})
    net = px.load_model(tmp_path / "d").net
    assert net.output_stride == 16 and net.encoder.dilations == (6, 12, 18)
    assert [f.stride for f in net.backbone.out_features] == [4, 16]


@pytest.mark.parametrize("cls, message", [
    ("BiSeNetV2", "BiSeNetV2 (detail and semantic branches"),
    ("PSPNet", "not one of PaddleX 2.1's segmenters"),
])
def test_segmenters_without_a_network_refused_by_name(tmp_path, cls, message):
    folder = write_paddlex2_dir(tmp_path / cls, {"class": cls, "type": "segmenter",
                                                 "num_classes": 3, "labels": LABELS},
                                PARAMS, TRANSFORMS, {"w": np.zeros(1, "float32")})
    with pytest.raises(PxError, match=message.replace("(", r"\(")) as error:
        px.load_model(folder)
    assert "segmenters taken: UNet" in str(error.value) or "pxcore takes UNet" in str(error.value)
    assert "HRNet (PaddleSeg 2.x's FCN" in str(error.value)


def test_unknown_argument_refused(tmp_path):
    _paddleseg_unet_dir(tmp_path / "unet", params={**PARAMS, "in_channels": 4})
    with pytest.raises(PxError, match="in_channels=4 is no argument"):
        px.load_model(tmp_path / "unet")
