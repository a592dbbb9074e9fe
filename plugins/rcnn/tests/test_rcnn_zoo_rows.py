"""Every Faster / Mask R-CNN zoo row on the generated shapes.

One row per distinct graph (C4, FPN, HRFPN; per backbone family: ResNet basic blocks,
bottlenecks, vd; Mask R-CNN standing for the Faster R-CNN beside it, whose graph is its
own without the mask branch) goes through the whole workflow: its export gives the same
boxes and masks in Paddle Inference, ONNX Runtime and OpenVINO, its loss falls, it evaluates (segm mAP too for Mask
R-CNN) and predicts (with masks). The other rows are those graphs at another depth
(ResNet101 for ResNet50): each builds, a gradient reaches every parameter, and it
predicts; a guard test checks that each one's layers and settings, its pyramid and its
exported graphs are its representative's, so its export has nothing the
representative's lacks."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

import pxcore as px
from pxcore import transforms as T
from pxcore.data.loader import Loader
from pxcore.testing.detections import assert_same_detections
from pxcore.testing.families import layer_configurations
from pxcore.testing.runtimes import usable_runtimes
from pxcore.testing.training import loss_falls, one_step_trains_everything, settle_batchnorm
from pxcore_rcnn.plugin import presets

SIZE = 64
ROWS = [name for name, *_ in presets()]
# Every runtime runs the export's graphs (numpy between them), so each must give the
# Python model's boxes and masks; OpenVINO wherever it is installed.
RUNTIMES = ("paddle", "onnxruntime", *usable_runtimes(("openvino",)))
# representative -> the rows it stands for (see test_every_row_is_a_representatives_graph)
REPRESENTATIVES = {
    "MaskRCNN-ResNet50": ["FasterRCNN-ResNet50", "FasterRCNN-ResNet101"],
    "FasterRCNN-ResNet50_vd": [],
    "MaskRCNN-ResNet18-FPN": ["FasterRCNN-ResNet18-FPN"],
    "MaskRCNN-ResNet50-FPN": ["FasterRCNN-ResNet50-FPN", "FasterRCNN-ResNet101-FPN",
                              "MaskRCNN-ResNet101-FPN"],
    "MaskRCNN-ResNet50_vd-FPN": ["FasterRCNN-ResNet50_vd-FPN", "FasterRCNN-ResNet101_vd-FPN",
                                 "MaskRCNN-ResNet101_vd-FPN"],
    "MaskRCNN-HRNet_W18-FPN": ["FasterRCNN-HRNet_W18-FPN"],
}
STOOD_FOR = {row: rep for rep, rows in REPRESENTATIVES.items() for row in rows}
# Small proposal and sample counts: the rows' architectures at a test's cost (a C4
# head runs the backbone's last stage on every sampled RoI); every box kept, since
# eight steps leave the classes' scores low.
LIGHT = {"train_proposals": (200, 50), "test_proposals": (100, 20), "roi_batch_size": 16,
         "rpn_batch_size": 64, "score_threshold": 0.0, "keep_top_k": 20}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = px.datasets.make_shapes(tmp_path_factory.mktemp("shapes"), num_images=12,
                                   image_size=SIZE, seed=2)
    coco = root / "annotations"
    train = px.datasets.CocoDetection(root, coco / "train.json", transforms=T.Compose([T.Normalize()]))
    val = px.datasets.CocoDetection(root, coco / "val.json",
                                    transforms=T.Compose([T.Resize(SIZE), T.Normalize()]))
    return root, train, val


# Scores across runtimes: through ResNet101_vd's hundred random layers float32 rounding
# alone moves them by this much; Paddle Inference with and without oneDNN differ by
# 2.5e-3 (measured), as much as either differs from eager Paddle.
SCORE_ATOL = 5e-3
# Pixels: random weights give boxes of zero height at the image's edge, whose IoU with
# their twin is 0 (or undefined) however close; their corners are within this.
COORD_ATOL = 0.1


def matched(model, a: list[dict], b: list[dict]) -> list[tuple[int, int]]:
    """Pairs (i, j) of ``a``'s and ``b``'s detections (pxcore.testing.detections: same
    class, scores within SCORE_ATOL, IoU > 0.99 or corners within COORD_ATOL). Only a
    detection within SCORE_ATOL of a cut goes unpaired: the score threshold, or the
    lowest score of a list cut at keep_top_k (which of several near-equal boxes the
    top-k cut keeps is a rounding matter). Fails the test if anything else has no
    partner, or if nothing pairs up (neither list may be empty)."""
    return assert_same_detections(
        a, b, score_atol=SCORE_ATOL, coord_atol=COORD_ATOL, threshold=model.net.score_threshold,
        keep_top_k=model.net.keep_top_k, require_nonempty=True).pairs


def _model(name: str, train, val):
    paddle.seed(0)
    np.random.seed(0)
    model = px.create_model(name, num_classes=train.num_classes, **LIGHT)
    model.labels = list(train.labels)
    model.eval_transforms = val.transforms
    batch = next(iter(Loader(train, 2, fields=model.batch_fields, defaults=model.field_defaults,
                             num_workers=0)))
    return model, batch


def _check_found(model, found) -> None:
    assert found and {"category_id", "category", "bbox", "score"} <= set(found[0])
    if model.net.with_mask:
        assert all(d["mask"].shape == (SIZE, SIZE) and d["mask"].dtype == np.uint8 for d in found)


def _graph(name: str) -> tuple:
    """What decides a row's exported program, from its network built without values."""
    with paddle.LazyGuard():
        net = px.create_model(name, num_classes=3, **LIGHT).net
    graphs = net.deploy_graphs([1, 3, None, None])
    return (layer_configurations(net, include_self=False), net.fpn, type(net.neck),
            tuple((g, len(graphs[g]["inputs"])) for g in graphs if g != "mask"), net.with_mask,
            tuple(net.output_names))


