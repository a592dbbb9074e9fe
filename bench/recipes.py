"""Training benchmarks: a task's shapes recipe (``pxcore.recipes``) trained from scratch
on this machine and scored on the held-out test split.

    python bench/recipes.py detection                       # YOLOv3-MobileNetV1, mAP@0.5 >= 0.5
    python bench/recipes.py instance_segmentation           # MaskRCNN-ResNet18-FPN, mask mAP@0.5 >= 0.4
    python bench/recipes.py semantic_segmentation           # Fast-SCNN, mIoU >= 0.6
    python bench/recipes.py detection YOLOv3-ResNet34 --seed 1

Prints one row per model (train minutes, images/s, the task's metrics) and exits
non-zero when a model misses its task's target (issues 7, 8 and 9). Minutes depend on
what else runs on the machine; say so when quoting them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time

# task -> recipe module, the target (metric, floor), evaluation batch size, and the
# table's metric columns (header, key)
TASKS = {
    "detection": ("shapes_detection", ("bbox_map", 0.5), 8,
                  [("test mAP@0.5 (VOC)", "bbox_map"), ("COCO mAP@0.5", "bbox_map50"),
                   ("COCO mAP@[.5:.95]", "bbox_mmap")]),
    "instance_segmentation": ("shapes_instance", ("segm_map50", 0.4), 1,
                              [("mask mAP@0.5", "segm_map50"), ("mask mAP@[.5:.95]", "segm_mmap"),
                               ("box mAP@0.5", "bbox_map50"), ("box mAP@[.5:.95]", "bbox_mmap")]),
    "semantic_segmentation": ("shapes_segmentation", ("miou", 0.6), 8,
                              [("mIoU", "miou"), ("pixel acc", "oacc"), ("kappa", "kappa")]),
}


def measure(task: str, name: str, seed: int, epochs: int | None) -> dict:
    import pxcore as px

    module, _, batch_size, _ = TASKS[task]
    recipe = importlib.import_module(f"pxcore.recipes.{module}")
    work = tempfile.mkdtemp(prefix="pxbench-recipe-")
    data = recipe.prepare(f"{work}/data", seed=seed)
    epochs = epochs or recipe.EPOCHS
    start = time.perf_counter()
    _, state = recipe.train(data, name, f"{work}/train", num_epochs=epochs, seed=seed)
    minutes = (time.perf_counter() - start) / 60
    test = px.load_model(f"{work}/train/best_model").evaluate(data.test, batch_size=batch_size)
    return {"model": name, "size": recipe.SIZE, "epochs": epochs, "minutes": minutes,
            "images": len(data.train), "images_per_second": state["images_per_second"], **test}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("models", nargs="*", help="default: the recipe's model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, help="default: the recipe's")
    args = parser.parse_args()
    module, (key, target), _, columns = TASKS[args.task]
    models = args.models or [importlib.import_module(f"pxcore.recipes.{module}").MODEL]
    rows = [measure(args.task, name, args.seed, args.epochs) for name in models]
    print("| model | input | train images | epochs | train min | img/s | "
          + " | ".join(header for header, _ in columns) + " |")
    print("|---" * (6 + len(columns)) + "|")
    for r in rows:
        print(f"| {r['model']} | {r['size']} | {r['images']} | {r['epochs']} | {r['minutes']:.1f} | "
              f"{r['images_per_second']:.1f} | " + " | ".join(f"{r[k]:.3f}" for _, k in columns) + " |")
    short = [r["model"] for r in rows if r[key] < target]
    if short:
        print(f"below {key} {target}: {', '.join(short)}", file=sys.stderr)
    return 1 if short else 0


if __name__ == "__main__":
    sys.exit(main())
