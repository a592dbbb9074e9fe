"""A training process for tests/test_crash_safety.py to kill: FixtureNet_cls on the
digits, seed fixed, a checkpoint every epoch, no evaluation (so best_model is rewritten
every epoch). Test code only; pxcore has no hook for it.

    python tests/crash_training.py DIGITS_DIR SAVE_DIR EPOCHS [--resume DIR]
        [--pause STAGE:NAME | --pause-at-step EPOCH:STEP] [--no-exchange]

stdout, flushed line by line:
    LOSS <epoch> <step> <loss>   every step (1-based, the loss as repr(float))
    PAUSED <stage> <path>        the save of NAME reached STAGE; the process then sleeps
                                 until it is killed
    DONE <history as JSON>       training finished

``--pause`` stops a save at one moment, so the test's SIGKILL lands exactly there:
    half-weights  the weights file being written for NAME is half written
    written       the temporary directory is whole and synced, not yet renamed
    swapped       NAME was swapped with the temporary directory in one step, which now
                  holds the previous NAME, not yet removed
    renamed-away  (with --no-exchange: the two-rename swap) NAME was renamed to .NAME.old
                  and the new one not yet renamed into place
``--no-exchange`` makes the atomic exchange unavailable, as on systems without
renameat2, so the two-rename swap runs. The first save of NAME that reaches STAGE pauses.
``--pause-at-step`` pauses mid-epoch, after that step's optimizer update and LOSS line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def pause(stage: str, path) -> None:
    print("PAUSED", stage, path, flush=True)
    while True:  # SIGKILL ends it
        time.sleep(60)


def install_pause(stage: str, name: str) -> None:
    import paddle

    from pxcore.engine import checkpoint

    def ours(path) -> bool:  # a directory being written as NAME (where ever that may be)
        return Path(path).name == name or Path(path).name.startswith(f".{name}.")

    if stage == "half-weights":
        save = paddle.save

        def paddle_save(obj, path, *args, **kwargs):
            save(obj, path, *args, **kwargs)
            if Path(path).name == checkpoint.WEIGHTS_FILE and ours(Path(path).parent):
                size = os.path.getsize(path)
                os.truncate(path, size // 2)
                pause(stage, path)

        paddle.save = paddle_save
    elif stage == "written":
        fsync_dir = checkpoint._fsync_dir

        def synced(path):
            fsync_dir(path)
            if ours(path):
                pause(stage, path)

        checkpoint._fsync_dir = synced
    elif stage == "swapped":
        exchange = checkpoint._exchange

        def swapped(a, b):
            done = exchange(a, b)
            if not done:
                raise AssertionError("the atomic exchange is not available here")
            if Path(b).name == name:
                pause(stage, a)
            return done

        checkpoint._exchange = swapped
    elif stage == "renamed-away":
        replace = os.replace

        def renamed(src, dst):
            replace(src, dst)
            if Path(src).name == name and Path(dst).name == f".{name}.old":
                pause(stage, dst)

        os.replace = renamed
    else:
        raise SystemExit(f"unknown stage {stage!r}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("digits_dir", type=Path)
    parser.add_argument("save_dir")
    parser.add_argument("epochs", type=int)
    parser.add_argument("--resume")
    parser.add_argument("--pause")
    parser.add_argument("--pause-at-step")
    parser.add_argument("--no-exchange", action="store_true")
    args = parser.parse_args()

    import paddle

    import fixture_plugins  # tests/, this script's folder
    import pxcore
    from pxcore import datasets, transforms
    from pxcore.engine import checkpoint, progress

    if args.no_exchange:
        checkpoint._exchange = lambda a, b: False
    if args.pause:
        install_pause(*args.pause.split(":"))

    step = progress.Progress.step
    stop_at = tuple(int(n) for n in args.pause_at_step.split(":")) if args.pause_at_step else None

    def logged(self, epoch, index, loss, lr, batch_images):
        print("LOSS", epoch + 1, index + 1, repr(loss), flush=True)
        step(self, epoch, index, loss, lr, batch_images)
        if (epoch + 1, index + 1) == stop_at:
            pause("step", f"{epoch + 1}:{index + 1}")

    progress.Progress.step = logged

    pxcore.register_plugin(fixture_plugins.Good(), name="fixture-good")
    root = args.digits_dir
    train = datasets.ImageNet(root, root / "train_list.txt", root / "labels.txt",
                              transforms.Compose([transforms.Normalize()]), shuffle=True)
    paddle.seed(0)
    model = pxcore.create_model("FixtureNet_cls", num_classes=10,
                                backbone={"type": "FixtureNet", "widths": [8, 16, 32]})
    state = model.train(args.epochs, train, train_batch_size=128, learning_rate=0.1,
                        lr_decay_epochs=[], num_workers=0, log_interval_steps=1, seed=7,
                        save_dir=args.save_dir, resume_checkpoint=args.resume)
    print("DONE", json.dumps(state["history"]), flush=True)


if __name__ == "__main__":
    sys.exit(main())
