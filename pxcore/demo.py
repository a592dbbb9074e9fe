"""The main job: the whole PaddleX workflow on real data the project can reach offline.

Classification (the default):

1. prepare: scikit-learn's 1,797 real 8x8 handwritten digits, written as an image
   folder tree and split into train / val / test file lists (ImageNet format);
2. train a zoo model on it, keeping the best checkpoint by validation accuracy;
3. evaluate on the held-out test split;
4. predict a few test images and draw the results;
5. reload the saved model and check it predicts the same;
6. export it for deployment and run the exported model through the fastest runtime
   installed (ONNX Runtime or Paddle Inference), which must agree with Python.

Detection (``task="detection"``) runs the same steps on the generated shapes set
(shapes drawn on scikit-learn's real photos, in VOC format) with a YOLOv3, measured by
mAP@0.5 on the held-out split; instance segmentation (``task="instance_segmentation"``)
on the same kind of set in COCO format with polygons, with a Mask R-CNN, measured by
mask mAP@0.5 and drawing the masks; semantic segmentation
(``task="semantic_segmentation"``) on the set's label images with Fast-SCNN, measured
by mIoU, drawing the label maps with a legend.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger("pxcore")

DEFAULT_MODEL = "ResNet18"
IMAGE_SIZE = 32
DEFAULT_MODELS = {"classification": DEFAULT_MODEL, "detection": "YOLOv3-MobileNetV1",
                  "instance_segmentation": "MaskRCNN-ResNet18-FPN",
                  "semantic_segmentation": "Fast-SCNN"}
# task -> the recipe module (pxcore.recipes) the shapes demo runs
RECIPES = {"detection": "shapes_detection", "instance_segmentation": "shapes_instance",
           "semantic_segmentation": "shapes_segmentation"}
# task -> (the test metric the demo reports, what it is called)
MAIN_METRICS = {"detection": ("bbox_map", "mAP@0.5"), "instance_segmentation": ("segm_map50", "mask mAP@0.5"),
                "semantic_segmentation": ("miou", "mIoU")}


def prepare_digits(data_dir: Path) -> dict[str, Path]:
    from .datasets.digits import write_digits
    from .datasets.split import split_image_folders

    write_digits(data_dir, size=IMAGE_SIZE)
    return split_image_folders(data_dir, val=0.2, test=0.1, seed=0)


def digit_transforms(size: int = IMAGE_SIZE):
    """Train and eval transforms for the digits at ``size`` pixels (the images are 32;
    a network that needs larger inputs gets them scaled up)."""
    from . import transforms as T

    # Digits are centred and upright: mild scale jitter only, no flips or rotations.
    train = T.Compose([T.RandomCrop(size, lower_scale=0.75, lower_ratio=0.9, upper_ratio=1.1),
                       T.Normalize()])
    upscale = [T.Resize(size)] if size != IMAGE_SIZE else []
    return train, T.Compose([*upscale, T.Normalize()])


def run_demo(work_dir: str | Path = "output/demo", model_name: str = DEFAULT_MODEL,
             num_epochs: int = 8, batch_size: int = 32, learning_rate: float = 0.02,
             seed: int = 0) -> dict[str, Any]:
    """Run every step; return what was measured and where the files are."""
    import pxcore as px

    work_dir = Path(work_dir)
    report: dict[str, Any] = {"model": model_name, "work_dir": str(work_dir)}
    started = time.perf_counter()

    data_dir = work_dir / "data" / "digits"
    lists = prepare_digits(data_dir)
    from .api import resolve_model

    size = max(IMAGE_SIZE, int(resolve_model(model_name)[1].metadata.get("min_input_size", 0)))
    train_t, eval_t = digit_transforms(size)
    train_set = px.datasets.ImageNet(data_dir, lists["train"], lists["labels"], train_t, shuffle=True)
    val_set = px.datasets.ImageNet(data_dir, lists["val"], lists["labels"], eval_t)
    test_set = px.datasets.ImageNet(data_dir, lists["test"], lists["labels"], eval_t)
    _say(f"1. data: {len(train_set)} train, {len(val_set)} val, {len(test_set)} test images of "
         f"{train_set.num_classes} digits in {data_dir}")

    model = px.create_model(model_name, num_classes=train_set.num_classes)
    save_dir = work_dir / "train"
    _say(f"2. training {model.name} ({model.num_parameters():,} parameters) for {num_epochs} epochs")
    state = model.train(num_epochs, train_set, train_batch_size=batch_size, eval_dataset=val_set,
                        learning_rate=learning_rate, lr_decay_epochs=[max(1, num_epochs * 3 // 4)],
                        warmup_steps=min(20, len(train_set) // batch_size), save_dir=str(save_dir),
                        log_interval_steps=10, seed=seed)
    report.update(best_val_acc1=state["best_metric"], best_epoch=state["best_epoch"],
                  train_images_per_second=round(state["images_per_second"], 1),
                  checkpoints=str(save_dir), curves=str(save_dir / "curves.png"))
    _say(f"   best val acc1 {state['best_metric']:.4f} at epoch {state['best_epoch']}; "
         f"{state['images_per_second']:.0f} images/s")

    best = px.load_model(save_dir / "best_model")
    metrics = best.evaluate(test_set, batch_size=64)
    report["test"] = metrics
    _say(f"3. test split: {', '.join(f'{k}={v:.4f}' for k, v in metrics.items())}")

    samples = [str(path) for path, _ in test_set.samples[:: max(1, len(test_set) // 4)][:4]]
    predictions = best.predict(samples, topk=3)
    pictures = []
    for path, result in zip(samples, predictions, strict=True):
        picture = work_dir / "predictions" / f"{Path(path).parent.name}_{Path(path).stem}.png"
        px.visualize.visualize(path, result, picture)
        pictures.append(str(picture))
        _say(f"4. {path}: predicted {result[0]['category']} ({result[0]['score']:.3f}), "
             f"true {Path(path).parent.name} -> {picture}")
    report["pictures"] = pictures

    again = px.load_model(save_dir / "best_model").predict(samples, topk=3)
    report["reload_matches"] = again == predictions
    _say(f"5. reloaded {save_dir / 'best_model'}: predictions "
         f"{'identical' if report['reload_matches'] else 'DIFFER'}")
    exported = best.export(work_dir / "inference_model")
    predictor = px.Predictor(exported)
    deployed = predictor.predict(samples, topk=3)
    report.update(exported=str(exported), runtime=predictor.runtime,
                  runtime_matches=_same_predictions(deployed, predictions))
    _say(f"6. exported to {exported}; run by {predictor.runtime}: top-3 "
         f"{'agrees' if report['runtime_matches'] else 'DISAGREES'} with Python")
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def run_detection_demo(work_dir: str | Path = "output/demo_detection",
                       model_name: str | None = None, num_epochs: int | None = None,
                       seed: int = 0, task: str = "detection") -> dict[str, Any]:
    """The same steps for detection, instance or semantic segmentation: the task's
    recipe (``pxcore.recipes.shapes_detection``: a YOLOv3, ``shapes_instance``: a Mask
    R-CNN, ``shapes_segmentation``: Fast-SCNN, from scratch on generated shapes on real
    photos), then predict, reload, export and deploy."""
    import importlib

    import numpy as np

    import pxcore as px

    shapes_detection = importlib.import_module(f"pxcore.recipes.{RECIPES[task]}")
    model_name = model_name or DEFAULT_MODELS[task]

    work_dir = Path(work_dir)
    report: dict[str, Any] = {"model": model_name, "work_dir": str(work_dir)}
    started = time.perf_counter()
    run = shapes_detection.prepare(work_dir / "data", seed=seed)
    _say(f"1. data: {len(run.train)} train, {len(run.val)} val, {len(run.test)} test images of "
         f"{run.train.num_classes} shapes ({', '.join(run.train.labels)}) in {run.root}")
    epochs = num_epochs or shapes_detection.EPOCHS
    save_dir = work_dir / "train"
    _say(f"2. training {model_name} for {epochs} epochs at {shapes_detection.SIZE} px")
    model, state = shapes_detection.train(run, model_name, save_dir, num_epochs=epochs, seed=seed)
    report.update(**{f"best_val_{MAIN_METRICS[task][0]}": state["best_metric"]}, best_epoch=state["best_epoch"],
                  train_images_per_second=round(state["images_per_second"], 1),
                  checkpoints=str(save_dir), curves=str(save_dir / "curves.png"))
    segments = task == "semantic_segmentation"
    _say(f"   best val {'mIoU' if segments else 'mAP@0.5'} {state['best_metric']:.4f} at epoch "
         f"{state['best_epoch']}; "
         f"{state['images_per_second']:.1f} images/s")

    best = px.load_model(save_dir / "best_model")
    metrics = best.evaluate(run.test, batch_size=1 if task == "instance_segmentation" else 8)
    report["test"] = metrics
    _say(f"3. test split: {', '.join(f'{k}={v:.4f}' for k, v in metrics.items() if isinstance(v, float))}")

    listing = "seg_test_list.txt" if segments else "test_list.txt"
    samples = [str(run.root / line.split()[0]) for line in
               (run.root / listing).read_text(encoding="utf-8").splitlines()[:4]]
    predictions = best.predict(samples)
    same = same_label_maps if segments else same_detections
    pictures = []
    for path, result in zip(samples, predictions, strict=True):
        picture = work_dir / "predictions" / f"{Path(path).stem}.png"
        px.visualize.visualize(path, result, picture, threshold=0.5, labels=best.labels)
        pictures.append(str(picture))
        if segments:
            shares = np.bincount(result["label_map"].ravel(), minlength=len(best.labels))
            found = ", ".join(f"{best.labels[c]} {n / shares.sum():.0%}" for c, n in enumerate(shares) if n)
        else:
            found = ", ".join(f"{r['category']} {r['score']:.2f}{' with mask' if 'mask' in r else ''}"
                              for r in result if r["score"] >= 0.5) or "nothing above 0.5"
        _say(f"4. {path}: {found} -> {picture}")
    report["pictures"] = pictures

    again = px.load_model(save_dir / "best_model").predict(samples)
    report["reload_matches"] = all(same(a, b) for a, b in zip(again, predictions, strict=True))
    _say(f"5. reloaded {save_dir / 'best_model'}: predictions "
         f"{'identical' if report['reload_matches'] else 'DIFFER'}")
    exported = best.export(work_dir / "inference_model")
    predictor = px.Predictor(exported)
    deployed = predictor.predict(samples)
    report.update(exported=str(exported), runtime=predictor.runtime,
                  runtime_matches=all(same(a, b) for a, b in zip(deployed, predictions, strict=True)))
    _say(f"6. exported to {exported}; run by {predictor.runtime}: {'label maps' if segments else 'boxes'} "
         f"{'agree' if report['runtime_matches'] else 'DISAGREE'} with Python")
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def same_detections(a: list[dict], b: list[dict], min_iou: float = 0.99, min_score: float = 0.05,
                    tolerance: float = 1e-3) -> bool:
    """The detections scoring at least ``min_score`` pair up one to one
    (``pxcore.testing.detections``: same class, IoU above ``min_iou``, scores within
    ``tolerance``; a box within ``tolerance`` of ``min_score`` may be on one side only),
    and paired masks agree on more than 99.5% of the pixels."""
    import numpy as np

    from .testing.detections import match_detections

    a = [r for r in a if r["score"] >= min_score]
    b = [r for r in b if r["score"] >= min_score]
    if any("mask" in r for r in a + b) and not all(
            "mask" in r for r in a + b):
        return False
    found = match_detections(a, b, iou=min_iou, score_atol=tolerance, threshold=min_score)
    return found.ok and all(np.mean(a[i]["mask"] == b[j]["mask"]) > 0.995
                            for i, j in found.pairs if "mask" in a[i])


def same_label_maps(a: dict, b: dict, min_agreement: float = 0.995) -> bool:
    """Two segmentation results of one image agree on more than ``min_agreement`` of
    the pixels."""
    import numpy as np

    return a["label_map"].shape == b["label_map"].shape and float(
        np.mean(a["label_map"] == b["label_map"])) > min_agreement


def _same_predictions(a, b, tolerance: float = 1e-3) -> bool:
    """Same classes in the same order, scores within a relative tolerance."""
    for row_a, row_b in zip(a, b, strict=True):
        for x, y in zip(row_a, row_b, strict=True):
            if x["category_id"] != y["category_id"] or abs(x["score"] - y["score"]) > tolerance * max(1e-6, abs(y["score"])) + 1e-6:
                return False
    return True


def _say(message: str) -> None:
    print(message, flush=True)