def test_every_row_is_a_representatives_graph():
    assert sorted([*REPRESENTATIVES, *STOOD_FOR]) == sorted(ROWS)
    graphs = {name: _graph(name) for name in ROWS}
    for row, rep in STOOD_FOR.items():
        (layers, fpn, neck, ops, mask, outputs), theirs = graphs[row], graphs[rep]
        assert layers <= theirs[0], f"{row} has layers {rep} lacks: {sorted(layers - theirs[0])[:3]}"
        assert (fpn, neck, ops) == theirs[1:4], row
        assert theirs[4] or not mask, f"{rep} has no mask branch to stand for {row}'s"
        assert outputs == theirs[5][:len(outputs)], row
    # distinct graphs: none of the representatives stands for another
    for rep in REPRESENTATIVES:
        for other in REPRESENTATIVES:
            if other != rep:
                assert not graphs[rep][0] <= graphs[other][0] or graphs[rep][1:4] != graphs[other][1:4], (
                    f"{rep} is {other}'s graph")


@pytest.mark.slow
@pytest.mark.parity
@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_zoo_row_learns_evaluates_predicts_and_exports(name, shapes, tmp_path):
    root, train, val = shapes
    model, batch = _model(name, train, val)
    images = [str(root / "JPEGImages" / f"{i:04d}.jpg") for i in range(2)]

    # The export runs the same network: checked first, on the fresh weights with
    # BatchNorm's statistics set to the batch's (eval-mode outputs of a deep net with its
    # initial statistics blow up, and saturated scores tie).
    settle_batchnorm(model, batch)
    if model.net.with_mask:
        # Fresh mask logits sit near 0, where float noise flips pixels across the 0.5
        # threshold; scaled up, each pixel's decision is clear, as a trained head's is.
        logits = model.net.mask_head.mask_logits
        logits.weight.set_value(logits.weight * 50.0)
    predictions = model.predict(images)
    assert all(predictions), "every image gets detections"
    exported = model.export(tmp_path / "inference")
    for runtime in RUNTIMES:
        deployed = px.Predictor(exported, runtime=runtime).predict(images)
        for a, b in zip(predictions, deployed, strict=True):
            pairs = matched(model, a, b)
            if model.net.with_mask:
                agree = np.mean([(a[i]["mask"] == b[j]["mask"]).mean() for i, j in pairs])
                assert agree > 0.995, (runtime, agree)

    # The loss falls: a few optimizer steps on one batch, sampling 8 RoIs an image (a C4
    # head trains in two thirds of the time 16 take; the export above keeps 16, since
    # which statistics BatchNorm settles on moves fresh scores across the parity's ties).
    model.net.roi_batch_size = 8
    loss_falls(model, batch, steps=8, learning_rate=2e-4, ratio=0.8)

    metrics = model.evaluate(val)
    expected = {"bbox_mmap", "bbox_map50"} | ({"segm_mmap", "segm_map50"} if model.net.with_mask else set())
    assert expected <= set(metrics), metrics
    _check_found(model, model.predict(images[0]))


@pytest.mark.slow
@pytest.mark.parametrize("name", STOOD_FOR)
def test_zoo_row_trains_and_predicts(name, shapes):
    """A deeper row of a representative's graph: it builds, one step sends a gradient
    to every parameter, and with settled statistics it predicts (masks too)."""
    root, train, val = shapes
    model, batch = _model(name, train, val)
    one_step_trains_everything(model, batch)
    settle_batchnorm(model, batch)
    _check_found(model, model.predict(str(root / "JPEGImages" / "0000.jpg")))
