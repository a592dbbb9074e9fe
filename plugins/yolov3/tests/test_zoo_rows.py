"""Every YOLO zoo row through the workflow on the generated shapes: its loss falls, it
evaluates and predicts, and its export gives the same boxes in every CPU runtime."""

from __future__ import annotations

import paddle
import pytest

import pxcore as px
from pxcore import transforms as T
from pxcore.data.loader import Loader
from pxcore.datasets.anchors import dataset_anchors
from pxcore.testing.detections import assert_same_detection_lists
from pxcore.testing.runtimes import usable_runtimes
from pxcore.testing.training import loss_falls, settle_batchnorm
from pxcore_yolov3.plugin import YOLOV3_BACKBONES
from pxcore_yolov3.postprocess import NMS_DEFAULTS

SIZE = 64
RUNTIMES = ("paddle", "onnxruntime")
OPTIONAL_RUNTIMES = ("openvino",)  # wherever installed, held to the same tolerances


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = px.datasets.make_shapes(tmp_path_factory.mktemp("shapes"), num_images=20,
                                   image_size=SIZE, seed=2)
    eval_t = T.Compose([T.Resize(SIZE), T.Normalize()])
    train = px.datasets.VOCDetection(root, root / "train_list.txt", root / "labels.txt",
                                     transforms=T.Compose([T.Normalize()]))
    val = px.datasets.VOCDetection(root, root / "val_list.txt", root / "labels.txt",
                                   transforms=eval_t)
    return root, train, val


@pytest.mark.slow
@pytest.mark.parity
@pytest.mark.parametrize("name", [*YOLOV3_BACKBONES, "PPYOLO"])
def test_zoo_row_learns_evaluates_predicts_and_exports(name, shapes, tmp_path):
    root, train, val = shapes
    paddle.seed(0)
    model = px.create_model(name, num_classes=train.num_classes,
                            anchors=dataset_anchors(train, SIZE))
    model.labels = list(train.labels)
    model.eval_transforms = val.transforms

    # The loss falls: a few optimizer steps on one batch.
    batch = next(iter(Loader(train, 8, fields=model.batch_fields, defaults=model.field_defaults,
                             num_workers=0)))
    loss_falls(model, batch, steps=8, learning_rate=1e-3, ratio=0.7)

    # Settle BatchNorm's running statistics on the batch (eight steps leave them near
    # their initial values, and eval-mode outputs of a deep net then blow up): with
    # momentum 0 one pass sets them to the batch's, what many passes approach.
    settle_batchnorm(model, batch)
    metrics = model.evaluate(val, batch_size=4)
    assert {"bbox_mmap", "bbox_map50", "bbox_map"} <= set(metrics)

    images = [str(root / line.split()[0]) for line in
              (root / "val_list.txt").read_text().splitlines()[:2]]
    predictions = model.predict(images)
    assert all(predictions), "every image gets detections"
    exported = model.export(tmp_path / "inference")
    # The runtimes' raw outputs differ from eager's by float32 rounding only (PP-YOLO on
    # AVX-512: at most 5e-5 on logits up to 8.6, about as much between Paddle Inference
    # and ONNX Runtime, and as much without the deformable convs), which moves scores by
    # at most 1.7e-6 and corners by at most 6e-4 px. The comparator's defaults state
    # their tolerances (pxcore.testing.detections): boxes pair at IoU > 0.99 or, for the
    # sub-pixel boxes an untrained head gives (0.005 px high, where 3e-5 px of noise
    # is IoU 0.985), with corners within 0.01 px; scores within 1e-4. Only a box within
    # 1e-4 of a cut may go unpaired: NMS's score threshold, or the lowest score of a
    # list cut at keep_top_k (every list here is: 100 boxes).
    nms = {**NMS_DEFAULTS[model.net.postprocess.nms.get("type", "multiclass")],
           **model.net.postprocess.nms}
    cut = nms.get("post_threshold", nms["score_threshold"])
    for runtime in (*RUNTIMES, *usable_runtimes(OPTIONAL_RUNTIMES)):
        deployed = px.Predictor(exported, runtime=runtime).predict(images)
        try:
            assert_same_detection_lists(deployed, predictions, threshold=cut,
                                        keep_top_k=nms["keep_top_k"], require_nonempty=True)
        except AssertionError as exc:
            raise AssertionError(f"{runtime}: {exc}") from None
