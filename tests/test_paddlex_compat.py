"""PaddleX 1.x spellings, generated from the catalog and the registry."""

from __future__ import annotations

import pytest

import pxcore
from pxcore.errors import PluginNotInstalledError, PxError, UnknownNameError


def test_namespaces_list_what_the_zoo_has():
    assert {"ResNet50", "MobileNetV3_large_ssld", "DenseNet121", "HRNet_W18_C", "AlexNet"} <= set(dir(pxcore.cls))
    assert {"YOLOv3", "PPYOLO", "FasterRCNN", "MaskRCNN"} == set(dir(pxcore.det))
    assert {"DeepLabv3p", "UNet", "HRNet", "FastSCNN"} == set(dir(pxcore.seg))
    with pytest.raises(AttributeError, match="did you mean ResNet50"):
        pxcore.cls.ResNet5O  # noqa: B018


def test_yolov3_without_its_plugin_says_what_to_install():
    with pytest.raises(PluginNotInstalledError, match="pxcore-yolov3 pxcore-mobilenet"):
        pxcore.det.YOLOv3(80)  # PaddleX's default backbone is MobileNetV1
    with pytest.raises(PluginNotInstalledError, match="pxcore-resnet"):
        pxcore.cls.ResNet50(num_classes=10)


def test_rcnn_counts_include_the_background_class(good_plugin):
    model = pxcore.det.FasterRCNN(81, backbone="ResNet50_vd", with_fpn=True)
    assert model.entry.id == "FasterRCNN-ResNet50_vd-FPN.coco"
    assert model.num_classes == 80 and model.net == {"built_with": {"num_classes": 80}}
    c4 = pxcore.det.FasterRCNN(num_classes=3, backbone="ResNet50", with_fpn=False)
    assert c4.entry.name == "FasterRCNN-ResNet50" and c4.num_classes == 2
    with pytest.raises(PxError, match="at least 2"):
        pxcore.det.FasterRCNN(1, backbone="ResNet50", with_fpn=False)


def test_yolo_counts_do_not(good_plugin):
    model = pxcore.det.YOLOv3(num_classes=20, backbone="DarkNet53")
    assert model.entry.name == "YOLOv3-DarkNet53" and model.num_classes == 20


def test_deeplab_and_unknown_selectors(good_plugin):
    import fixture_plugins

    # The zoo row is what its archives hold (no ASPP, no decoder), which its PaddleX
    # spelling states; PaddleX's defaults (both on) need PaddleX's network, not here yet.
    with pytest.raises(UnknownNameError, match="encoder_with_aspp=True, enable_decoder=True"):
        pxcore.seg.DeepLabv3p(2, backbone="MobileNetV2_x1.0")
    row = pxcore.seg.DeepLabv3p(2, backbone="MobileNetV2_x1.0", encoder_with_aspp=False,
                                enable_decoder=False)
    assert row.entry.name == "DeepLabv3_MobileNetV2_x1.0" and row.num_classes == 2
    assert row.net == {"built_with": {"num_classes": 2}}
    pxcore.register_plugin(fixture_plugins.PaddleXDeepLab(), name="fixture-paddlex-deeplab")
    model = pxcore.seg.DeepLabv3p(2, backbone="MobileNetV2_x1.0")
    assert model.spec.name == "DeepLabv3_MobileNetV2_x1.0-paddlex" and model.entry is None
    assert model.net == {"built_with": {"num_classes": 2}}
    # the row still wins where the arguments are its own; an argument no description
    # states reaches the chosen preset's factory
    assert pxcore.seg.DeepLabv3p(2, encoder_with_aspp=False, enable_decoder=False).entry is not None
    no_aspp = pxcore.seg.DeepLabv3p(2, encoder_with_aspp=False)
    assert no_aspp.net == {"built_with": {"num_classes": 2, "encoder_with_aspp": False}}
    with pytest.raises(UnknownNameError, match="backbone='MobileNetV2_x1.0'.*backbone='Xception65'"):
        pxcore.seg.DeepLabv3p(2, backbone="ResNet9000")
    with pytest.raises(PluginNotInstalledError, match="pxcore-hrnet"):
        pxcore.seg.HRNet(2, width=18)


def test_classification_presets_from_plugins_appear(good_plugin):
    assert "FixtureNet_cls" in dir(pxcore.cls)
    model = pxcore.cls.FixtureNet_cls(num_classes=4)
    assert model.num_classes == 4 and model.spec.distribution == "fixture-good"
