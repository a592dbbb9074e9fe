"""Mask R-CNN from scratch on the generated shapes (solid shapes on scikit-learn's real
photos, COCO format with polygons): the instance segmentation demo's recipe, held to
segm mAP@0.5 >= 0.4 on the held-out split by ``bench/recipes.py instance_segmentation``.

No pretrained weights are reachable offline, so the recipe sets the zoo's lightest
Mask R-CNN (ResNet18-FPN) for a from-scratch network on 2 CPU cores: small images,
anchors sized to them, a narrow pyramid and heads, fewer proposals and sampled RoIs,
and Adam.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .shapes_detection import ShapesData

MODEL = "MaskRCNN-ResNet18-FPN"
SIZE = 96
NUM_IMAGES = 800
MAX_OBJECTS = 3
EPOCHS = 3
BATCH_SIZE = 4
LEARNING_RATE = 0.002
WARMUP_STEPS = 30
# At 96 px the zoo's anchors (32..512) and 256-wide pyramid and heads are sized for
# 800 px COCO images; these are the same architecture scaled to the data.
NETWORK = {
    "anchor_sizes": ((12,), (24,), (48,), (96,), (192,)),
    "fpn_channels": 64,
    "box_head_hidden": 256,
    "mask_head_channels": 64,
    "train_proposals": (300, 100),
    "test_proposals": (300, 50),
    "rpn_batch_size": 128,
    "roi_batch_size": 64,
}


def prepare(data_dir: str | Path, seed: int = 0) -> ShapesData:
    """Generate the set (train 70%, val 20%, test 10%) and its COCO data sets."""
    import pxcore as px
    from pxcore import transforms as T

    root = px.datasets.make_shapes(data_dir, num_images=NUM_IMAGES, image_size=SIZE,
                                   max_objects=MAX_OBJECTS, seed=seed)
    train_t = T.Compose([T.RandomDistort(), T.RandomHorizontalFlip(), T.Normalize()])
    eval_t = T.Compose([T.Resize(SIZE), T.Normalize()])

    def dataset(split: str, transforms, shuffle: bool = False):
        return px.datasets.CocoDetection(root, root / "annotations" / f"{split}.json",
                                         transforms=transforms, shuffle=shuffle)

    return ShapesData(root, dataset("train", train_t, True), dataset("val", eval_t),
                      dataset("test", eval_t))


def train(data: ShapesData, model_name: str = MODEL, save_dir: str | Path = "output",
          num_epochs: int = EPOCHS, seed: int = 0, precise_bn: Any = "auto", **overrides: Any):
    """Build ``model_name`` scaled to the data and train it; returns the model and the
    training history."""
    import paddle

    import pxcore as px

    paddle.seed(seed)
    model = px.create_model(model_name, num_classes=data.train.num_classes, **{**NETWORK, **overrides})
    model.eval_transforms = data.val.transforms
    state = model.train(num_epochs, data.train, train_batch_size=BATCH_SIZE, eval_dataset=data.val,
                        learning_rate=LEARNING_RATE, optimizer="Adam", warmup_steps=WARMUP_STEPS,
                        lr_decay_epochs=[max(1, num_epochs - 1)], save_interval_epochs=num_epochs,
                        save_dir=str(save_dir), log_interval_steps=50, seed=seed, precise_bn=precise_bn)
    return model, state
