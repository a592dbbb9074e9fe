"""Faster / Mask R-CNN: every zoo row is registered under its zoo spelling, the parts
conform, the targets and box coder do what Faster R-CNN says, the heads sit on any
pyramid, and bad settings or data name the fix."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

import pxcore as px
from pxcore.errors import PxError
from pxcore.nn.features import FeatureInfo
from pxcore.testing import pytest_plugin as kit
from pxcore_rcnn.boxes import cell_anchors, decode, encode
from pxcore_rcnn.fpn import FPN
from pxcore_rcnn.hrfpn import HRFPN
from pxcore_rcnn.plugin import presets
from pxcore_rcnn.targets import mask_targets, rpn_targets, sample_rois

ROWS = {name: (args, task) for name, args, task, _ in presets()}
# One model per graph the plugin builds (C4, FPN, HRFPN): conformance runs each through
# to_static; every row runs the whole workflow, export included, in test_rcnn_zoo_rows.
CONFORMANCE_MODELS = {"FasterRCNN-ResNet50", "MaskRCNN-ResNet18-FPN", "MaskRCNN-HRNet_W18-FPN"}


def test_every_zoo_row_of_the_family_is_installed_under_its_zoo_name():
    zoo = {e.model for e in px.zoo.entries() if e.model.startswith(("FasterRCNN", "MaskRCNN"))}
    assert zoo == set(ROWS) and len(ROWS) == 16
    installed = set(px.list_models(installed=True))
    assert set(ROWS) <= installed
    # the seed's spelling with spaces resolves too
    with paddle.LazyGuard():  # names and parts only: skip initialising the values
        model = px.create_model("MaskRCNN - HRNet_W18-FPN", num_classes=2)
    assert model.name == "MaskRCNN-HRNet_W18-FPN" and model.task == "instance_segmentation"
    assert isinstance(model.net.neck, HRFPN)


test_conformance = kit.conformance_test("pxcore-rcnn", only=lambda spec: spec.kind != "model" or spec.name in CONFORMANCE_MODELS)


def test_paddlex_spellings_build_the_zoo_rows():
    with paddle.LazyGuard():  # names and parts only: skip initialising the values
        faster = px.det.FasterRCNN(num_classes=3, backbone="ResNet50_vd", with_fpn=True)
        mask = px.det.MaskRCNN(num_classes=3, backbone="ResNet50", with_fpn=False)
    assert faster.name == "FasterRCNN-ResNet50_vd-FPN" and not faster.net.with_mask
    assert mask.name == "MaskRCNN-ResNet50" and mask.net.with_mask and not mask.net.fpn


def test_anchors_follow_paddledetection_order_and_shape():
    cells = cell_anchors([32, 64], [0.5, 1.0, 2.0])
    widths, heights = cells[:, 2] - cells[:, 0], cells[:, 3] - cells[:, 1]
    np.testing.assert_allclose(widths * heights, [32 ** 2] * 3 + [64 ** 2] * 3, rtol=1e-5)
    np.testing.assert_allclose(heights / widths, [0.5, 1, 2, 0.5, 1, 2], rtol=1e-5)


def test_decoding_inverts_encoding():
    rng = np.random.default_rng(0)
    rois = np.sort(rng.uniform(0, 100, (20, 2, 2)), axis=1).transpose(0, 2, 1).reshape(20, 4)
    rois = rois[:, [0, 2, 1, 3]]
    boxes = rois + rng.uniform(-5, 5, (20, 4))
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
    weights = (10.0, 10.0, 5.0, 5.0)
    deltas = encode(boxes.astype(np.float32), rois.astype(np.float32), weights)
    decoded = decode(deltas[:, None], rois.astype(np.float32), weights)[:, 0]
    np.testing.assert_allclose(decoded, boxes, atol=1e-3)


def test_rpn_targets_label_by_overlap_and_sample():
    anchors = np.array([[0, 0, 10, 10], [0, 0, 9, 10], [50, 50, 60, 60], [100, 100, 140, 140]],
                       np.float32)
    gt = np.array([[0, 0, 10, 10], [102, 102, 130, 130]], np.float32)
    index, labels, deltas = rpn_targets(anchors, gt, np.random.default_rng(0), batch_size=256)
    by_anchor = dict(zip(index.tolist(), labels.tolist(), strict=True))
    # IoU >= 0.7 positive; each box's best anchor positive even at IoU 0.49; far negative
    assert by_anchor[0] == 1 and by_anchor[1] == 1 and by_anchor[3] == 1 and by_anchor[2] == 0
    assert len(deltas) == int(labels.sum()) == 3
    np.testing.assert_allclose(deltas[list(index).index(0)], 0, atol=1e-6)


def test_roi_sampling_adds_the_boxes_and_caps_the_foreground():
    proposals = np.array([[0, 0, 10, 10]] * 50 + [[60, 60, 70, 70]] * 50, np.float32)
    gt = np.array([[0, 0, 10, 11]], np.float32)
    rois, classes, deltas, gt_index = sample_rois(proposals, gt, np.array([2]), 3,
                                                  np.random.default_rng(0), batch_size=40)
    assert len(rois) == 40 and (classes == 2).sum() == 10 and (classes == 3).sum() == 30
    assert (gt_index[classes == 2] == 0).all() and (gt_index[classes == 3] == -1).all()
    assert not deltas[classes == 3].any()


def test_mask_targets_cut_the_instance_out_of_its_box():
    mask = np.zeros((1, 40, 40), np.uint8)
    mask[0, 10:30, 10:20] = 1  # left half of the box (10, 10, 30, 30) is the object
    target = mask_targets(mask, np.array([[10, 10, 30, 30]], np.float32), np.array([0]), 14)
    assert target.shape == (1, 14, 14)
    assert target[0, :, :7].all() and not target[0, :, 7:].any()


@pytest.mark.parametrize("neck", [FPN, HRFPN])
def test_pyramids_report_what_they_return_at_odd_sizes(neck):
    shapes = [FeatureInfo(f"C{i + 2}", 8 * 2 ** i, 4 * 2 ** i) for i in range(4)]
    net = neck(shapes, 16)
    sizes = [(25, 19), (13, 10), (7, 5), (4, 3)]  # a 100x75 input, ceil at each stride
    out = net([paddle.rand([1, f.channels, h, w]) for f, (h, w) in zip(shapes, sizes, strict=True)])
    assert [int(o.shape[1]) for o in out] == [f.channels for f in net.out_features]
    assert [f.stride for f in net.out_features] == [4, 8, 16, 32, 64]
    assert tuple(out[0].shape[2:]) == (25, 19)


def test_the_head_sits_on_a_third_party_backbone():
    backbone = px.create_backbone("MobileNetV3_small")
    model = px.create_model("FasterRCNN-ResNet18-FPN", num_classes=2, backbone=backbone,
                            test_proposals=(50, 10))
    model.net.eval()
    bbox, count = model.net(paddle.rand([1, 3, 64, 64]))
    assert bbox.shape[1] == 6 and int(count.sum()) == bbox.shape[0]


def test_bad_settings_and_data_name_the_fix(tmp_path):
    with pytest.raises(PxError, match="stage_blocks"):
        px.create_model("FasterRCNN-ResNet50", num_classes=2, backbone="HRNet_W18")
    with pytest.raises(PxError, match="neck"):
        px.create_model("FasterRCNN-ResNet18-FPN", num_classes=2, neck="BiFPN")
    with pytest.raises(PxError, match="num_classes"):
        px.create_model("MaskRCNN-ResNet18-FPN", num_classes=0)
    model = px.create_model("FasterRCNN-ResNet18-FPN", num_classes=2)
    with pytest.raises(PxError, match="batch size 1"):
        model.export(tmp_path / "x", batch_size=2)
    with pytest.raises(PxError, match="pre-PIR"):
        model.export(tmp_path / "x", legacy=True)
    with pytest.raises(PxError, match="training mode"):
        model.net.eval()
        model.net.loss(model.net(paddle.rand([1, 3, 64, 64])), np.zeros((1, 1, 4)), np.zeros((1, 1)))
    # Mask R-CNN on a data set without polygons (VOC) says what it needs.
    root = px.datasets.make_shapes(tmp_path / "shapes", num_images=4, image_size=64)
    voc = px.datasets.VOCDetection(root, root / "train_list.txt", root / "labels.txt",
                                   transforms=px.transforms.Compose([px.transforms.Normalize()]))
    masked = px.create_model("MaskRCNN-ResNet18-FPN", num_classes=voc.num_classes)
    with pytest.raises(PxError, match="polygon"):
        masked.train(1, voc, train_batch_size=2, warmup_steps=0, save_dir=str(tmp_path / "out"),
                     num_workers=0)


def _rpn_outputs(rng, sizes, anchors_per_cell=3):
    """Random RPN outputs per level: objectness logits distinct over all levels (so that
    no order depends on how ties break), small deltas."""
    counts = [anchors_per_cell * h * w for h, w in sizes]
    logits = rng.permutation(sum(counts)).astype(np.float32) / sum(counts) * 8 - 4
    scores, deltas, start = [], [], 0
    for (height, width), count in zip(sizes, counts, strict=True):
        scores.append(logits[start:start + count].reshape(1, anchors_per_cell, height, width))
        start += count
        deltas.append(rng.normal(0, 0.3, (1, 4 * anchors_per_cell, height, width)).astype(np.float32))
    return scores, deltas


@pytest.mark.parametrize("fpn", [True, False])
def test_numpy_proposals_are_paddles_operators(fpn):
    """The numpy proposals every runtime and model.predict use are what Paddle's
    generate_proposals (and collect_fpn_proposals) give, which training still runs."""
    from pxcore_rcnn.boxes import level_anchors
    from pxcore_rcnn.pipeline import propose as numpy_propose
    from pxcore_rcnn.rpn import AnchorGenerator, ProposalSettings
    from pxcore_rcnn.rpn import propose as paddle_propose

    rng = np.random.default_rng(1)
    image_hw = (96, 128)
    strides = [4, 8, 16, 32, 64] if fpn else [16]
    sizes = [(-(-image_hw[0] // s), -(-image_hw[1] // s)) for s in strides]
    generator = AnchorGenerator([(32 * 2 ** i,) for i in range(5)] if fpn else [(32, 64, 128, 256, 512)],
                                (0.5, 1.0, 2.0), strides)
    scores, deltas = _rpn_outputs(rng, sizes, generator.num_anchors)
    settings = ProposalSettings(300, 100, nms_thresh=0.7)
    anchors = [level_anchors(h, w, s, c) for (h, w), s, c in zip(sizes, strides, generator.cells, strict=True)]
    ours = numpy_propose([s[0] for s in scores], [d[0] for d in deltas], anchors, image_hw,
                         settings.pre_nms_top_n, settings.post_nms_top_n, settings.nms_thresh)
    grids = generator([paddle.zeros([1, 1, h, w]) for h, w in sizes])
    for grid, mine in zip(grids, anchors, strict=True):
        np.testing.assert_allclose(grid.numpy(), mine, atol=1e-4)
    theirs, counts = paddle_propose([paddle.to_tensor(s) for s in scores], [paddle.to_tensor(d) for d in deltas],
                                    grids, paddle.to_tensor([list(map(float, image_hw))]), settings, 1)
    assert len(ours) == int(counts.numpy()[0]) > 20
    np.testing.assert_allclose(ours, theirs.numpy(), atol=2e-3)


def test_levels_are_paddles_distribute_fpn_proposals():
    from paddle.vision import ops

    from pxcore_rcnn.pipeline import PLACEHOLDER, RoIsByLevel

    rng = np.random.default_rng(2)
    corners = rng.uniform(0, 800, (400, 2)).astype(np.float32)
    sides = np.exp(rng.uniform(0, 7, (400, 2))).astype(np.float32)
    rois = np.concatenate([corners, corners + sides], 1)
    rois[:3] = [[5, 5, 5, 9], [0, 0, 0, 0], [1, 1, 223.99, 223.99]]  # empty, a point, the edge
    groups = RoIsByLevel(rois, [2, 3, 4, 5])
    theirs, restore, _ = ops.distribute_fpn_proposals(paddle.to_tensor(rois), 2, 5, 4, 224,
                                                      pixel_offset=False,
                                                      rois_num=paddle.to_tensor([400], "int32"))
    for level, (mine, paddles) in enumerate(zip(groups.inputs, theirs, strict=True)):
        expected = paddles.numpy() if len(paddles.numpy()) else PLACEHOLDER  # none: a placeholder
        np.testing.assert_array_equal(mine, expected, err_msg=f"level {level + 2}")
    # the graph's rows come back in the RoIs' own order
    np.testing.assert_array_equal(groups.restore(np.concatenate(groups.inputs)), rois)
    flat = np.concatenate([t.numpy() for t in theirs])
    np.testing.assert_array_equal(flat[restore.numpy().reshape(-1)], rois)


def test_a_level_without_rois_gets_a_placeholder_that_is_dropped():
    from pxcore_rcnn.pipeline import RoIsByLevel

    rois = np.array([[0, 0, 20, 20], [0, 0, 30, 30], [0, 0, 500, 500]], np.float32)
    groups = RoIsByLevel(rois, [2, 3, 4, 5])
    assert [len(r) for r in groups.inputs] == [2, 1, 1, 1]  # levels 3 and 4: placeholders
    rows = np.arange(5, dtype=np.float32)[:, None]
    np.testing.assert_array_equal(groups.restore(rows)[:, 0], [0, 1, 4])


def test_an_rcnn_export_is_graphs_every_runtime_runs(tmp_path):
    """No graph op refusal: deploy.yml names three graphs and the numpy pipeline, the
    export carries one ONNX file per graph, and ONNX Runtime gives model.predict's."""
    import yaml

    from pxcore.testing.detections import assert_same_detection_lists

    paddle.seed(0)
    model = px.create_model("MaskRCNN-ResNet18-FPN", num_classes=2, fpn_channels=16,
                            box_head_hidden=32, mask_head_channels=8, test_proposals=(50, 10),
                            score_threshold=0.0, keep_top_k=10)
    model.eval_transforms = px.transforms.Compose([px.transforms.Resize(64), px.transforms.Normalize()])
    logits = model.net.mask_head.mask_logits
    logits.weight.set_value(logits.weight * 50.0)  # clear mask decisions (see test_rcnn_zoo_rows)
    images = [np.random.default_rng(i).integers(0, 255, (48, 80, 3), dtype=np.uint8) for i in range(2)]
    expected = model.predict(images)
    exported = model.export(tmp_path / "inference")
    info = yaml.safe_load((exported / "deploy.yml").read_text(encoding="utf-8"))
    assert list(info["graphs"]) == ["rpn", "box", "mask"] and "files" not in info
    assert "graph_ops" not in info["postprocess"]
    assert info["pipeline"]["runner"] == "pxcore_rcnn.pipeline:RCNNPipeline"
    assert [i["name"] for i in info["graphs"]["box"]["inputs"]] == [
        *(f"feature{i}" for i in range(4)), *(f"rois{i}" for i in range(4))]
    assert len(list((exported / "onnx").glob("model-*.onnx"))) == 3
    _check_shape_ranges(info)
    _check_tensorrt_parses(exported, info)
    predictor = px.Predictor(exported, runtime="onnxruntime")
    assert predictor.runtime == "onnxruntime"
    deployed = predictor.predict(images)
    for a, b, found in zip(deployed, expected, assert_same_detection_lists(
            deployed, expected, require_nonempty=True, threshold=0.0, keep_top_k=10,
            score_atol=1e-3, coord_atol=0.1), strict=True):
        assert all(np.mean(a[i]["mask"] == b[j]["mask"]) > 0.995 for i, j in found.pairs)


