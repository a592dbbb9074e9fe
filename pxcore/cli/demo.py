"""``px demo``: the whole workflow on the real digits scikit-learn ships (see pxcore.demo)."""

from __future__ import annotations

import json

from ..demo import DEFAULT_MODELS, MAIN_METRICS, run_demo, run_detection_demo
from ..errors import PxError

# The test metric below which the demo fails, per task.
FLOORS = {"detection": 0.5, "instance_segmentation": 0.4, "semantic_segmentation": 0.6}


def add_parser(sub, name):
    p = sub.add_parser(name, help="prepare real data, train, evaluate, predict, export and deploy",
                       description="The main job: scikit-learn's real handwritten digits through "
                                   "the whole workflow, offline, in a few minutes on 2 cores.")
    p.add_argument("--task", default="classification", choices=sorted(DEFAULT_MODELS),
                   help="classification (digits, the default), detection, instance_segmentation "
                        "or semantic_segmentation (generated shapes)")
    p.add_argument("--model", help="a zoo model of the task (" + ", ".join(
        f"{task}: {name}" for task, name in DEFAULT_MODELS.items()) + ")")
    p.add_argument("--work-dir", help="default: output/demo (output/demo_<task>)")
    p.add_argument("--epochs", type=int, help="default: 8 (the recipes' own counts)")
    p.add_argument("--min-accuracy", type=float,
                   help="fail if the test metric (top-1; detection: mAP@0.5; instance "
                        "segmentation: mask mAP@0.5; semantic segmentation: mIoU) is below "
                        "this (0.95; 0.5; 0.4; 0.6)")
    return p


def run(args) -> int:
    model = args.model or DEFAULT_MODELS[args.task]
    if args.task in MAIN_METRICS:
        report = run_detection_demo(args.work_dir or f"output/demo_{args.task}", model,
                                    num_epochs=args.epochs, task=args.task)
        key, what = MAIN_METRICS[args.task]
        floor = FLOORS[args.task]
    else:
        report = run_demo(args.work_dir or "output/demo", model, num_epochs=args.epochs or 8)
        key, floor, what = "acc1", 0.95, "top-1"
    floor = floor if args.min_accuracy is None else args.min_accuracy
    print("\nsummary\n" + json.dumps(report, indent=2))
    acc = report["test"][key]
    if acc < floor:
        raise PxError(f"test {what} {acc:.4f} is below {floor}")
    if not report["reload_matches"]:
        raise PxError("the reloaded model predicted differently from the trained one")
    if not report["runtime_matches"]:
        raise PxError(f"the exported model run by {report['runtime']} disagrees with Python")
    print(f"\ndone in {report['seconds']} s: test {what} {acc:.4f}; files under {report['work_dir']}/")
    return 0
