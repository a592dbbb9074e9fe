"""Object detection: PaddleX's train / evaluate / predict for any detector whose network
returns raw outputs and offers ``loss(outputs, gt_bbox, gt_class, gt_score)`` and a
numpy ``postprocess(outputs, scale_factor, orig_hw)`` giving ``[K, 6]`` rows (class,
score, x1, y1, x2, y2) per image.

Evaluation goes through pycocotools whatever the data format (a VOC data set converts
itself with ``to_coco``), so ``bbox_mmap`` means the same everywhere; VOC data also
gets VOC's mAP@0.5 (``bbox_map``), which PaddleX picked the best VOC model by.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import paddle

from ..contract import DEFAULT_LOSS_FIELDS, declared
from ..errors import PxError
from ..inference.detection import image_info, predict_images, split_masks, to_dicts
from ..transforms import Compose, Normalize, Padding, Resize, ResizeByShort, compose
from .base import TrainableModel

METRICS = ("COCO", "VOC")


def _default_score(sample) -> np.ndarray:
    return np.ones(len(sample["gt_class"]), np.float32)


def _instance_masks(sample) -> np.ndarray:
    """``[M, H, W]`` masks of the sample's polygons at its (transformed) image size."""
    from ..ops.masks import polygons_to_masks

    if "gt_poly" not in sample:
        raise PxError("this model trains on instance masks, and the data set has no polygons: "
                      "use COCO annotations whose objects have polygon segmentations")
    height, width = np.asarray(sample["image"]).shape[:2]
    return polygons_to_masks(sample["gt_poly"], height, width)


def eval_transforms_for(metadata: dict) -> Compose:
    """The preset's evaluation pre-processing: a square resize to ``input_size`` (YOLO),
    or the short side to ``input_size`` with the long side at most ``max_input_size``,
    padded to a multiple of ``pad_to`` (R-CNN, as PaddleX evaluated them)."""
    size = int(metadata.get("input_size", 608))
    if metadata.get("resize") == "short":
        return Compose([ResizeByShort(size, int(metadata.get("max_input_size", -1)), interp="CUBIC"),
                        Padding(int(metadata.get("pad_to", 32))), Normalize()])
    return Compose([Resize(size, interp="CUBIC"), Normalize()])


# PaddleX's YOLOv3.train defaults; a preset's metadata "train_defaults" overrides them.
TRAIN_DEFAULTS = {"train_batch_size": 8, "learning_rate": 1.0 / 8000, "warmup_steps": 1000,
                  "warmup_start_lr": 0.0, "lr_decay_epochs": (213, 240)}


