"""YOLOv3 from scratch on the generated shapes (solid shapes on scikit-learn's real
photos, VOC format): the detection demo's recipe, held to mAP@0.5 >= 0.5 on the
held-out split by ``bench/recipes.py detection`` and a slow test.

No pretrained weights are reachable offline, so the recipe is set for a from-scratch
network on 2 CPU cores: small images, a narrow neck, anchors fitted to the data, Adam.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

SIZE = 96
NUM_IMAGES = 1000
MAX_OBJECTS = 3
EPOCHS = 8
BATCH_SIZE = 8
LEARNING_RATE = 0.012
WARMUP_STEPS = 30
# A 128-wide FPN instead of PaddleDetection's 512: at 96 px the neck would cost more
# than the backbone; positives for every anchor fitting a box above IoU 0.5.
NECK_CHANNELS = 128
TARGET_IOU_THRESH = 0.5


@attrs.define
class ShapesData:
    root: Path
    train: Any
    val: Any
    test: Any


def prepare(data_dir: str | Path, seed: int = 0) -> ShapesData:
    """Generate the set (train 70%, val 20%, test 10%) and its data sets."""
    import pxcore as px
    from pxcore import transforms as T

    root = px.datasets.make_shapes(data_dir, num_images=NUM_IMAGES, image_size=SIZE,
                                   max_objects=MAX_OBJECTS, seed=seed)
    train_t = T.Compose([T.RandomDistort(), T.RandomHorizontalFlip(), T.Normalize()])
    eval_t = T.Compose([T.Resize(SIZE), T.Normalize()])
    labels = root / "labels.txt"

    def dataset(split: str, transforms, shuffle: bool = False):
        return px.datasets.VOCDetection(root, root / f"{split}_list.txt", labels,
                                        transforms=transforms, shuffle=shuffle)

    return ShapesData(root, dataset("train", train_t, True), dataset("val", eval_t),
                      dataset("test", eval_t))


def train(data: ShapesData, model_name: str, save_dir: str | Path, num_epochs: int = EPOCHS,
          seed: int = 0, precise_bn: Any = "auto", **overrides: Any):
    """Build ``model_name`` with anchors fitted to the data and train it; returns the
    model and the training history."""
    import paddle

    import pxcore as px
    from pxcore.datasets.anchors import dataset_anchors

    paddle.seed(seed)
    args = {"neck_channels": NECK_CHANNELS, "target_iou_thresh": TARGET_IOU_THRESH, **overrides}
    model = px.create_model(model_name, num_classes=data.train.num_classes,
                            anchors=dataset_anchors(data.train, SIZE), **args)
    state = model.train(num_epochs, data.train, train_batch_size=BATCH_SIZE, eval_dataset=data.val,
                        learning_rate=LEARNING_RATE, optimizer="Adam", warmup_steps=WARMUP_STEPS,
                        lr_decay_epochs=[max(1, num_epochs * 3 // 4)], save_interval_epochs=max(1, num_epochs // 2),
                        save_dir=str(save_dir), log_interval_steps=50, seed=seed, precise_bn=precise_bn)
    return model, state
