"""``px predict MODEL_DIR IMAGE...``: predict, print the results, save labelled pictures.

MODEL_DIR is a saved model (model.yml; run by Paddle in Python) or an exported one
(deploy.yml; run by the runtime ``--runtime`` names, "auto" by default)."""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub, name):
    p = sub.add_parser(name, help="predict images with a saved or exported model and draw the results")
    p.add_argument("model_dir", help="a model directory (output/best_model) or an exported one")
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("--topk", type=int, default=1, help="classification: classes per image")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="detection: draw (and print) boxes scoring at least this (0.5)")
    p.add_argument("--runtime", help="for exported models: auto (default), paddle, onnxruntime, ...")
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    p.add_argument("--tile-size", type=int, nargs="+", metavar="PX",
                   help="segmentation: predict by sliding windows of this size (one side, or "
                        "width height)")
    p.add_argument("--overlap", type=int, nargs="+", default=[64], metavar="PX",
                   help="segmentation: how much sliding windows overlap (64)")
    p.add_argument("--batch-size", type=int, default=8, help="images the network runs at once (8)")
    p.add_argument("--save-dir", default="output/predict", help="where the labelled pictures go")
    return p


def run(args) -> int:
    from ..api import load_model
    from ..errors import PxError
    from ..inference.deploy_file import DEPLOY_FILE
    from ..ops.masks import mask_to_rle
    from ..visualize import visualize

    if (Path(args.model_dir) / DEPLOY_FILE).is_file():
        from ..inference.predictor import Predictor

        model = Predictor(args.model_dir, runtime=args.runtime or "auto", device=args.device)
        where = f"runtime {model.runtime}"
    else:
        if args.runtime:
            raise PxError(f"--runtime needs an exported model; export {args.model_dir} first "
                          f"(px export {args.model_dir} --save-dir inference_model)")
        model = load_model(args.model_dir)
        where = "paddle (Python)"
    task = getattr(model, "task", None)
    detects = task in ("detection", "instance_segmentation")
    segments = task == "semantic_segmentation"
    batch = {"batch_size": args.batch_size}
    if segments:
        results = model.predict(args.images, tile_size=_pair(args.tile_size), overlap=_pair(args.overlap),
                                **batch)
    else:
        results = (model.predict(args.images, **batch) if detects
                   else model.predict(args.images, topk=args.topk, **batch))
    save_dir = Path(args.save_dir)
    for image, result in zip(args.images, results, strict=True):
        picture = save_dir / f"{Path(image).stem}.png"
        if detects:
            result = [r for r in result if r["score"] >= args.threshold]
        visualize(image, result, picture, threshold=args.threshold, labels=model.labels)
        if segments:  # the label map is written as a PNG of class ids; the JSON line says where
            label_png = save_dir / f"{Path(image).stem}_label.png"
            _write_label_map(label_png, result["label_map"])
            print(json.dumps({"image": image, "label_map": str(label_png), "picture": str(picture),
                              "classes": _pixel_shares(result["label_map"], model.labels), "by": where}))
            continue
        # masks are drawn in the picture; the JSON line gives them as COCO RLE
        shown = [{**r, "mask": mask_to_rle(r["mask"])} if "mask" in r else r for r in result]
        print(json.dumps({"image": image, "result": shown, "picture": str(picture), "by": where}))
    return 0


def _pair(values):
    if not values:
        return None
    return values[0] if len(values) == 1 else list(values)


def _write_label_map(path: Path, label_map) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), label_map)


def _pixel_shares(label_map, labels) -> dict:
    import numpy as np

    ids, counts = np.unique(label_map, return_counts=True)
    return {(labels[i] if labels and i < len(labels) else str(int(i))): round(float(n) / label_map.size, 4)
            for i, n in zip(ids, counts, strict=True)}
