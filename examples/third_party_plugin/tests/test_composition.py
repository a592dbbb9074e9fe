"""TinyNet under pxcore's heads, as a third party uses them: YOLOv3, Faster R-CNN with
an FPN, Mask R-CNN and DeepLabv3+ each build on it by name, learn (the loss falls over a
few steps on one batch), predict, export, and the exported network agrees with Python
in a runtime: ONNX Runtime for each, and Paddle Inference too for the R-CNNs (whose
export is three graphs with numpy proposals and NMS between them).

Every head picks the strides it reads from TinyNet's report (2 to 32), nothing here
tells it which."""

import numpy as np
import paddle
import pytest

import pxcore
from pxcore import transforms as T
from pxcore.data.loader import Loader
from pxcore.testing.detections import assert_same_detection_lists
from pxcore.testing.segmentation import check_segmentation_workflow
from pxcore.testing.training import loss_falls, settle_batchnorm

SIZE = 64
# Narrow heads: TinyNet's deepest level has 256 channels, and the presets' 256- and
# 512-wide necks would be most of the cost on a CPU.
DETECTORS = {
    "YOLOv3-DarkNet53": ({"neck_channels": 64}, ("onnxruntime",)),
    "FasterRCNN-ResNet50-FPN": ({"fpn_channels": 32, "box_head_hidden": 64, "roi_batch_size": 32},
                                ("paddle", "onnxruntime")),
    "MaskRCNN-ResNet50-FPN": ({"fpn_channels": 32, "box_head_hidden": 64, "roi_batch_size": 32,
                               "mask_head_channels": 16}, ("paddle", "onnxruntime")),
}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return pxcore.datasets.make_shapes(tmp_path_factory.mktemp("shapes"), num_images=8,
                                       image_size=SIZE, seed=0, val=0.25, test=0.0)


def _dataset(root, task):
    transforms = T.Compose([T.Normalize()])
    if task == "instance_segmentation":
        return pxcore.datasets.CocoDetection(root, root / "annotations" / "train.json",
                                             transforms=transforms)
    return pxcore.datasets.VOCDetection(root, root / "train_list.txt", root / "labels.txt",
                                        transforms=transforms)


@pytest.mark.slow
@pytest.mark.parametrize("head", DETECTORS)
def test_tinynet_under_a_detection_head(head, shapes, tmp_path):
    options, runtimes = DETECTORS[head]
    task = pxcore.model_info(head)["task"]
    train = _dataset(shapes, task)
    paddle.seed(0)
    model = pxcore.create_model(head, num_classes=train.num_classes, backbone="TinyNet", **options)
    assert [type(model.net.backbone).__name__, model.net.backbone.out_indices] == [
        "TinyNet", (2, 3, 4) if head.startswith("YOLOv3") else (1, 2, 3, 4)]
    model.labels = list(train.labels)
    batch = next(iter(Loader(train, 4, fields=model.batch_fields, defaults=model.field_defaults,
                             num_workers=0)))
    # Exported first, on fresh weights with BatchNorm's statistics from this batch (as
    # pxcore's R-CNN row tests do): a few steps of training leave an R-CNN's RPN with
    # many near-equal proposals, and which of them survive NMS is then a float rounding
    # matter between eager Paddle and its inference engine.
    settle_batchnorm(model, batch)
    if getattr(model.net, "with_mask", False):
        # fresh mask logits sit near 0, where float noise flips pixels across 0.5
        logits = model.net.mask_head.mask_logits
        logits.weight.set_value(logits.weight * 50.0)
    images = [str(shapes / line.split()[0]) for line in
              (shapes / "train_list.txt").read_text(encoding="utf-8").splitlines()[:2]]
    predictions = model.predict(images)
    assert all(predictions), "every image gets detections"
    exported = model.export(tmp_path / "inference")
    if hasattr(model.net, "keep_top_k"):  # R-CNN
        cuts = {"threshold": model.net.score_threshold, "keep_top_k": model.net.keep_top_k}
    else:
        from pxcore_yolov3.postprocess import NMS_DEFAULTS

        nms = {**NMS_DEFAULTS[model.net.postprocess.nms.get("type", "multiclass")],
               **model.net.postprocess.nms}
        cuts = {"threshold": nms.get("post_threshold", nms["score_threshold"]),
                "keep_top_k": nms["keep_top_k"]}
    for runtime in runtimes:
        deployed = pxcore.Predictor(exported, runtime=runtime).predict(images)
        matches = assert_same_detection_lists(deployed, predictions, require_nonempty=True,
                                              coord_atol=0.1, **cuts)
        for a, b, found in zip(deployed, predictions, matches, strict=True):
            for i, j in found.pairs:
                if "mask" in a[i]:
                    assert np.mean(a[i]["mask"] == b[j]["mask"]) > 0.995, runtime
    # and it learns: the loss falls over a few steps on the batch
    loss_falls(model, batch, steps=8, learning_rate=1e-3, ratio=0.8)


@pytest.mark.slow
def test_tinynet_under_deeplabv3p(tmp_path):
    report = check_segmentation_workflow("DeepLabv3_Xception65", tmp_path, backbone="TinyNet",
                                         runtimes=("onnxruntime",))
    assert report["losses"][-1] < report["losses"][0]


def test_a_head_that_needs_a_stride_tinynet_lacks_says_so():
    # R-CNN's C4 layout runs the backbone's last stage as its box head: TinyNet has
    # no stage_blocks(), and the error says to use the FPN layout
    with pytest.raises(pxcore.PxError, match="stage_blocks"):
        pxcore.create_model("FasterRCNN-ResNet50", num_classes=2, backbone="TinyNet")
    with pytest.raises(pxcore.PxError, match="strides"):
        pxcore.create_model("YOLOv3-DarkNet53", num_classes=2, backbone="TinyNet",
                            backbone_args={"widths": (8, 16, 32, 64)})  # stops at stride 16
