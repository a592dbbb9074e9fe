"""``px demo``: the whole workflow on the real digits scikit-learn ships (see pxcore.demo)."""

from __future__ import annotations

import json

from ..demo import DEFAULT_MODEL, run_demo
from ..errors import PxError


def add_parser(sub, name):
    p = sub.add_parser(name, help="prepare real data, train, evaluate, predict, export and deploy",
                       description="The main job: scikit-learn's real handwritten digits through "
                                   "the whole workflow, offline, in a few minutes on 2 cores.")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"any classification model ({DEFAULT_MODEL})")
    p.add_argument("--work-dir", default="output/demo")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--min-accuracy", type=float, default=0.95,
                   help="fail if test top-1 is below this (0.95)")
    return p


def run(args) -> int:
    report = run_demo(args.work_dir, args.model, num_epochs=args.epochs)
    print("\nsummary\n" + json.dumps(report, indent=2))
    acc = report["test"]["acc1"]
    if acc < args.min_accuracy:
        raise PxError(f"test top-1 {acc:.4f} is below {args.min_accuracy}")
    if not report["reload_matches"]:
        raise PxError("the reloaded model predicted differently from the trained one")
    if not report["runtime_matches"]:
        raise PxError(f"the exported model run by {report['runtime']} disagrees with Python")
    print(f"\ndone in {report['seconds']} s: test top-1 {acc:.4f}; files under {args.work_dir}/")
    return 0
