"""A small classifier trained on the digits in seconds, so that accuracy means something
(tests that score an export: evaluate_export, px quantize). FixtureNet_cls comes from
the fixture-good plugin, which the caller registers."""

from __future__ import annotations

from pathlib import Path

import pxcore
from pxcore.transforms import Compose, Normalize


def train_digits_classifier(digits_dir: Path, save_dir: Path):
    """FixtureNet (widths 8/16/32), seeded, three epochs on the training split: about 0.9
    top-1 on the validation split."""
    import paddle

    paddle.seed(0)
    model = pxcore.create_model("FixtureNet_cls", num_classes=10,
                                backbone={"type": "FixtureNet", "widths": [8, 16, 32]})
    model.labels = [str(i) for i in range(10)]
    model.eval_transforms = Compose([Normalize()])
    train = pxcore.datasets.ImageNet(digits_dir, digits_dir / "train_list.txt", digits_dir / "labels.txt",
                                     transforms=model.eval_transforms, shuffle=True)
    model.train(3, train, train_batch_size=64, learning_rate=0.1, lr_decay_epochs=[],
                save_dir=str(save_dir), num_workers=0, seed=0)
    return model
