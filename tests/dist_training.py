"""A training run for tests/test_distributed.py, alone or under
``python -m paddle.distributed.launch``: FixtureNet_cls (no BatchNorm) on the digits,
seed fixed, evaluated and saved at the end. Test code only.

    python tests/dist_training.py DIGITS_DIR SAVE_DIR EPOCHS BATCH [--accumulate K]
        [--shapes SHAPES_DIR]

Before training, the untrained net (the same in every process) is evaluated on the
digits, and with ``--shapes`` a TinySeg segmenter on the shapes too: ``model.evaluate``
called as a user would, sharded over the processes when launched.

stdout: ``DONE <rank> <world size> <state as JSON>`` when training finished; the
state's "eval" holds those evaluations (and the segmenter's probabilities, to tell ties).
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
    parser.add_argument("--shapes", type=Path)
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
    scores, details = model.evaluate(val, batch_size=8, return_details=True)
    evaluated = {"cls": scores, "cls_labels": details["true_labels"],
                 "cls_scores": details["scores"]}
    if args.shapes:
        pxcore.register_plugin(fixture_plugins.Segmenter(), name="seg-fixture")
        seg_val = datasets.SegDataset(args.shapes, args.shapes / "seg_val_list.txt",
                                      args.shapes / "seg_labels.txt",
                                      transforms.Compose([transforms.Normalize()]))
        paddle.seed(0)
        seg = pxcore.create_model("TinySeg", num_classes=seg_val.num_classes)
        scores, details = seg.evaluate(seg_val, batch_size=2, return_details=True)
        images = [seg_val.load(i)["image"] for i in range(len(seg_val))]  # for telling ties
        maps = [r["score_map"].tolist() for r in seg.predict(images, seg_val.transforms, batch_size=2, score_map=True)]
        evaluated.update(seg=scores, seg_matrix=details["confusion_matrix"].tolist(), seg_scores=maps)
    paddle.seed(0)
    model = pxcore.create_model("FixtureNet_cls", num_classes=10,
                                backbone={"type": "FixtureNet", "widths": [8, 16, 32]})
    state = model.train(args.epochs, train, eval_dataset=val, train_batch_size=args.batch,
                        learning_rate=0.1, lr_decay_epochs=[], num_workers=0,
                        log_interval_steps=100, seed=7, save_dir=args.save_dir,
                        accumulate_steps=args.accumulate)
    rank, size = world()
    out = {k: state[k] for k in ("epoch", "global_step", "best_metric", "history")}
    out["eval"] = evaluated
    print("DONE", rank, size, json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
