"""``px check-dataset DIR --format imagenet|voc|coco|seg``: every problem in a data set at
once (file and line or annotation id), counts per split and class, and with ``--report``
an HTML page of pictures beside a JSON summary; ``--fix DST`` writes a cleaned copy.
Exit status 1 when there are errors, 0 with only warnings."""

from __future__ import annotations

import os
import sys

MAX_PRINTED = 200  # findings printed; the report and summary.json hold them all


def add_parser(sub, name):
    p = sub.add_parser(name, help="find what is wrong with a data set before training (counts, "
                       "problems, an HTML report, a cleaned copy)")
    p.add_argument("data_dir", help="the data set's folder (as px split-dataset leaves it)")
    p.add_argument("--format", choices=["imagenet", "voc", "coco", "seg"], required=True)
    p.add_argument("--file-list", nargs="+", metavar="LIST",
                   help="the lists (or COCO JSONs) to check, relative to DIR; default: "
                   "train/val/test_list.txt (coco: train/val/test.json or annotations.json)")
    p.add_argument("--label-list", help="default DIR/labels.txt (not used for coco)")
    p.add_argument("--report", metavar="OUT", help="write OUT/report.html and OUT/summary.json")
    p.add_argument("--fix", metavar="DST", help="write cleaned lists/annotations into DST (a new "
                   "folder; the originals are not touched), each change in DST/fixes.log")
    p.add_argument("--imbalance-ratio", type=float, default=10.0,
                   help="warn when the most and fewest samples per class differ by more (10)")
    p.add_argument("--samples", type=int, default=12, help="sample images in the report (12)")
    return p


def run(args) -> int:
    from ..datasets.checker import check

    result = check(args.data_dir, args.format, args.file_list, args.label_list, args.imbalance_ratio)
    # files first: a reader who pipes the listing into `head` still gets them
    written = []
    if args.fix:
        from ..datasets.check_fix import write_fixed

        write_fixed(result, args.fix)
        written.append(f"fixed copy in {args.fix}: {len(result.fixes)} changes (listed in {args.fix}/fixes.log)")
    if args.report:
        from ..datasets.check_report import write_report

        page, data = write_report(result, args.report, args.samples)
        written.append(f"report: {page} (summary: {data})")
    status = 1 if result.errors else 0
    try:
        _print(result, written)
        sys.stdout.flush()  # a closed pipe fails here, not at exit (status 120)
    except BrokenPipeError:  # `px check-dataset ... | head`: the status still says errors
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
    return status


def _print(result, written: list[str]) -> None:
    summary = result.summary()
    for split, counts in summary["splits"].items():
        print(f"{split:6s} {counts['images']} usable images of {counts['listed']}, {counts['annotations']} annotations "
              f"({summary['sources'][split]})")
    totals = result.class_totals()
    if result.labels:
        print("per class: " + ", ".join(f"{name} {n}" for name, n in zip(result.labels, totals, strict=True)))
    ordered = sorted(result.findings, key=lambda f: f.severity != "error")
    for finding in ordered[:MAX_PRINTED]:
        print(finding)
    if len(ordered) > MAX_PRINTED:
        print(f"... and {len(ordered) - MAX_PRINTED} more (--report writes them all)")
    for line in written:
        print(line)
    print(f"{len(result.errors)} errors, {len(result.warnings)} warnings")
