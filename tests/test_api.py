"""list_models, model_info, create_model, create_backbone and weights."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import pxcore
from pxcore.errors import PluginNotInstalledError, PxError, UnknownNameError, WeightsError


def test_list_models_patterns_tasks_and_install_state(good_plugin):
    assert pxcore.list_models("ResNet*") == [
        "ResNet18", "ResNet34", "ResNet50", "ResNet50_vd", "ResNet50_vd_ssld",
        "ResNet101", "ResNet101_vd", "ResNet101_vd_ssld"]
    assert pxcore.list_models("*ssld", task="classification") == [
        "MobileNetV3_large_ssld", "MobileNetV3_small_ssld", "ResNet50_vd_ssld", "ResNet101_vd_ssld"]
    assert len(pxcore.list_models(task="classification", installed=False)) == 23
    assert set(pxcore.list_models(installed=True)) == {
        "ImageClassifier", "FixtureNet_cls", "FasterRCNN-ResNet50_vd-FPN", "FasterRCNN-ResNet50",
        "YOLOv3-DarkNet53", "DeepLabv3_MobileNetV2_x1.0"}
    assert pxcore.list_models(dataset="Cityscapes") == [
        "DeepLabv3_MobileNetV2_x1.0", "DeepLabv3_MobileNetV3_large_x1_0_ssld",
        "DeepLabv3_Xception65", "Fast-SCNN", "HRNet_W18"]
    assert len(pxcore.list_models()) == 49 + 2  # 52 rows with 3 repeated names, + 2 presets
    with pytest.raises(PxError, match="task 'segmentation' is not one of"):
        pxcore.list_models(task="segmentation")


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UnknownNameError) as info:
        pxcore.create_model("ResNet50vd")
    assert "ResNet50_vd" in str(info.value)
    assert info.value.suggestions[0] == "ResNet50_vd"


def test_zoo_name_without_its_plugin_says_what_to_install():
    with pytest.raises(PluginNotInstalledError) as info:
        pxcore.create_model("YOLOv3-DarkNet53")
    assert "pip install pxcore-yolov3 pxcore-darknet" in str(info.value)
    assert info.value.packages == ("pxcore-yolov3", "pxcore-darknet")
    with pytest.raises(PluginNotInstalledError, match="pxcore-resnet"):
        pxcore.create_backbone("ResNet50_vd")


def test_model_info_for_installed_and_missing():
    info = pxcore.model_info("HRNet_W18")
    assert info["id"] == "HRNet_W18.imagenet" and info["params_m"] == 21.29
    assert info["installed"] is False and "pxcore-hrnet" in info["install"]
    assert info["other_rows"] == ["HRNet_W18.cityscapes"]
    seg = pxcore.model_info("HRNet_W18", task="semantic_segmentation")
    assert seg["metrics"] == {"miou": 79.36} and seg["dataset"] == "Cityscapes"
    builtin = pxcore.model_info("ImageClassifier")
    assert builtin["provided_by"] == "pxcore" and builtin["id"] is None


def test_create_model_picks_rows_and_class_counts(good_plugin):
    coco = pxcore.create_model("DeepLabv3_MobileNetV2_x1.0")
    assert coco.entry.id == "DeepLabv3_MobileNetV2_x1.0.coco" and coco.num_classes == 81
    city = pxcore.create_model("DeepLabv3_MobileNetV2_x1.0", dataset="Cityscapes")
    assert city.entry.id == "DeepLabv3_MobileNetV2_x1.0.cityscapes"
    assert city.net == {"built_with": {"num_classes": 19}}
    mine = pxcore.create_model("DeepLabv3_MobileNetV2_x1.0", num_classes=3, output_stride=8)
    assert mine.net == {"built_with": {"num_classes": 3, "output_stride": 8}}
    with pytest.raises(PxError, match="num_classes must be a positive integer"):
        pxcore.create_model("YOLOv3-DarkNet53", num_classes=0)
    with pytest.raises(UnknownNameError, match="dataset='Cityscapes'"):
        pxcore.create_model("FixtureNet_cls", dataset="Cityscapes")


def test_pretrained_true_refuses_to_download(good_plugin):
    with pytest.raises(PxError, match="never downloads.*YOLOv3-DarkNet53|yolov3_darknet.tar"):
        pxcore.create_model("YOLOv3-DarkNet53", pretrained=True)


def test_compose_any_backbone_under_the_core_classifier(good_plugin):
    import paddle

    model = pxcore.create_model("ImageClassifier", backbone="FixtureNet", num_classes=7)
    assert model.net.head.in_channels == 16
    assert list(model(paddle.rand([2, 3, 32, 32])).shape) == [2, 7]
    cfg = {"type": "FixtureNet", "widths": [4, 4, 12]}
    model = pxcore.create_model("ImageClassifier", backbone=cfg, num_classes=2, dropout=0.1)
    assert model.net.head.in_channels == 12


def test_create_backbone_reports_shapes_and_checks_out_indices(good_plugin):
    import paddle

    net = pxcore.create_backbone("FixtureNet", out_indices=[0, -1])
    assert [(f.name, f.channels, f.stride) for f in net.out_features] == [("c1", 4, 2), ("c3", 16, 8)]
    outs = net(paddle.rand([1, 3, 32, 32]))
    assert [list(o.shape) for o in outs] == [[1, 4, 16, 16], [1, 16, 4, 4]]
    with pytest.raises(PxError, match=r"has 3 levels \(0=c1, 1=c2, 2=c3\)"):
        pxcore.create_backbone("FixtureNet", out_indices=[5])


@pytest.mark.parity
def test_weights_round_trip_and_mismatch_names_every_tensor(good_plugin, tmp_path):
    import paddle

    a = pxcore.create_model("FixtureNet_cls", num_classes=3)
    path = tmp_path / "w.pdparams"
    paddle.save(a.net.state_dict(), str(path))
    b = pxcore.create_model("FixtureNet_cls", num_classes=3, pretrained=str(path))
    x = paddle.rand([1, 3, 16, 16])
    a.net.eval(), b.net.eval()
    # exact on purpose: bit-identical weights, the same network on the same input shape in
    # the same process run the same kernels in the same order
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    with pytest.raises(WeightsError) as info:
        pxcore.create_model("FixtureNet_cls", num_classes=3, pretrained=str(path),
                            backbone={"type": "FixtureNet", "widths": [4, 6, 16]})
    message = str(info.value)
    assert "shape of backbone.convs.1.weight: file [8, 4, 3, 3], model [6, 4, 3, 3]" in message
    assert "shape of backbone.convs.2.weight: file [16, 8, 3, 3], model [16, 6, 3, 3]" in message
    with pytest.raises(WeightsError, match="missing from the file: backbone.convs.0.weight"):
        state = {k: v for k, v in a.net.state_dict().items() if "convs.0.weight" not in k}
        paddle.save(state, str(tmp_path / "partial.pdparams"))
        pxcore.create_model("FixtureNet_cls", num_classes=3, pretrained=tmp_path / "partial.pdparams")
    with pytest.raises(WeightsError, match="does not exist"):
        pxcore.create_model("FixtureNet_cls", pretrained=tmp_path / "nope.pdparams")


def test_partial_weights_load_only_with_partial_true(good_plugin, tmp_path, caplog):
    """Weights for part of a network (a backbone's under a new head) are refused unless
    partial=True, which loads them and reports the tensors left at their initial values."""
    import paddle

    from pxcore.weights import load_weights

    a = pxcore.create_model("FixtureNet_cls", num_classes=3)
    path = tmp_path / "backbone.pdparams"
    backbone = {k: v.numpy() for k, v in a.net.state_dict().items() if k.startswith("backbone.")}
    head = sorted(set(a.net.state_dict()) - set(backbone))
    paddle.save({k: paddle.to_tensor(v) for k, v in backbone.items()}, str(path))
    with pytest.raises(WeightsError, match=f"{len(head)} are missing.*pass partial=True"):
        pxcore.create_model("FixtureNet_cls", num_classes=3, pretrained=path)
    b = pxcore.create_model("FixtureNet_cls", num_classes=3)
    before = {k: v.numpy() for k, v in b.net.state_dict().items()}
    report = load_weights(b.net, path, partial=True)
    assert sorted(report.left_at_init) == head and f"keep their initial values: {', '.join(head)}" in caplog.text
    for key, value in b.net.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), backbone.get(key, before[key]))
    c = pxcore.create_model("FixtureNet_cls", num_classes=3, pretrained=path, partial=True)
    assert sorted(c.weights_report.left_at_init) == head
    assert pxcore.create_model("FixtureNet_cls", num_classes=3).weights_report is None
    # complete weights report nothing left; a backbone takes partial= too
    full = tmp_path / "full.pdparams"
    paddle.save(a.net.state_dict(), str(full))
    assert pxcore.create_model("FixtureNet_cls", num_classes=3, pretrained=full,
                               partial=True).weights_report.left_at_init == ()
    one = tmp_path / "one.pdparams"
    net = pxcore.create_backbone("FixtureNet")
    paddle.save({"convs.0.weight": net.convs[0].weight}, str(one))
    with pytest.raises(WeightsError, match="pass partial=True"):
        pxcore.create_backbone("FixtureNet", pretrained=one)
    pxcore.create_backbone("FixtureNet", pretrained=one, partial=True)


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/pxcore-pwned",))


def test_another_class_count_reinitialises_the_head(good_plugin, tmp_path, caplog):
    import paddle

    a = pxcore.create_model("FixtureNet_cls", num_classes=3)
    path = tmp_path / "w.pdparams"
    paddle.save(a.net.state_dict(), str(path))
    b = pxcore.create_model("FixtureNet_cls", num_classes=5, pretrained=path)
    assert "re-initialised (head.fc.weight [16, 3] -> [16, 5]" in caplog.text
    np.testing.assert_array_equal(a.net.backbone.convs[0].weight.numpy(),
                                  b.net.backbone.convs[0].weight.numpy())
    assert b(paddle.rand([1, 3, 16, 16])).shape == [1, 5]


def test_a_malicious_pickle_runs_nothing(good_plugin, tmp_path):
    import os

    path = tmp_path / "evil.pdparams"
    path.write_bytes(pickle.dumps({"backbone.convs.0.weight": _Evil()}))
    marker = "/tmp/pxcore-pwned"
    if os.path.exists(marker):
        os.remove(marker)
    with pytest.raises(WeightsError, match=r"refused to load: the file asks to run (posix|os)\.system"):
        pxcore.create_model("FixtureNet_cls", pretrained=path)
    assert not os.path.exists(marker)


def test_truncated_weight_file_is_a_clear_error(good_plugin, tmp_path):
    import paddle

    a = pxcore.create_model("FixtureNet_cls", num_classes=3)
    path = tmp_path / "w.pdparams"
    paddle.save(a.net.state_dict(), str(path))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(WeightsError, match="not a readable .pdparams file.*truncated"):
        pxcore.create_model("FixtureNet_cls", num_classes=3, pretrained=path)


def test_legacy_directories_with_name_scopes_nest_folders(tmp_path):
    from pxcore.weights import read_legacy_dir, write_legacy_tensor

    write_legacy_tensor(tmp_path / "xception_65" / "entry_flow" / "conv1" / "weights", np.ones(2, "float32"))
    write_legacy_tensor(tmp_path / "fc_weights", np.zeros(3, "float32"))
    (tmp_path / ".hidden").mkdir()
    write_legacy_tensor(tmp_path / ".hidden" / "x", np.zeros(1, "float32"))
    state = read_legacy_dir(tmp_path)
    assert sorted(state) == ["fc_weights", "xception_65/entry_flow/conv1/weights"]
