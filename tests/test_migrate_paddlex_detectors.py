"""PaddleX 2.x's R-CNN and PP-YOLO directories, loaded by ``pxcore.load_model``
(``pxcore.migrate.detectors``).

Each fixture is written as PaddleX 2.1.0's ``BaseModel.save_model``
(``paddlex/cv/models/base.py``) writes it: ``paddle.save(net.state_dict(),
"model.pdparams")`` under PaddleDetection 2.x's keys (``dygraph_names`` of pxcore's R-CNN
and YOLOv3 plugins, whose layouts the plugins check against PaddleDetection 2.6), and
``yaml.dump(get_model_info())`` with ``_init_params`` as ``FasterRCNN`` / ``MaskRCNN`` /
``PPYOLO.__init__`` in ``paddlex/cv/models/detector.py`` record them (their ``locals()``,
every constructor argument, ``get_model_info`` dropping self and params). The weights come
from a pxcore model built the way PaddleX 2.1 builds that class with those arguments
(as the comments say where it is not obvious), so the loaded model must compute exactly
what that model computes; tests/test_migrate_paddlex_reference.py checks the parts
PaddleX 2.1's own code decides (anchors) against it.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_migrate_paddlex import IMAGENET, _image, _randomize, _state, write_paddlex2_dir

import pxcore as px
from pxcore.errors import PxError

paddle = pytest.importorskip("paddle")
pytest.importorskip("pxcore_rcnn", reason="needs plugins/rcnn, resnet and yolov3 installed")
pytest.importorskip("pxcore_yolov3", reason="needs plugins/rcnn, resnet and yolov3 installed")
pytestmark = pytest.mark.uses_installed_plugins

# FasterRCNN.__init__'s and MaskRCNN.__init__'s arguments, as PaddleX 2.1 records them
RCNN_PARAMS = {"num_classes": 3, "backbone": "ResNet50", "with_fpn": True, "with_dcn": False,
               "aspect_ratios": [0.5, 1.0, 2.0], "anchor_sizes": [[32], [64], [128], [256], [512]],
               "keep_top_k": 100, "nms_threshold": 0.5, "score_threshold": 0.05,
               "fpn_num_channels": 256, "rpn_batch_size_per_im": 256, "rpn_fg_fraction": 0.5,
               "test_pre_nms_top_n": None, "test_post_nms_top_n": 1000}
# PPYOLO.__init__'s
PPYOLO_PARAMS = {"num_classes": 3, "backbone": "ResNet50_vd_dcn", "anchors": None,
                 "anchor_masks": None, "use_coord_conv": True, "use_iou_aware": True,
                 "use_spp": True, "use_drop_block": True, "scale_x_y": 1.05,
                 "ignore_threshold": 0.7, "label_smooth": False, "use_iou_loss": True,
                 "use_matrix_nms": True, "nms_score_threshold": 0.01, "nms_topk": -1,
                 "nms_keep_topk": 100, "nms_iou_threshold": 0.45}
# PaddleX 2.1's R-CNN evaluation transforms (short side 800, long at most 1333), made small
RCNN_TRANSFORMS = [{"ResizeByShort": {"short_size": 64, "max_size": 96, "interp": "CUBIC"}},
                   {"Normalize": {**IMAGENET, "is_scale": True}}]
LABELS = ["a", "b", "c"]


def _write(folder, cls, params, transforms, source, names):
    theirs = {ours: name for name, ours in names(source.net).items()}
    state = _state(source.net, theirs)
    return write_paddlex2_dir(folder, {"class": cls, "type": "detector", "num_classes": 3,
                                       "labels": LABELS}, params, transforms, state)


def _same_predictions(model, source):
    source.eval_transforms = model.eval_transforms
    source.labels = LABELS
    images = [_image(11, 80, 100), _image(12, 72, 64)]
    got, want = model.predict(images), source.predict(images)
    assert sum(len(g) for g in got) > 0, "nothing detected: the comparison would mean nothing"
    assert [len(g) for g in got] == [len(w) for w in want]
    for ours, theirs in zip((d for g in got for d in g), (d for w in want for d in w), strict=True):
        assert ours.keys() == theirs.keys()
        for key in ours:  # masks are arrays
            np.testing.assert_array_equal(np.asarray(ours[key]), np.asarray(theirs[key]), err_msg=key)


def _rcnn_source(name, **overrides):
    source = px.create_model(name, num_classes=3, **overrides)
    _randomize(source.net)
    return source


@pytest.mark.parametrize("cls, params, name, overrides", [
    # C4: PaddleX's one-level anchor generator zips the five per-level sizes down to the
    # first, [32]: 3 anchors per cell (the RPN head's weights have that shape)
    ("FasterRCNN", {"with_fpn": False}, "FasterRCNN-ResNet50",
     {"anchor_sizes": [[32]], "test_proposals": [6000, 1000]}),
    # ResNet50_vd_ssld: PaddleX forces FPN and builds ResNet50_vd (ssld: learning rates only)
    ("MaskRCNN", {"backbone": "ResNet50_vd_ssld", "with_fpn": False, "test_pre_nms_top_n": 500,
                  "keep_top_k": 50}, "MaskRCNN-ResNet50_vd-FPN",
     {"test_proposals": [500, 1000], "keep_top_k": 50}),
], ids=["FasterRCNN-C4", "MaskRCNN-vd_ssld"])
def test_paddlex2_rcnn_loads_and_predicts_as_its_weights(tmp_path, cls, params, name, overrides):
    from pxcore_rcnn.legacy_names import dygraph_names

    source = _rcnn_source(name, **overrides)
    folder = _write(tmp_path / "rcnn", cls, {**RCNN_PARAMS, **params}, RCNN_TRANSFORMS, source,
                    dygraph_names)
    assert any(k.startswith("bbox_head.bbox_score.") for k in paddle.load(str(folder / "model.pdparams")))
    model = px.load_model(folder)
    assert model.name == name and model.num_classes == 3 and model.labels == LABELS
    assert model.eval_transforms.to_config()["transforms"][0] == {
        "type": "ResizeByShort", "short_size": 64, "max_size": 96, "interp": "CUBIC"}
    assert {k: model.build_args[k] for k in overrides} == overrides
    assert model.net.anchor_generator.num_anchors == source.net.anchor_generator.num_anchors
    _same_predictions(model, source)
    if cls == "FasterRCNN":  # px convert-model keeps what was mapped (C4's 3 anchors)
        from pxcore.cli import main

        assert main(["convert-model", str(folder), str(tmp_path / "converted")]) == 0
        again = px.load_model(tmp_path / "converted")
        assert again.build_args["anchor_sizes"] == [[32]]
        _same_predictions(again, source)


def test_paddlex2_ppyolo_loads_with_paddledetection_2x_coordconv(tmp_path):
    from pxcore.migrate.detectors import PADDLEDETECTION_COORD_RANGE as ours
    from pxcore_yolov3.layers import PADDLEDETECTION_COORD_RANGE
    from pxcore_yolov3.legacy_names import dygraph_names

    assert tuple(ours) == tuple(PADDLEDETECTION_COORD_RANGE)
    source = px.create_model("PPYOLO", num_classes=3, coord_conv=list(PADDLEDETECTION_COORD_RANGE),
                             nms={"type": "multiclass", "score_threshold": 0.02, "nms_top_k": 400,
                                  "keep_top_k": 30, "nms_threshold": 0.5})
    _randomize(source.net)
    params = {**PPYOLO_PARAMS, "use_matrix_nms": False, "nms_score_threshold": 0.02,
              "nms_topk": 400, "nms_keep_topk": 30, "nms_iou_threshold": 0.5}
    transforms = [{"Resize": {"target_size": (96, 96), "interp": "CUBIC", "keep_ratio": False}},
                  {"Normalize": {**IMAGENET, "is_scale": True}}]
    folder = _write(tmp_path / "ppyolo", "PPYOLO", params, transforms, source, dygraph_names)
    model = px.load_model(folder)
    assert model.name == "PPYOLO"
    assert model.net.postprocess.to_config() == source.net.postprocess.to_config()
    x = paddle.to_tensor(np.random.default_rng(5).standard_normal((1, 3, 96, 96)).astype("float32"))
    for got, want in zip(model.net(x), source.net(x), strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    # with the 0.x coordinates (pxcore's coord_conv=True) the same tensors compute otherwise
    zero_x = px.create_model("PPYOLO", num_classes=3)
    zero_x.net.set_state_dict(source.net.state_dict())
    zero_x.net.eval()
    assert not np.allclose(zero_x.net(x)[0].numpy(), source.net(x)[0].numpy(), atol=1e-3)
    _same_predictions(model, source)


@pytest.mark.parametrize("cls, params, message", [
    ("FasterRCNN", {"with_dcn": True}, "with_dcn=True"),
    ("MaskRCNN", {"backbone": "ResNet50", "with_fpn": True, "with_dcn": True}, "with_dcn=True"),
    ("FasterRCNN", {"backbone": "ResNet50_vd", "with_fpn": False}, "Res5Head"),
    ("FasterRCNN", {"backbone": "ResNet34"}, "the backbones taken are"),
    ("FasterRCNN", {"aspect_ratios": [[0.5, 1.0, 2.0], [1.0], [1.0], [1.0], [1.0]]}, "differ per level"),
    ("FasterRCNN", {"some_future_argument": 1}, "some_future_argument=1 has no counterpart"),
    ("PPYOLO", {"backbone": "MobileNetV3_large"}, "conv_block_num=0"),
    ("PPYOLO", {"anchors": [[10, 13]]}, "only one of anchors and anchor_masks"),
    ("PPYOLOv2", {}, "PP-YOLOv2"),
    ("PPYOLOTiny", {}, "PP-YOLO Tiny"),
    ("PicoDet", {}, "PicoDet"),
])
def test_paddlex2_detectors_without_a_pxcore_network_refused_by_name(tmp_path, cls, params, message):
    base = PPYOLO_PARAMS if cls.startswith("PP") else RCNN_PARAMS if "RCNN" in cls else {"num_classes": 3}
    folder = write_paddlex2_dir(tmp_path / "m", {"class": cls, "type": "detector", "num_classes": 3,
                                                 "labels": LABELS}, {**base, **params}, [], {})
    with pytest.raises(PxError, match=message.replace("(", r"\(").replace("[", r"\[")):
        px.load_model(folder)


def test_dcn_that_paddlex_leaves_out_is_not_refused():
    """PaddleX 2.1 builds no DCN without FPN (ResNet50 C4) nor on HRNet, whatever
    with_dcn says (it warns and sets it False), so such a directory loads."""
    from pathlib import Path

    from pxcore.migrate.model_yml import PaddleXInfo
    from pxcore.migrate.models import model_arguments

    for backbone, fpn, name in (("ResNet50", False, "FasterRCNN-ResNet50"),
                                ("HRNet_W18", True, "FasterRCNN-HRNet_W18-FPN")):
        info = PaddleXInfo(path=Path("m/model.yml"), version="2.1.0", model="FasterRCNN",
                           model_type="detector", num_classes=3, labels=LABELS, transforms=None,
                           status="Normal", init_params={**RCNN_PARAMS, "backbone": backbone,
                                                         "with_fpn": fpn, "with_dcn": True})
        assert model_arguments(info)[0] == name
