"""``px split-dataset [--format imagenet|voc|coco|seg] DIR --val 0.2 --test 0.1``: labels
and train/val/test lists (or COCO JSONs) for a folder of images and annotations."""

from __future__ import annotations

import json


def add_parser(sub, name):
    p = sub.add_parser(name, help="write labels and train/val/test lists for a data folder")
    p.add_argument("data_dir", help="imagenet: a sub-folder of images per class; voc: "
                   "Annotations/*.xml + JPEGImages/; coco: annotations.json + its images; "
                   "seg: Annotations/*.png + JPEGImages/ + labels.txt")
    p.add_argument("--format", choices=["imagenet", "voc", "coco", "seg"], default="imagenet")
    p.add_argument("--val", type=float, default=0.2, help="fraction for validation (0.2)")
    p.add_argument("--test", type=float, default=0.0, help="fraction for testing (0)")
    p.add_argument("--seed", type=int, default=0)
    return p


def run(args) -> int:
    from ..datasets.split import SPLITTERS

    written = SPLITTERS[args.format](args.data_dir, val=args.val, test=args.test, seed=args.seed)
    for what, path in written.items():
        if path.suffix == ".json":
            count = f"{len(json.loads(path.read_text(encoding='utf-8'))['images'])} images"
        else:
            count = f"{sum(1 for _ in open(path, encoding='utf-8'))} lines"
        print(f"{what:6s} {path} ({count})")
    return 0
