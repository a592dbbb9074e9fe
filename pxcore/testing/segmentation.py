"""The whole workflow a semantic segmentation preset must survive, for any plugin's
tests: ``check_segmentation_workflow("Fast-SCNN", tmp_path)`` trains it a few steps on
generated shapes (loss falls), evaluates, predicts at an image's own size, exports, and
runs the export through a runtime, whose label maps must agree with Python's."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np


def shapes_segmentation_data(data_dir: str | os.PathLike, size: int = 64, num_images: int = 12):
    """Generated shapes with label images (kept if ``data_dir`` already has them)."""
    from ..datasets import make_shapes

    root = Path(data_dir)
    if not (root / "seg_labels.txt").is_file():
        make_shapes(root, num_images=num_images, image_size=size, seed=0, val=0.25, test=0.0)
    return root


def check_segmentation_workflow(name: str, work_dir: str | os.PathLike, *, dataset: str | None = None,
                                data_dir: str | os.PathLike | None = None, steps: int = 6,
                                batch_size: int = 4, runtimes: tuple[str, ...] = ("paddle",),
                                min_agreement: float = 0.995, max_score_difference: float = 1e-3,
                                **overrides: Any) -> dict[str, Any]:
    """Run ``name`` (a zoo name, catalog id or preset) through train steps, evaluate,
    predict, export and each of ``runtimes``; AssertionError names what failed.
    Returns what it measured (losses, metrics, agreement, seconds)."""
    import paddle

    import pxcore
    from pxcore import transforms as T

    work_dir = Path(work_dir)
    started = time.perf_counter()
    root = shapes_segmentation_data(data_dir or work_dir / "data")
    _, spec = pxcore.api.resolve_model(name, task="semantic_segmentation", dataset=dataset)
    normalize = T.Normalize(spec.metadata.get("mean", (0.5,) * 3), spec.metadata.get("std", (0.5,) * 3))
    labels = root / "seg_labels.txt"
    train = pxcore.datasets.SegDataset(root, root / "seg_train_list.txt", labels, T.Compose([normalize]))
    val = pxcore.datasets.SegDataset(root, root / "seg_val_list.txt", labels, T.Compose([normalize]))
    paddle.seed(0)
    model = pxcore.create_model(name, num_classes=train.num_classes, task="semantic_segmentation",
                                dataset=dataset, **overrides)
    model.labels, model.eval_transforms = list(train.labels), val.transforms
    report: dict[str, Any] = {"model": name}

    # a few steps on one batch: the loss must fall
    from pxcore.data.loader import Loader

    from .training import loss_falls, settle_batchnorm

    images, label_maps = next(iter(Loader(train, batch_size, fields=model.batch_fields)))
    batch = [paddle.to_tensor(images), paddle.to_tensor(label_maps)]
    try:
        losses = loss_falls(model, batch, steps=steps, ratio=0.9, window=2)
    except AssertionError as exc:
        raise AssertionError(f"{name}: {exc}") from None
    report["losses"] = losses
    # Running statistics from this batch, so that evaluation-mode outputs vary over the
    # image and the runtime comparison below means something.
    settle_batchnorm(model, batch)

    scores = model.evaluate(val)
    assert set(scores) == {"miou", "category_iou", "oacc", "category_acc", "kappa"}, (
        f"{name}: evaluate() returned {sorted(scores)}")
    assert 0 <= scores["miou"] <= 1 and len(scores["category_iou"]) == train.num_classes
    report["miou"] = scores["miou"]

    size = int(np.asarray(train.load(0)["image"]).shape[0])
    odd = np.random.default_rng(0).integers(0, 255, (size + 5, size + 21, 3), np.uint8)
    result = model.predict(odd, score_map=True)
    assert result["label_map"].shape == odd.shape[:2], (
        f"{name}: predict gave a {result['label_map'].shape} label map for a {odd.shape[:2]} image")
    assert result["score_map"].shape == (*odd.shape[:2], train.num_classes)

    exported = model.export(work_dir / "inference")
    paths = [str(root / line.split()[0]) for line in
             (root / "seg_val_list.txt").read_text(encoding="utf-8").splitlines()[:2]]
    ours = model.predict(paths + [odd], score_map=True)
    predicted = np.unique(np.concatenate([r["label_map"].ravel() for r in ours]))
    assert len(predicted) > 1, (
        f"{name}: Python predicts class {predicted[0]} everywhere; comparing runtimes on a "
        "constant label map would prove nothing")
    report["agreement"] = {}
    for runtime in runtimes:
        predictor = pxcore.Predictor(exported, runtime=runtime)
        theirs = predictor.predict(paths + [odd], score_map=True)
        # the default: label maps alone, from the export's own argmax output
        labels_only = predictor.predict(paths + [odd])
        agreement = min(float(np.mean(a["label_map"] == b["label_map"]))
                        for found in (theirs, labels_only) for a, b in zip(ours, found, strict=True))
        worst = max(float(np.abs(a["score_map"] - b["score_map"]).max()) for a, b in zip(ours, theirs, strict=True))
        assert agreement > min_agreement and worst < max_score_difference, (
            f"{name}: {runtime} agrees with Python on {agreement:.2%} of pixels (needs more than "
            f"{min_agreement:.1%}), class probabilities differ by up to {worst:.3g} (at most "
            f"{max_score_difference:g})")
        report["agreement"][runtime] = (agreement, worst)
    report["classes_predicted"] = len(predicted)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report
