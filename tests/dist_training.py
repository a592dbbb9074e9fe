"""A training run for tests/test_distributed.py, alone or under
``python -m paddle.distributed.launch``: FixtureNet_cls (no BatchNorm) on the digits,
seed fixed, evaluated and saved at the end. Test code only.

    python tests/dist_training.py DIGITS_DIR SAVE_DIR EPOCHS BATCH [--accumulate K]

stdout: ``DONE <rank> <world size> <state as JSON>`` when training finished.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("digits_dir", type=Path)
    parser.add_argument("save_dir")
    parser.add_argument("epochs", type=int)
    parser.add_argument("batch", type=int)
    parser.add_argument("--accumulate", type=int, default=1)
    args = parser.parse_args()

    import paddle

    import fixture_plugins  # tests/, this script's folder
    import pxcore
    from pxcore import datasets, transforms
    from pxcore.engine.distributed import world

    pxcore.register_plugin(fixture_plugins.Good(), name="fixture-good")
    root = args.digits_dir
    t = transforms.Compose([transforms.Normalize()])
    train = datasets.ImageNet(root, root / "train_list.txt", root / "labels.txt", t, shuffle=True)
    val = datasets.ImageNet(root, root / "val_list.txt", root / "labels.txt", t)
    paddle.seed(0)
    model = pxcore.create_model("FixtureNet_cls", num_classes=10,
                                backbone={"type": "FixtureNet", "widths": [8, 16, 32]})
    state = model.train(args.epochs, train, eval_dataset=val, train_batch_size=args.batch,
                        learning_rate=0.1, lr_decay_epochs=[], num_workers=0,
                        log_interval_steps=100, seed=7, save_dir=args.save_dir,
                        accumulate_steps=args.accumulate)
    rank, size = world()
    out = {k: state[k] for k in ("epoch", "global_step", "best_metric", "history")}
    print("DONE", rank, size, json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
