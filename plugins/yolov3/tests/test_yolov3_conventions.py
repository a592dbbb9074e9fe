"""YOLOv3's whole-pixel convention (``box_size_offset``), what PaddleDetection 0.x's
archives were evaluated with: boxes clipped to the last pixel and reported as
w = x2 - x1 + 1, in ``model.predict``, deploy.yml and the Predictor alike."""

from __future__ import annotations

import numpy as np
import paddle
import pytest
import yaml

import pxcore as px
from pxcore import conventions
from pxcore import transforms as T
from pxcore.errors import PxError
from pxcore.plugins import get_registry
from pxcore.testing.detections import assert_same_detection_lists, recording_decoder
from pxcore.weights import PADDLE1, PDPARAMS
from pxcore_yolov3.postprocess import YOLOPostprocess
from pxcore_yolov3.zoo_rows import LEGACY_ARGS

HEIGHT, WIDTH = 40, 50
# every box scored (an untrained head scores about 1e-4), 20 kept
NMS = {"type": "multiclass", "score_threshold": 0.0, "keep_top_k": 20}


def _model(**kwargs):
    paddle.seed(0)
    model = px.create_model("YOLOv3-MobileNetV1", num_classes=3, neck_channels=32, nms=NMS,
                            **kwargs)
    model.eval_transforms = T.Compose([T.Resize(64), T.Normalize()])
    return model


def _image():
    return np.random.default_rng(0).integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def _predict_recording(model):
    """model.predict's dicts and the decoder's rows they came from."""
    with recording_decoder(model.net) as decoded:
        found = model.predict(_image())
    return found, decoded[0]


def test_predict_reports_whole_pixel_boxes_with_the_legacy_args():
    legacy, later = _model(**LEGACY_ARGS), _model()
    assert (legacy.net.postprocess.box_size_offset, later.net.postprocess.box_size_offset) == (1, 0)
    for model, offset in ((legacy, 1), (later, 0)):
        found, rows = _predict_recording(model)
        assert len(found) == len(rows) == 20
        np.testing.assert_allclose([d["bbox"][2] for d in found], rows[:, 4] - rows[:, 2] + offset,
                                   rtol=1e-6)
        np.testing.assert_allclose([d["bbox"][3] for d in found], rows[:, 5] - rows[:, 3] + offset,
                                   rtol=1e-6)
        # clipped as Paddle's yolo_box (0.x) clips: to the last pixel, 49 x 39; else the edge
        assert rows[:, [2, 4]].max() <= WIDTH - offset and rows[:, [3, 5]].max() <= HEIGHT - offset
        assert rows[:, 2:].min() >= 0


def test_the_decoder_clips_to_the_last_pixel_and_measures_pixel_boxes_in_nms(monkeypatch):
    from pxcore_yolov3 import postprocess as module

    seen, nms = [], module.multiclass_nms

    def spy(*args, **kwargs):  # the 0.x configs' MultiClassNMS: normalized: false
        seen.append(kwargs["normalized"])
        return nms(*args, **kwargs)

    monkeypatch.setattr(module, "multiclass_nms", spy)
    post = _model().net.postprocess
    outputs = [np.random.default_rng(i).normal(0, 2, (1, 3 * 8, 64 // s, 64 // s)).astype(np.float32)
               for i, s in enumerate(post.strides)]
    whole = YOLOPostprocess(**{**post.to_config(), "box_size_offset": 1})
    args = (outputs, np.array([[64 / HEIGHT, 64 / WIDTH]]), np.array([[HEIGHT, WIDTH]]))
    rows, edge = whole(*args)[0], post(*args)[0]
    # the large anchors cover the image: some box reaches each side
    assert rows[:, 4].max() == WIDTH - 1 and rows[:, 5].max() == HEIGHT - 1
    assert edge[:, 4].max() == WIDTH and edge[:, 5].max() == HEIGHT
    assert seen == [False, True]
    with pytest.raises(PxError, match="box_size_offset must be 0 or 1"):
        YOLOPostprocess(**{**post.to_config(), "box_size_offset": 2})
    with pytest.raises(PxError, match="box_size_offset must be 0 or 1"):
        YOLOPostprocess(**{**post.to_config(), "box_size_offset": True})


def test_an_export_carries_it_and_the_predictor_gives_predicts_boxes(tmp_path):
    model = _model(**LEGACY_ARGS)
    predictions = model.predict(_image())
    exported = model.export(tmp_path / "inference")
    deploy = yaml.safe_load((exported / "deploy.yml").read_text())
    assert deploy["postprocess"]["args"]["box_size_offset"] == 1
    predictor = px.Predictor(exported, runtime="paddle")
    assert predictor._postprocess.box_size_offset == 1
    deployed = predictor.predict(_image())
    # the same network's raw outputs through Paddle Inference: float32 rounding only
    # (pxcore.testing.detections' tolerances: IoU > 0.99 or corners within 0.01 px,
    # scores within 1e-4); the widths then carry the same +1
    assert_same_detection_lists([deployed], [predictions], threshold=0.0, keep_top_k=20,
                                require_nonempty=True)
    # and the saved model rebuilds with it (model.yml's build arguments)
    model.save(tmp_path / "saved")
    assert px.load_model(tmp_path / "saved").net.postprocess.box_size_offset == 1


def test_the_archive_rows_name_it_and_a_paddle1_layout_applies_it():
    rows = {e.name: e for e in px.zoo.catalog() if e.model.startswith(("YOLOv3", "PPYOLO"))}
    assert len(rows) == 5
    for name, row in rows.items():
        archive = row.weights_url.endswith(".tar")
        assert dict(row.legacy_args) == (LEGACY_ARGS if archive else {}), name
        spec = get_registry().find("model", row.model)
        if archive:
            assert conventions.choose(row, spec, PADDLE1, {}) == LEGACY_ARGS
            assert conventions.choose(row, spec, PDPARAMS, {}) == {}
