"""Precise BatchNorm (issue 19): the held-out metric of short training runs with
``train(precise_bn="auto")`` (the default) against ``precise_bn=False``, side by side,
same seed, same data, run one after the other.

    python bench/precise_bn.py                 # every case below, then bench/RESULTS.md
    python bench/precise_bn.py --only unet digits --no-write

Cases:
- ``unet``, ``fastscnn``, ``deeplab``: UNet, Fast-SCNN and DeepLabv3+ (MobileNetV3 preset)
  from scratch on a small real segmentation set: scikit-learn's real handwritten digits
  drawn onto crops of its real photos, the label the stroke pixels (background / stroke);
  16 training images of 64 px, 8 held out, 30 epochs of batch 4 (120 steps), the
  situation issue 19 reports.
- ``digits``: the demo's classifier (ResNet18 on the digits, 32 px) for 3 epochs.
- ``detection``, ``instance``: the shapes recipes (YOLOv3-MobileNetV1,
  MaskRCNN-ResNet18-FPN) as ``bench/recipes.py`` trains them.
- ``semantic``: the Fast-SCNN shapes recipe with its BatchNorm momentum 0.9 override
  and with PaddleSeg's 0.99, both with precise BN (0.99 without it predicted background
  everywhere: mIoU 0.20, the recipe's docstring).

Writes its table into bench/RESULTS.md (between this script's markers) unless
``--no-write``. Minutes depend on what else shares the machine.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from results_section import RESULTS, write_section  # bench/ is on sys.path

BEGIN, END = "<!-- precise_bn.py begin -->", "<!-- precise_bn.py end -->"

SEG_SIZE = 64
SEG_TRAIN, SEG_HELD_OUT = 16, 8
SEG_EPOCHS, SEG_BATCH = 30, 4


def write_digit_strokes(root: Path, seed: int = 0) -> Path:
    """The real-data segmentation set: each image a crop of one of scikit-learn's two
    photos with three to five of its handwritten digits (8x8, upscaled to 20-36 px)
    drawn on in a random colour; the label image marks the stroke pixels (class 1:
    where the upscaled digit's ink is over half its maximum)."""
    import cv2
    from sklearn.datasets import load_digits, load_sample_images

    rng = np.random.default_rng(seed)
    photos = list(load_sample_images().images)
    digits = load_digits().images
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(exist_ok=True)
    lines = []
    for index in range(SEG_TRAIN + SEG_HELD_OUT):
        photo = photos[index % len(photos)]
        top = rng.integers(0, photo.shape[0] - SEG_SIZE)
        left = rng.integers(0, photo.shape[1] - SEG_SIZE)
        image = photo[top:top + SEG_SIZE, left:left + SEG_SIZE].astype(np.float32)
        label = np.zeros((SEG_SIZE, SEG_SIZE), np.uint8)
        for _ in range(rng.integers(3, 6)):
            size = int(rng.integers(20, 37))
            ink = cv2.resize(digits[rng.integers(len(digits))] / 16.0, (size, size),
                             interpolation=cv2.INTER_CUBIC).clip(0, 1)
            y, x = rng.integers(0, SEG_SIZE - size, 2)
            colour = rng.integers(0, 256, 3).astype(np.float32)
            window = image[y:y + size, x:x + size]
            window[:] = window * (1 - ink[..., None]) + colour * ink[..., None]
            label[y:y + size, x:x + size][ink > 0.5] = 1
        name = f"{index:03d}"
        cv2.imwrite(str(root / "images" / f"{name}.jpg"), image[..., ::-1].astype(np.uint8))
        cv2.imwrite(str(root / "labels" / f"{name}.png"), label)
        lines.append(f"images/{name}.jpg labels/{name}.png")
    (root / "train_list.txt").write_text("\n".join(lines[:SEG_TRAIN]) + "\n")
    (root / "val_list.txt").write_text("\n".join(lines[SEG_TRAIN:]) + "\n")
    (root / "labels.txt").write_text("background\nstroke\n")
    return root


def segmentation_case(model_name: str) -> Callable[[Path, object, int], dict]:
    def run(work: Path, precise_bn, seed: int) -> dict:
        import paddle

        import pxcore as px
        from pxcore import transforms as T

        root = work.parent / "strokes"
        if not (root / "labels.txt").exists():
            write_digit_strokes(root, seed)
        train_t = T.Compose([T.RandomHorizontalFlip(), T.Normalize()])
        eval_t = T.Compose([T.Normalize()])
        train = px.datasets.SegDataset(root, root / "train_list.txt", root / "labels.txt",
                                       transforms=train_t, shuffle=True)
        held_out = px.datasets.SegDataset(root, root / "val_list.txt", root / "labels.txt",
                                          transforms=eval_t)
        paddle.seed(seed)
        model = px.create_model(model_name, num_classes=2, task="semantic_segmentation")
        model.eval_transforms = eval_t
        model.train(SEG_EPOCHS, train, train_batch_size=SEG_BATCH, learning_rate=0.01,
                    save_dir=str(work / "train"), log_interval_steps=1000, seed=seed,
                    precise_bn=precise_bn)
        return {"metric": "mIoU", "value": model.evaluate(held_out)["miou"],
                "steps": SEG_EPOCHS * SEG_TRAIN // SEG_BATCH}
    return run


def digits_case(work: Path, precise_bn, seed: int) -> dict:
    import paddle

    import pxcore as px
    from pxcore.demo import digit_transforms, prepare_digits

    data = work.parent / "digits"
    lists = prepare_digits(data) if not (data / "labels.txt").exists() else {
        "train": data / "train_list.txt", "test": data / "test_list.txt",
        "labels": data / "labels.txt"}
    train_t, eval_t = digit_transforms()
    train = px.datasets.ImageNet(data, lists["train"], lists["labels"], train_t, shuffle=True)
    test = px.datasets.ImageNet(data, lists["test"], lists["labels"], eval_t)
    paddle.seed(seed)
    model = px.create_model("ResNet18", num_classes=train.num_classes)
    epochs, batch = 3, 32
    model.train(epochs, train, train_batch_size=batch, learning_rate=0.02, warmup_steps=20,
                save_dir=str(work / "train"), log_interval_steps=1000, seed=seed,
                precise_bn=precise_bn)
    return {"metric": "top-1", "value": model.evaluate(test, batch_size=64)["acc1"],
            "steps": epochs * (len(train) // batch)}


def recipe_case(module: str, model_name: str, key: str, metric: str, batch_size: int,
                **train_args) -> Callable[[Path, object, int], dict]:
    def run(work: Path, precise_bn, seed: int) -> dict:
        import importlib

        import pxcore as px

        recipe = importlib.import_module(f"pxcore.recipes.{module}")
        data = recipe.prepare(work.parent / f"{module}-data", seed=seed)
        _, state = recipe.train(data, model_name, work / "train", seed=seed,
                                precise_bn=precise_bn, **train_args)
        best = px.load_model(work / "train" / "best_model")
        return {"metric": f"test {metric}", "value": best.evaluate(data.test, batch_size=batch_size)[key],
                "steps": state.get("global_step")}
    return run


# case -> (what it trains, [(variant, precise_bn, runner)])
def cases() -> dict[str, tuple[str, list]]:
    seg = "digit strokes on photos, 16 train / 8 held out, 64 px, 30 epochs"
    out = {}
    for case, model in (("unet", "UNet"), ("fastscnn", "Fast-SCNN"),
                        ("deeplab", "DeepLabv3_MobileNetV3_large_x1_0_ssld")):
        run = segmentation_case(model)
        out[case] = (f"{model}, {seg}", [("precise BN", "auto", run), ("off", False, run)])
    out["digits"] = ("ResNet18, the demo's digits, 3 epochs",
                     [("precise BN", "auto", digits_case), ("off", False, digits_case)])
    det = recipe_case("shapes_detection", "YOLOv3-MobileNetV1", "bbox_map", "mAP@0.5", 8)
    out["detection"] = ("YOLOv3-MobileNetV1, shapes_detection recipe",
                        [("precise BN", "auto", det), ("off", False, det)])
    inst = recipe_case("shapes_instance", "MaskRCNN-ResNet18-FPN", "segm_map50", "mask mAP@0.5", 1)
    out["instance"] = ("MaskRCNN-ResNet18-FPN, shapes_instance recipe",
                       [("precise BN", "auto", inst), ("off", False, inst)])
    sem = {m: recipe_case("shapes_segmentation", "Fast-SCNN", "miou", "mIoU", 8, batchnorm_momentum=m)
           for m in (0.9, None)}
    out["semantic"] = ("Fast-SCNN, shapes_segmentation recipe",
                       [("momentum 0.9 + precise BN", "auto", sem[0.9]),
                        ("momentum 0.99 + precise BN", "auto", sem[None])])
    return out


def main() -> int:
    import logging

    all_cases = cases()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=sorted(all_cases), help="default: every case")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md")
    args = parser.parse_args()
    logging.getLogger("pxcore").setLevel(logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory(prefix="pxbench-precise-bn-") as tmp:
        for case in args.only or list(all_cases):
            what, variants = all_cases[case]
            results = []
            for variant, setting, run in variants:
                work = Path(tmp) / case / re.sub(r"\W+", "-", variant)
                work.mkdir(parents=True)
                start = time.perf_counter()
                result = run(work, setting, args.seed)
                result.update(variant=variant, minutes=(time.perf_counter() - start) / 60)
                results.append(result)
                print(f"{case}: {variant}: {result['metric']} {result['value']:.4f} "
                      f"({result['minutes']:.1f} min)", flush=True)
            rows.append((what, results))
    lines = ["| model and run | variant | steps | held-out metric | value | loss to the first row | train min |",
             "|---|---|---|---|---|---|---|"]
    for what, results in rows:
        first = results[0]["value"]
        for r in results:
            lines.append(f"| {what} | {r['variant']} | {r['steps']} | {r['metric']} | {r['value']:.3f} | "
                         f"{first - r['value']:+.3f} | {r['minutes']:.1f} |")
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        section = (f"{BEGIN}\n## Precise BatchNorm (issue 19): `python bench/precise_bn.py`\n\n"
                   f"Seed {args.seed}; each case's runs one after the other on the same data. "
                   f"\"auto\" re-estimates the statistics only while the running averages lag "
                   f"(pxcore.engine.precise_bn).\n\n{table}\n{END}")
        write_section(BEGIN, END, section)
        print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
