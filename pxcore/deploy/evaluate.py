"""An exported model scored on a data set with its task's metric, through any runtime
and precision: what ``model.evaluate`` reports, for the model as deployed.

    evaluate_export(Predictor("inference_model", precision="int8"), dataset)

Classification: top-1 and top-k accuracy; detection and instance segmentation: COCO's
mAP (and VOC's for VOC data), from the boxes (and masks) ``Predictor.predict`` gives;
semantic segmentation: mIoU and the rest of the confusion matrix's figures, each image
scored at its own size. The metrics are the ones ``model.evaluate`` uses. Nothing here
imports paddle: a deploy-only machine can score an export too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import PxError

DETECTION_TASKS = ("detection", "instance_segmentation")


def evaluate_export(predictor, dataset, batch_size: int = 8) -> dict[str, Any]:
    """``predictor`` (a Predictor) scored on ``dataset`` (ImageNet, VOC/COCO detection or
    segmentation data, as ``model.evaluate`` takes)."""
    if len(dataset) == 0:
        raise PxError(f"{dataset!r} has no images to evaluate on")
    labels = getattr(dataset, "labels", None)
    if labels is not None and len(labels) != predictor.num_classes:
        raise PxError(f"the evaluation set has {len(labels)} classes but the exported model "
                      f"{predictor.num_classes}; evaluate on data labelled as it was trained")
    if predictor.task == "classification":
        return _classification(predictor, dataset, batch_size)
    if predictor.task in DETECTION_TASKS:
        return _detection(predictor, dataset, batch_size)
    return _segmentation(predictor, dataset, batch_size)


def _classification(predictor, dataset, batch_size: int) -> dict[str, float]:
    from ..metrics.classification import TopKAccuracy

    metric = TopKAccuracy(predictor.num_classes)
    for start in range(0, len(dataset), batch_size):
        chunk = dataset.samples[start:start + batch_size]
        found = predictor.predict([str(path) for path, _ in chunk], topk=metric.k, batch_size=batch_size)
        metric.update_ranked(np.array([[r["category_id"] for r in image] for image in found]),
                             np.array([label for _, label in chunk]))
    return metric.result()


def _detection(predictor, dataset, batch_size: int) -> dict[str, Any]:
    from ..metrics.detection import score_detections

    masks = predictor.task == "instance_segmentation"
    results = []
    for start in range(0, len(dataset), batch_size):
        records = dataset.samples[start:start + batch_size]
        found = predictor.predict([str(r.path) for r in records], batch_size=batch_size,
                                  **({"mask_format": "coco"} if masks else {}))
        for record, detections in zip(records, found, strict=True):
            results.extend({"image_id": record.im_id, **{k: v for k, v in d.items() if k != "category"}}
                           for d in detections)
    voc = type(dataset).__name__ == "VOCDetection"
    return score_detections(dataset.to_coco(), list(dataset.labels), results, voc=voc)


def _segmentation(predictor, dataset, batch_size: int) -> dict[str, Any]:
    from ..metrics.segmentation import ConfusionMatrix
    from ..transforms.geometry import IGNORE_INDEX

    ignore = int(predictor.info["postprocess"].get("ignore_index", IGNORE_INDEX))
    metric = ConfusionMatrix(predictor.num_classes, ignore)
    for start in range(0, len(dataset), batch_size):
        samples = [dataset.load(i) for i in range(start, min(start + batch_size, len(dataset)))]
        found = predictor.predict([s["image"] for s in samples], batch_size=batch_size)
        for sample, result in zip(samples, found, strict=True):
            metric.update(result["label_map"], sample["label_map"])
    return metric.result()
