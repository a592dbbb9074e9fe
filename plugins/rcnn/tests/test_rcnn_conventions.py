"""R-CNN's two conventions without the reference code (test_rcnn_reference.py compares
them end to end with PaddleX 1.3's network): Paddle 1.x's rounded anchors, the +1 pixel
box coding, clipping and pyramid levels, and the options reaching the network, its
numpy pipeline and deploy.yml."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.errors import PxError
from pxcore.testing import pytest_plugin as kit
from pxcore.testing.detections import recording_decoder
from pxcore_rcnn.boxes import cell_anchors, clip_to_image, decode, encode
from pxcore_rcnn.pipeline import roi_levels
from pxcore_rcnn.rcnn import RCNN
from pxcore_rcnn.zoo_rows import legacy_args


def test_rounded_anchors_are_paddle_1s_generator():
    # paddle/phi/kernels/cpu/anchor_generator_kernel.cc with offset 0.5 (PaddleX 1.3's
    # rpn_head.py line 115): stride 16, size 32, ratio 0.5: base round(sqrt(512)) = 23 by
    # round(11.5) = 12, scaled by 2: 46 x 24, centred at 7.5 -> [7.5 - 22.5, 7.5 - 11.5, ...].
    # These are also the values Paddle's own operator gave in the reference test.
    cells = cell_anchors([32, 64], [0.5, 1.0, 2.0], stride=16, convention="rounded")
    np.testing.assert_array_equal(cells[:3], [[-15, -4, 30, 19], [-8, -8, 23, 23],
                                              [-3, -14, 18, 29]])
    np.testing.assert_array_equal(cells[4], [-24, -24, 39, 39])  # size-major: 64, ratio 1
    # FPN's P2: stride 4, size 32: a 32-pixel box centred 1.5 px into the cell
    np.testing.assert_array_equal(cell_anchors([32], [1.0], stride=4, convention="rounded"),
                                  [[-14, -14, 17, 17]])
    exact = cell_anchors([32], [1.0], stride=4)
    np.testing.assert_array_equal(exact, [[-16, -16, 16, 16]])


@pytest.mark.parametrize("convention", ["corner", "pixel"])
def test_coding_round_trips_in_either_convention(convention):
    rng = np.random.default_rng(0)
    rois = np.sort(rng.uniform(0, 100, (20, 2, 2)), axis=1).transpose(0, 2, 1).reshape(20, 4)
    rois = rois[:, [0, 2, 1, 3]].astype(np.float32)
    boxes = (rois + rng.uniform(-5, 5, (20, 4))).astype(np.float32)
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
    weights = (10.0, 10.0, 5.0, 5.0)
    deltas = encode(boxes, rois, weights, convention)
    decoded = decode(deltas[:, None], rois, weights, box_convention=convention)[:, 0]
    np.testing.assert_allclose(decoded, boxes, atol=1e-3)


def test_the_pixel_convention_counts_the_last_pixel():
    roi = np.array([[10, 20, 19, 39]], np.float32)  # 10 x 20 pixels; 9 x 19 as points
    zero = np.zeros((1, 1, 4), np.float32)
    np.testing.assert_allclose(decode(zero, roi, (1, 1, 1, 1), box_convention="pixel")[0, 0], roi[0])
    doubled = np.array([[[0, 0, np.log(2), np.log(2)]]], np.float32)
    pixel = decode(doubled, roi, (1, 1, 1, 1), box_convention="pixel")[0, 0]
    corner = decode(doubled, roi, (1, 1, 1, 1))[0, 0]
    assert pixel[2] - pixel[0] + 1 == pytest.approx(20) and corner[2] - corner[0] == pytest.approx(18)
    np.testing.assert_array_equal(encode(roi, roi, (1, 1, 1, 1), "pixel"), np.zeros((1, 4)))
    boxes = np.array([[-5, -5, 500, 500]], np.float32)
    np.testing.assert_array_equal(clip_to_image(boxes, 100, 200, "pixel"), [[0, 0, 199, 99]])
    np.testing.assert_array_equal(clip_to_image(boxes, 100, 200), [[0, 0, 200, 100]])
    # a 223 x 223 RoI: level 3 as points, 224 x 224 pixels (level 4) as Paddle 1.x measured
    square = np.array([[0, 0, 223, 223]], np.float32)
    assert roi_levels(square, 2, 5)[0] == 3 and roi_levels(square, 2, 5, "pixel")[0] == 4


def _small(**kwargs):
    return RCNN(num_classes=3, backbone="ResNet18", fpn_channels=16, box_head_hidden=32,
                **kwargs)


def test_the_options_reach_the_network_and_deploy_yml():
    with paddle.LazyGuard():
        later, legacy = _small(), _small(**legacy_args(fpn=True))
    assert (later.box_roi.aligned, later.box_roi.sampling_ratio) == (True, 0)
    assert (legacy.box_roi.aligned, legacy.box_roi.sampling_ratio) == (False, 2)
    assert legacy.box_roi.pixel_offset and not later.box_roi.pixel_offset
    config = legacy.deploy_pipeline()["args"]
    assert (config["box_convention"], config["anchor_convention"]) == ("pixel", "rounded")
    assert later.deploy_pipeline()["args"]["box_convention"] == "corner"
    # the pipeline an export runs is rebuilt from deploy.yml with the same anchors
    rebuilt = type(legacy.pipeline)(**config)
    np.testing.assert_array_equal(rebuilt.anchors(0, 4, 6), legacy.pipeline.anchors(0, 4, 6))
    assert not np.array_equal(rebuilt.anchors(0, 4, 6), later.pipeline.anchors(0, 4, 6))
    np.testing.assert_array_equal(legacy.anchor_generator.cells[0], rebuilt._cells[0])


def test_every_zoo_row_names_its_archives_conventions():
    rows = [e for e in pxcore.zoo.catalog() if e.model.startswith(("FasterRCNN", "MaskRCNN"))]
    assert len(rows) == 16
    for row in rows:
        fpn = row.name.endswith("-FPN")
        mine = legacy_args(fpn, mask=row.model.startswith("MaskRCNN"))
        assert {k: row.legacy_args.get(k) for k in mine} == mine, row.name
        assert row.legacy_args["roi_align_sampling_ratio"] == (2 if fpn else 0)


def test_bad_conventions_fail_clearly():
    with pytest.raises(PxError, match="box_convention must be one of corner, pixel"):
        _small(box_convention="plus_one")
    with pytest.raises(PxError, match="anchor_convention must be one of exact, rounded"):
        _small(anchor_convention="paddle1")
    with pytest.raises(PxError, match="roi_align_sampling_ratio must be an integer >= 0"):
        _small(roi_align_sampling_ratio=-1)


def test_the_mask_paste_rule_reaches_the_postprocess_and_deploy_yml():
    net = _small(with_mask=True, mask_paste="padded", mask_head_channels=8)
    assert net.postprocess.to_config()["mask_paste"] == "padded"
    with pytest.raises(PxError, match="mask_paste must be one of sample, padded"):
        _small(with_mask=True, mask_paste="detectron")


def test_im_info_clips_to_the_resized_image_and_decodes_at_the_originals_scale():
    paddle.seed(0)
    net = _small(**legacy_args(fpn=True), score_threshold=0.0)
    net.eval()
    image = paddle.rand([1, 3, 64, 96])
    plain = net(image)[0].numpy()
    # scale 1 and the whole input: what no im_info means
    same = net(image, im_info=np.array([[64, 96, 1.0]], np.float32))[0].numpy()
    np.testing.assert_array_equal(same, plain)
    # 40 x 60 resized by 1.5 to 60 x 90, padded to 64 x 96: no box reaches the padding,
    # and every box is clipped to the original image's last pixel (59, 39) at its scale
    rows = net(image, im_info=np.array([[60, 90, 1.5]], np.float32))[0].numpy()
    assert len(rows) and not np.array_equal(rows, plain)
    assert rows[:, [2, 4]].max() <= np.float32(59 * 1.5) + 1e-3
    assert rows[:, [3, 5]].max() <= np.float32(39 * 1.5) + 1e-3
    with pytest.raises(PxError, match="im_info has 2 rows for 1 images"):
        net(image, im_info=np.ones((2, 3), np.float32))


def test_image_info_is_the_resize_by_shorts_scale():
    from pxcore.inference.detection import image_info

    # 480 x 641 to short side 800: 800 x 1068; the short side's factor is the scale
    info = image_info([{"im_shape": [800, 1068], "scale_factor": [800 / 480, 1068 / 641]}], [(480, 641)])
    np.testing.assert_allclose(info, [[800, 1068, 800 / 480]], rtol=1e-7)
    # 400 x 1000 to 800 short, capped at 1333 long: the long side's factor
    info = image_info([{"im_shape": [533, 1333], "scale_factor": [533 / 400, 1.333]}], [(400, 1000)])
    np.testing.assert_allclose(info, [[533, 1333, 1.333]], rtol=1e-7)
    # a stretch (48 x 80 to 64 x 64) has no one factor: 1, the input's scale
    info = image_info([{"im_shape": [64, 64], "scale_factor": [64 / 48, 0.8]}], [(48, 80)])
    np.testing.assert_array_equal(info, [[64, 64, 1]])


def test_predict_gives_the_network_im_info():
    # model.predict passes each image's resized size (before padding) and scale
    from pxcore import transforms as T

    paddle.seed(0)
    model = pxcore.create_model("MaskRCNN-ResNet18-FPN", num_classes=3, fpn_channels=16,
                                box_head_hidden=32, mask_head_channels=8, score_threshold=0.0,
                                test_proposals=(100, 20), keep_top_k=10, **legacy_args(True, True))
    model.eval_transforms = T.Compose([T.ResizeByShort(60, 100), T.Padding(32), T.Normalize()])
    image = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    seen = []
    forward = model.net.forward

    def spy(image, im_info=None):
        seen.append(None if im_info is None else np.asarray(im_info).tolist())
        return forward(image, im_info)

    model.net.forward = spy
    with recording_decoder(model.net) as decoded:
        found = model.predict(image)
    assert seen == [[[60.0, 75.0, 1.5]]] and len(found) == 10
    rows = decoded[0][0]
    assert rows[:, 4].max() <= 49 + 1e-3  # 0.x: clipped to the last pixel, x2 = 49
    # ... and reported as 0.x's bbox2out did, that pixel counted: w = x2 - x1 + 1
    np.testing.assert_allclose([d["bbox"][2] for d in found], rows[:, 4] - rows[:, 2] + 1, rtol=1e-6)
    np.testing.assert_allclose([d["bbox"][3] for d in found], rows[:, 5] - rows[:, 3] + 1, rtol=1e-6)


def test_pixel_boxes_are_sized_with_the_last_pixel_in_exports_too():
    from pxcore.inference.detection import build_postprocess, to_dicts

    with paddle.LazyGuard():
        legacy, later = _small(**legacy_args(fpn=True)), _small()
    assert (legacy.postprocess.box_size_offset, later.postprocess.box_size_offset) == (1.0, 0.0)
    # deploy.yml's decoder (what Predictor builds) keeps it
    rebuilt = build_postprocess({"decoder": "pxcore_rcnn.postprocess:RCNNPostprocess",
                                 "args": legacy.postprocess.to_config()})
    assert rebuilt.box_size_offset == 1.0
    rows = np.array([[0, 0.9, 10, 20, 30, 60]], np.float32)
    assert to_dicts(rows, size_offset=rebuilt.box_size_offset)[0]["bbox"] == [10, 20, 21, 41]
    assert to_dicts(rows)[0]["bbox"] == [10, 20, 20, 40]


def test_training_runs_in_the_pixel_convention():
    # Paddle's proposal and level operators with pixel_offset=True, the +1 targets and IoU
    paddle.seed(0)
    net = _small(with_mask=True, **legacy_args(fpn=True), train_proposals=(200, 50),
                 roi_batch_size=32, mask_head_channels=8)
    net.train()
    image = paddle.rand([1, 3, 64, 96])
    boxes = paddle.to_tensor([[[4.0, 6.0, 40.0, 50.0], [50.0, 10.0, 90.0, 60.0]]])
    masks = np.zeros((1, 2, 64, 96), np.float32)
    masks[0, 0, 6:50, 4:40] = masks[0, 1, 10:60, 50:90] = 1
    losses = net.loss(net(image), boxes, paddle.to_tensor([[0, 2]]), gt_mask=paddle.to_tensor(masks))
    assert {"loss_rpn_cls", "loss_bbox_reg", "loss_mask"} <= set(losses)
    assert np.isfinite(float(losses["loss"]))
    losses["loss"].backward()


@pytest.mark.slow  # an export and its ONNX conversion
def test_an_export_in_the_0x_conventions_runs_as_the_model(tmp_path):
    # deploy.yml's pipeline carries the conventions; ONNX's RoiAlign takes aligned=False
    # (coordinate_transformation_mode "output_half_pixel")
    paddle.seed(0)
    model = pxcore.create_model("FasterRCNN-ResNet18-FPN", num_classes=2, fpn_channels=16,
                                box_head_hidden=32, test_proposals=(50, 10), score_threshold=0.0,
                                keep_top_k=10, **legacy_args(fpn=True))
    kit.check_detector_export(model, tmp_path, keep_top_k=10)
