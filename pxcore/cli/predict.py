"""``px predict MODEL_DIR IMAGE...``: predict, print the results, save labelled pictures."""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub, name):
    p = sub.add_parser(name, help="predict images with a saved model and draw the results")
    p.add_argument("model_dir", help="a model directory (e.g. output/best_model)")
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("--topk", type=int, default=1)
    p.add_argument("--save-dir", default="output/predict", help="where the labelled pictures go")
    return p


def run(args) -> int:
    from ..model import load_model
    from ..visualize import visualize

    model = load_model(args.model_dir)
    results = model.predict(args.images, topk=args.topk)
    save_dir = Path(args.save_dir)
    for image, result in zip(args.images, results, strict=True):
        picture = save_dir / f"{Path(image).stem}.png"
        visualize(image, result, picture)
        print(json.dumps({"image": image, "result": result, "picture": str(picture)}))
    return 0