def _check_tensorrt_parses(exported, info):
    """Each graph's ONNX file holds only operators TensorRT's ONNX parser takes (the
    TensorRT plugin's list), so TensorRT builds from the same graphs where it runs."""
    onnx_ops = pytest.importorskip("pxcore_runtime_tensorrt.onnx_ops")
    from pxcore.inference.graphs import graph_info
    from pxcore_runtime_onnx.convert import onnx_model

    for name in info["graphs"]:
        path = onnx_model(exported, graph_info(info, name))
        assert onnx_ops.unsupported_ops(path) == [], f"graph {name}: {onnx_ops.unsupported_ops(path)}"


def _check_shape_ranges(info):
    """Every graph input has a range an engine per shape range (TensorRT) is built for:
    feature maps follow the image by their stride, RoIs run up to the proposal count
    (box graph) or the kept detections (mask graph)."""
    from pxcore.inference.graphs import graph_info
    from pxcore.inference.shapes import derived_range, nominal_input_size

    nominal = nominal_input_size(info)
    assert nominal == (64, 64)  # Resize(64), the export's own pre-processing
    for name in info["graphs"]:
        for spec in graph_info(info, name)["inputs"]:
            low, best, high = derived_range(spec, nominal)
            assert all(lo <= b <= hi for lo, b, hi in zip(low, best, high, strict=True)), spec
    box = {spec["name"]: spec for spec in info["graphs"]["box"]["inputs"]}
    # FPN levels at strides 4..32: the image's 32..128 (opt 64) divided, rounded up
    assert derived_range(box["feature0"], nominal) == ([1, 16, 8, 8], [1, 16, 16, 16], [1, 16, 32, 32])
    assert derived_range(box["feature3"], nominal) == ([1, 16, 1, 1], [1, 16, 2, 2], [1, 16, 4, 4])
    assert derived_range(box["rois2"], nominal) == ([1, 4], [10, 4], [10, 4])  # test_proposals=(50, 10)
    mask = {spec["name"]: spec for spec in info["graphs"]["mask"]["inputs"]}
    assert derived_range(mask["boxes0"], nominal)[2] == [10, 4]  # keep_top_k=10