class DetectionModel(TrainableModel):
    main_metric = "bbox_mmap"
    field_defaults = {"gt_score": _default_score, "gt_mask": _instance_masks}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.eval_transforms = eval_transforms_for(self.spec.metadata)

    @property
    def batch_fields(self) -> tuple[str, ...]:
        """What ``net.loss`` takes after the outputs: boxes, classes and mixup scores,
        and instance masks for networks that ask for them (``net.loss_fields``)."""
        return tuple(declared(self.net, "loss_fields", DEFAULT_LOSS_FIELDS))

    def train(self, num_epochs: int, train_dataset, train_batch_size: int | None = None,
              eval_dataset=None, save_interval_epochs: int = 1, log_interval_steps: int = 10,
              save_dir: str = "output", pretrain_weights: Any = None, optimizer: Any = None,
              learning_rate: float | None = None, warmup_steps: int | None = None,
              warmup_start_lr: float | None = None, lr_decay_epochs: Sequence[int] | None = None,
              lr_decay_gamma: float = 0.1, metric: str | None = None, use_ema: bool | None = None,
              early_stop: bool = False, early_stop_patience: int = 5, resume_checkpoint: Any = None,
              use_vdl: bool = False, seed: int | None = None, num_workers: Any = "auto",
              eval_batch_size: int | None = None, accumulate_steps: int = 1,
              amp: str | None = None, sync_bn: bool = False,
              precise_bn: Any = "auto", partial: bool = False, hooks=None) -> dict[str, Any]:
        """Train with PaddleX's arguments; those left out take PaddleX's defaults for the
        architecture (``TRAIN_DEFAULTS``, or the preset's ``train_defaults``: R-CNN's
        differ from YOLO's). The best model is picked by ``bbox_mmap`` (COCO) or
        ``bbox_map`` (VOC's mAP@0.5, the default for VOC data). ``use_ema`` defaults to
        the preset's choice (PP-YOLO averages its weights). ``precise_bn`` (True, False,
        "auto" or a batch count) re-estimates BatchNorm statistics from training batches
        before each evaluation and save; "auto" while a short run's running averages lag
        (see ``pxcore.engine.precise_bn``). ``partial=True`` lets
        ``pretrain_weights`` cover only part of the network (see ``create_model``).
        ``hooks``: ``pxcore.engine.hooks.Hook`` instances the training loop calls after
        its own (see ``pxcore.engine.hooks``)."""
        defaults = {**TRAIN_DEFAULTS, **self.spec.metadata.get("train_defaults", {})}
        train_batch_size = defaults["train_batch_size"] if train_batch_size is None else train_batch_size
        learning_rate = defaults["learning_rate"] if learning_rate is None else learning_rate
        warmup_steps = defaults["warmup_steps"] if warmup_steps is None else warmup_steps
        warmup_start_lr = defaults["warmup_start_lr"] if warmup_start_lr is None else warmup_start_lr
        lr_decay_epochs = defaults["lr_decay_epochs"] if lr_decay_epochs is None else lr_decay_epochs
        if train_dataset.num_classes != self.num_classes:
            raise PxError(f"the training set has {train_dataset.num_classes} classes but the model "
                          f"{self.num_classes}; create it with num_classes={train_dataset.num_classes}")
        if use_ema is None:
            use_ema = bool(self.spec.metadata.get("use_ema", False))
        self.metric = self._pick_metric(metric, eval_dataset or train_dataset)
        self.main_metric = "bbox_map" if self.metric == "VOC" else "bbox_mmap"
        args = {k: v for k, v in locals().items() if k not in ("self", "__class__", "metric", "defaults")}
        return self._fit(**args)

    @staticmethod
    def _pick_metric(metric: str | None, dataset) -> str:
        if metric is None:
            return "VOC" if type(dataset).__name__ == "VOCDetection" else "COCO"
        if metric.upper() not in METRICS:
            raise PxError(f"metric {metric!r} is not one of {', '.join(METRICS)}")
        return metric.upper()

    def training_step(self, batch):
        images, *fields = batch
        return self.net.loss(self.net(images), *fields)["loss"]

    def evaluate(self, eval_dataset, batch_size: int = 1, metric: str | None = None,
                 return_details: bool = False, per_class: bool = False, num_workers: Any = "auto"):
        """``{"bbox_mmap", "bbox_map50"}`` through pycocotools, plus VOC's ``bbox_map`` for
        VOC data (or ``metric="VOC"``); ``per_class`` adds AP per class name;
        ``return_details`` also returns the detections in COCO's result format. In a
        launched multi-process program each process detects in its share of the images,
        every process gathers all the detections and scores them once against the whole
        ground truth, so it gets what one process detecting in all would."""
        from ..data.loader import Loader
        from ..engine.distributed import eval_share, gather_samples
        from ..metrics.detection import score_detections

        self._check_dataset(eval_dataset, "eval_dataset")
        metric = self._pick_metric(metric or getattr(self, "metric", None), eval_dataset)
        coco_gt = eval_dataset.to_coco()
        sizes = {int(im["id"]): (im["height"], im["width"]) for im in coco_gt["images"]}
        share, world_size = eval_share(len(eval_dataset))
        # R-CNN's decoder for Paddle 1.x archives decodes at the original image's scale
        wants_info = declared(self.net.postprocess, "takes_im_info", False)
        size_offset = declared(self.net.postprocess, "box_size_offset", 0.0)
        fields = ("im_id", "scale_factor") + (("im_shape",) if wants_info else ())
        loader = Loader(eval_dataset, batch_size, fields=fields, indices=share,
                        num_workers=num_workers if num_workers != "auto" else eval_dataset.num_workers)
        was_training = self.net.training
        self.net.eval()
        per_image = []  # each image's detections, in the order of share
        with paddle.no_grad():
            for images, im_ids, scale_factor, *im_shape in loader:
                ids = [int(i) for i in im_ids.numpy().reshape(-1)]
                extra = {}
                if wants_info:
                    samples = [{"im_shape": shape, "scale_factor": factor} for shape, factor
                               in zip(im_shape[0].numpy(), scale_factor.numpy(), strict=True)]
                    extra["im_info"] = image_info(samples, [sizes[i] for i in ids])
                outputs = [o.numpy() for o in self.net(images, **extra)]
                dets = self.net.postprocess(outputs, scale_factor.numpy(), [sizes[i] for i in ids])
                for image_id, found in zip(ids, dets, strict=True):
                    rows, masks = split_masks(found)
                    per_image.append([{"image_id": image_id, **d}
                                      for d in to_dicts(rows, masks=masks, mask_format="coco",
                                                        size_offset=size_offset)])
        if was_training:
            self.net.train()
        results = [d for found in gather_samples(per_image, world_size) for d in found]
        scores = score_detections(coco_gt, list(eval_dataset.labels), results, voc=metric == "VOC",
                                  per_class=per_class)
        return (scores, results) if return_details else scores

    def predict(self, img_file, transforms: Any = None, batch_size: int = 8,
                mask_format: str = "array"):
        """Detections of one image (a path or an RGB array), or of a list of them:
        ``[{"category_id", "category", "bbox": [x, y, w, h], "score"}, ...]`` per image,
        best first (every box NMS keeps; filter by score as you need). Instance
        segmentation adds ``"mask"``: an HxW uint8 array, or with ``mask_format="rle"``
        COCO's run-length encoding."""
        transforms = compose(transforms) if transforms is not None else self.eval_transforms
        self.net.eval()

        def run(batch: np.ndarray, im_info: np.ndarray | None = None) -> list[np.ndarray]:
            extra = {} if im_info is None else {"im_info": im_info}  # takes_im_info decoders'
            with paddle.no_grad():
                return [o.numpy() for o in self.net(paddle.to_tensor(batch), **extra)]

        return predict_images(img_file, transforms, run, self.net.postprocess, self.labels,
                              batch_size, mask_format)

    def export(self, save_dir, fixed_input_shape=None, batch_size=None, legacy: bool = False):
        """Write an inference directory ending at the network's outputs, with the
        post-processing described in deploy.yml (``pxcore.Predictor`` runs it). A
        network that fixes its batch at export (R-CNN: ``export_batch_size``) gets it."""
        from ..deploy.export import export_model

        fixed = declared(self.net, "export_batch_size")
        if fixed is not None and batch_size not in (None, fixed):
            raise PxError(f"{self.name} exports with batch size {fixed} only (its exported "
                          f"graphs run one image at a time); got {batch_size}")
        return export_model(self, save_dir, fixed_input_shape, batch_size or fixed, legacy)

    def deploy_outputs(self) -> list[dict[str, Any]]:
        names = declared(self.net, "output_names")
        if names is not None:
            return [{"name": name} for name in names]
        return [{"name": f"level{i}", "shape": [-1, -1, -1, -1]}
                for i in range(len(self.net.postprocess.strides))]

    def deploy_postprocess(self) -> dict[str, Any]:
        post = self.net.postprocess
        info = {"type": "detection",
                "decoder": f"{type(post).__module__}:{type(post).__name__}",
                "args": post.to_config()}
        ops = declared(self.net, "deploy_ops")
        if ops:
            info["graph_ops"] = list(ops)  # runtimes that cannot convert one of these refuse
        return info
