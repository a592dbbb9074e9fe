"""Every registered backbone under every head that takes one: builds and runs forward,
or cannot compose for a reason the head states (a missing stride, a missing ability)."""

import pytest

import pxcore
from pxcore.errors import IncompatiblePartsError
from pxcore.testing.composition import check_composition, composition_params, head_presets

pytestmark = pytest.mark.uses_installed_plugins


@pytest.mark.slow
@pytest.mark.parametrize("head, backbone", composition_params())
def test_backbone_composes_under_head(head, backbone):
    reason = check_composition(head, backbone)
    if reason:
        pytest.skip(reason)


def test_every_head_is_in_the_matrix():
    heads = {spec.name for spec in head_presets()}
    # one per distinct head: the four YOLOv3 rows are one head, PP-YOLO another
    assert "PPYOLO" in heads and sum(h.startswith("YOLOv3-") for h in heads) == 1
    for family in ("FasterRCNN-", "MaskRCNN-", "DeepLabv3_"):
        assert any(h.startswith(family) for h in heads), family
    # C4 and FPN are different heads
    assert {h.endswith("-FPN") for h in heads if h.startswith("FasterRCNN-")} == {True, False}


def test_preset_arguments_of_the_replaced_backbone_are_dropped(caplog):
    caplog.set_level("INFO", logger="pxcore")
    model = pxcore.create_model("YOLOv3-DarkNet53", num_classes=2, backbone="MobileNetV1",
                                neck_channels=32)
    assert model.build_args["backbone_args"] == {}
    assert "act='leaky_relu'" in caplog.text and "dropped" in caplog.text
    # the preset's own backbone keeps them, and the caller's merge on top
    model = pxcore.create_model("YOLOv3-DarkNet53", num_classes=2, neck_channels=32,
                                backbone_args={"out_indices": None})
    assert model.build_args["backbone_args"] == {"act": "leaky_relu", "out_indices": None}


def test_arguments_carry_over_within_a_family_only():
    # PP-YOLO's dcn_stages is ResNet's argument: kept for another ResNet
    kept = pxcore.create_model("PPYOLO", num_classes=2, backbone="ResNet18", neck_channels=32)
    assert kept.build_args["backbone_args"] == {"dcn_stages": [3]}
    dropped = pxcore.create_model("PPYOLO", num_classes=2, backbone="DarkNet53", neck_channels=32)
    assert dropped.build_args["backbone_args"] == {}
    # ShuffleNetV2 has an ``act`` too, but DarkNet's leaky ReLU is not one of its choices
    other = pxcore.create_model("YOLOv3-DarkNet53", num_classes=2, backbone="ShuffleNetV2",
                                neck_channels=32)
    assert other.build_args["backbone_args"] == {}
    # the caller's backbone_args for another backbone are taken whole
    given = pxcore.create_model("YOLOv3-DarkNet53", num_classes=2, backbone="ShuffleNetV2",
                                neck_channels=32, backbone_args={"act": "swish"})
    assert given.build_args["backbone_args"] == {"act": "swish"}


def test_missing_stride_names_what_is_reported_and_needed():
    backbone = pxcore.create_backbone("ResNet18")
    with pytest.raises(IncompatiblePartsError) as info:
        backbone.select_strides([8, 64], "SomeHead")
    message = str(info.value)
    assert "SomeHead" in message and "[8, 64]" in message and "stride 64" in message
    assert "C5 (stride 32, 512 ch)" in message


def test_select_strides_takes_the_deepest_level_of_a_stride():
    from pxcore.nn.backbone import Backbone
    from pxcore.nn.features import FeatureInfo

    class Dilated(Backbone):  # a backbone whose last stage keeps stride 16, as DeepLab's do
        def __init__(self, out_indices=None):
            super().__init__(out_indices)
            self.feature_info = [FeatureInfo("C2", 8, 4), FeatureInfo("C3", 8, 8),
                                 FeatureInfo("C4", 8, 16), FeatureInfo("C5", 8, 16)]

        def forward_features(self, x):
            return [x, x, x, x]

    backbone = Dilated()
    picked = backbone.select_strides([4, 16], "DeepLab")
    assert [f.name for f in picked] == ["C2", "C5"]
    assert backbone.out_indices == (0, 3)