def test_train_save_and_the_cli_evaluate_and_predict_with_masks(tmp_path, capsys):
    """model.train on COCO polygons, then px eval --ann-file and px predict on the saved
    checkpoint: segm metrics, and masks drawn and given as RLE."""
    import json

    from pxcore.cli import main

    root = px.datasets.make_shapes(tmp_path / "shapes", num_images=10, image_size=64, seed=1)
    transforms = px.transforms.Compose([px.transforms.Normalize()])
    train = px.datasets.CocoDetection(root, root / "annotations/train.json", transforms=transforms)
    paddle.seed(0)
    model = px.create_model("MaskRCNN-ResNet18-FPN", num_classes=train.num_classes,
                            fpn_channels=16, box_head_hidden=32, mask_head_channels=16,
                            train_proposals=(100, 20), test_proposals=(50, 10),
                            roi_batch_size=16, rpn_batch_size=32, score_threshold=0.0)
    model.eval_transforms = px.transforms.Compose([px.transforms.Resize(64), px.transforms.Normalize()])
    state = model.train(2, train, train_batch_size=2, eval_dataset=train, warmup_steps=0,
                        learning_rate=1e-3, optimizer="Adam", save_dir=str(tmp_path / "out"),
                        num_workers=0)
    assert {"segm_mmap", "segm_map50"} <= set(state["history"]["metrics"])
    best = str(tmp_path / "out" / "best_model")
    capsys.readouterr()
    assert main(["eval", best, "--ann-file", str(root / "annotations/train.json")]) == 0
    assert {"bbox_mmap", "segm_mmap"} <= set(json.loads(capsys.readouterr().out))
    image = str(root / "JPEGImages" / "0000.jpg")
    assert main(["predict", best, image, "--save-dir", str(tmp_path / "pictures"),
                 "--threshold", "0.0"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["result"] and all(set(r["mask"]) == {"size", "counts"} for r in line["result"])
    assert (tmp_path / "pictures" / "0000.png").is_file()
