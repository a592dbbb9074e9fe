"""``px split-dataset DIR --val 0.2 --test 0.1``: file lists for an image-folder tree."""

from __future__ import annotations


def add_parser(sub, name):
    p = sub.add_parser(name, help="write labels.txt and train/val/test lists for a folder tree")
    p.add_argument("data_dir", help="a folder with one sub-folder of images per class")
    p.add_argument("--format", choices=["imagenet"], default="imagenet")
    p.add_argument("--val", type=float, default=0.2, help="fraction for validation (0.2)")
    p.add_argument("--test", type=float, default=0.0, help="fraction for testing (0)")
    p.add_argument("--seed", type=int, default=0)
    return p


def run(args) -> int:
    from ..datasets.split import split_image_folders

    written = split_image_folders(args.data_dir, val=args.val, test=args.test, seed=args.seed)
    for what, path in written.items():
        lines = sum(1 for _ in open(path, encoding="utf-8"))
        print(f"{what:6s} {path} ({lines} lines)")
    return 0
