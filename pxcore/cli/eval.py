"""``px eval MODEL_DIR --file-list LIST``: evaluate a saved model on a data set."""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub, name):
    p = sub.add_parser(name, help="evaluate a saved model on a file list")
    p.add_argument("model_dir", help="a model directory (e.g. output/best_model)")
    p.add_argument("--file-list", required=True, help="e.g. data/val_list.txt")
    p.add_argument("--data-dir", help="image root (default: the file list's folder)")
    p.add_argument("--label-list", help="labels.txt (default: beside the file list)")
    p.add_argument("--batch-size", type=int, default=32)
    return p


def run(args) -> int:
    from ..datasets import ImageNet
    from ..model import load_model

    model = load_model(args.model_dir)
    file_list = Path(args.file_list)
    data_dir = Path(args.data_dir) if args.data_dir else file_list.parent
    label_list = Path(args.label_list) if args.label_list else data_dir / "labels.txt"
    dataset = ImageNet(data_dir, file_list, label_list, transforms=model.eval_transforms)
    print(json.dumps(model.evaluate(dataset, batch_size=args.batch_size), indent=2))
    return 0
