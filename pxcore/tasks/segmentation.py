"""Semantic segmentation: PaddleX's train / evaluate / predict for any network whose
``forward(images)`` returns logits [N, C, H, W] at the input's size (a list of them in
training when it has auxiliary heads, weighted by ``net.loss_weights``).

Inputs are padded (right and bottom) to a multiple of the preset's ``size_divisor`` and
the logits cropped back, so a network sees sizes its strides divide. Predictions come
back at the original image's size: the scores of the transformed image's content are
resized to it, and evaluation scores them against the original label image (as
PaddleSeg does), whatever the evaluation transforms resized.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import paddle

from ..contract import declared
from ..errors import PxError
from ..inference.segmentation import label_dtype, predict_images
from ..transforms import Compose, Normalize, compose
from ..transforms.geometry import IGNORE_INDEX
from .base import TrainableModel

# create_model options that configure the loss, not the network (PaddleX 1.x and 2.x).
LOSS_OPTIONS = ("use_mixed_loss", "use_bce_loss", "use_dice_loss", "class_weight", "ignore_index")


def eval_transforms_for(metadata: dict) -> Compose:
    """Normalisation with the preset's mean and std (the whole image, no resize)."""
    return Compose([Normalize(metadata.get("mean", (0.5, 0.5, 0.5)), metadata.get("std", (0.5, 0.5, 0.5)))])


class SegmentationModel(TrainableModel):
    main_metric = "miou"
    batch_fields = ("label_map",)
    task_options = LOSS_OPTIONS

    def __init__(self, *args: Any, options: dict | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from ..nn.seg_losses import build_seg_loss

        self.options = dict(options or {})
        self.ignore_index = int(self.options.get("ignore_index", IGNORE_INDEX))
        self.loss = build_seg_loss(self.num_classes, **self.options)
        self.size_divisor = int(self.spec.metadata.get("size_divisor", 32))
        self.eval_transforms = eval_transforms_for(self.spec.metadata)

    def train(self, num_epochs: int, train_dataset, train_batch_size: int = 2, eval_dataset=None,
              save_interval_epochs: int = 1, log_interval_steps: int = 2, save_dir: str = "output",
              pretrain_weights: Any = None, optimizer: Any = None, learning_rate: float = 0.01,
              lr_decay_power: float = 0.9, warmup_steps: int = 0, warmup_start_lr: float = 0.0,
              early_stop: bool = False, early_stop_patience: int = 5, resume_checkpoint: Any = None,
              use_vdl: bool = False, seed: int | None = None, num_workers: Any = "auto",
              eval_batch_size: int | None = None, use_ema: bool = False, accumulate_steps: int = 1,
              amp: str | None = None, sync_bn: bool = False,
              precise_bn: Any = "auto", partial: bool = False, hooks=None) -> dict[str, Any]:
        """Train with PaddleX's arguments (learning rate decayed polynomially to 0 with
        ``lr_decay_power``, as PaddleX's segmenters do); the best model by ``miou`` on
        ``eval_dataset`` goes to ``save_dir/best_model``. Batches need images of one
        size: end the training transforms with a fixed-size crop or resize. ``precise_bn``
        (True, False, "auto" or a batch count) re-estimates BatchNorm statistics from
        training batches before each evaluation and save; "auto" while a short run's
        running averages lag (see ``pxcore.engine.precise_bn``). ``partial=True`` lets
        ``pretrain_weights`` cover only part of the network (see ``create_model``).
        ``hooks``: ``pxcore.engine.hooks.Hook`` instances the training loop calls after
        its own (see ``pxcore.engine.hooks``)."""
        if train_dataset.num_classes != self.num_classes:
            raise PxError(f"the training set has {train_dataset.num_classes} classes but the model "
                          f"{self.num_classes}; create it with num_classes={train_dataset.num_classes}")
        if not lr_decay_power >= 0:
            raise PxError(f"lr_decay_power must be >= 0, got {lr_decay_power!r}")
        args = {k: v for k, v in locals().items() if k not in ("self", "__class__", "lr_decay_power")}
        args.update(lr_decay_epochs=(), lr_decay_gamma=0.1, lr_decay_power=lr_decay_power)
        return self._fit(**args)

    def training_step(self, batch):
        images, labels = batch
        images, labels = pad_to_multiple(images, labels, self.size_divisor, self.ignore_index)
        outputs = self.net(images)
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        weights = declared(self.net, "loss_weights") or (1.0,) * len(outputs)
        labels = paddle.cast(labels, "int64")
        total = None
        for weight, logits in zip(weights, outputs, strict=True):
            value = self.loss(logits, labels) * weight
            total = value if total is None else total + value
        return total

    def _forward(self, batch: np.ndarray) -> list[np.ndarray]:
        with paddle.no_grad():
            return [self.net(paddle.to_tensor(batch)).numpy()]

    def evaluate(self, eval_dataset, batch_size: int = 1, return_details: bool = False,
                 num_workers: Any = "auto", tile_size: Any = None, overlap: Any = (64, 64)):
        """``{"miou", "category_iou", "oacc", "category_acc", "kappa"}`` over the data
        set's images, each predicted with the data set's transforms and scored at its
        original size against its label image (``ignore_index`` pixels not counted).
        ``tile_size`` predicts each image by sliding windows (see ``predict``);
        ``return_details`` also returns the confusion matrix. In a launched multi-process
        program each process scores its share of the images and the confusion matrices
        are summed, so every process gets what one process scoring all would."""
        from ..engine.distributed import eval_share, sum_across
        from ..metrics.segmentation import ConfusionMatrix

        self._check_dataset(eval_dataset, "eval_dataset")
        if eval_dataset.num_classes != self.num_classes:
            raise PxError(f"the evaluation set has {eval_dataset.num_classes} classes but the "
                          f"model {self.num_classes}")
        metric = ConfusionMatrix(self.num_classes, self.ignore_index)
        was_training = self.net.training
        self.net.eval()
        transforms = eval_dataset.transforms or self.eval_transforms
        share, world_size = eval_share(len(eval_dataset))
        try:
            for start in range(0, len(share), batch_size):
                samples = [eval_dataset.load(i) for i in share[start:start + batch_size]]
                images = [s["image"] for s in samples]
                found = predict_images(images, transforms, self._forward, batch_size,
                                       self.size_divisor, tile_size, overlap, with_scores=False)
                for sample, result in zip(samples, found, strict=True):
                    metric.update(result["label_map"], sample["label_map"])
        finally:
            if was_training:
                self.net.train()
        metric.matrix = sum_across(metric.matrix, world_size)
        scores = metric.result()
        return (scores, {"confusion_matrix": metric.matrix}) if return_details else scores

    def predict(self, img_file, transforms: Any = None, batch_size: int = 8, tile_size: Any = None,
                overlap: Any = (64, 64), score_map: bool = False):
        """``{"label_map": HxW class ids}`` for one image (a path or an RGB array) at its
        own size, or a list of them for a list; ``score_map=True`` adds the class
        probabilities, HxWxC float32, as PaddleX 2 returned them (off by default: 160 MB
        for a 19-class 1024x2048 image, and their cost can exceed the network's). With
        ``tile_size`` ([width, height] or one side) a large image is predicted by
        windows of that size overlapping by ``overlap`` pixels, the probabilities of
        overlapping windows averaged."""
        transforms = compose(transforms) if transforms is not None else self.eval_transforms
        self.net.eval()
        return predict_images(img_file, transforms, self._forward, batch_size, self.size_divisor,
                              tile_size, overlap, with_scores=score_map)

    def tile_predict(self, img_file, tile_size: Any = (512, 512), pad_size: Any = (64, 64),
                     batch_size: int = 8, transforms: Any = None, score_map: bool = False):
        """PaddleX 1.x's name for ``predict(..., tile_size=..., overlap=pad_size)``."""
        return self.predict(img_file, transforms, batch_size, tile_size, pad_size, score_map)

    def export(self, save_dir, fixed_input_shape=None, batch_size=None, legacy: bool = False):
        """Write an inference directory ending at the logits; deploy.yml carries the
        padding and the post-processing (``pxcore.Predictor`` runs them)."""
        from ..deploy.export import export_model

        if fixed_input_shape is not None and any(int(v) % self.size_divisor for v in fixed_input_shape):
            raise PxError(f"fixed_input_shape {list(fixed_input_shape)} must be multiples of "
                          f"{self.size_divisor} for {self.name}")
        return export_model(self, save_dir, fixed_input_shape, batch_size, legacy)

    def deploy_layer(self) -> paddle.nn.Layer:
        """What export saves: the network with the argmax of its logits as a second
        output (pxcore.inference.segmentation uses it where nothing is resized)."""
        layer = LogitsAndLabels(self.net, label_dtype(self.num_classes))
        layer.eval()  # the wrapper's own mode; export has put the network in eval already
        return layer

    def deploy_outputs(self) -> list[dict[str, Any]]:
        return [{"name": "logits", "shape": [-1, self.num_classes, -1, -1]},
                {"name": "label_map", "shape": [-1, -1, -1], "dtype": label_dtype(self.num_classes)}]

    def deploy_postprocess(self) -> dict[str, Any]:
        # ignore_index: the label value an evaluation of the export leaves out, as evaluate does
        return {"type": "semantic_segmentation", "size_divisor": self.size_divisor,
                "ignore_index": self.ignore_index}


# --- training's padding (on tensors; prediction pads in pxcore.inference.segmentation) ---

def pad_to_multiple(images, labels, divisor: int, ignore_index: int = IGNORE_INDEX):
    """Pad a training batch (tensors) right and bottom to a multiple of ``divisor``:
    images with zeros (the mean, once normalised), labels with ``ignore_index``."""
    height, width = int(images.shape[2]), int(images.shape[3])
    pad_h, pad_w = -height % divisor, -width % divisor
    if not pad_h and not pad_w:
        return images, labels
    images = paddle.nn.functional.pad(images, [0, pad_w, 0, pad_h])
    labels = paddle.nn.functional.pad(paddle.cast(labels, "float32").unsqueeze(1), [0, pad_w, 0, pad_h],
                                      value=float(ignore_index)).squeeze(1)
    return images, labels


class LogitsAndLabels(paddle.nn.Layer):
    """A segmenter's logits and each pixel's first highest class: PaddleSeg's export
    ends in the argmax too, so the runtime computes the label map in its own threads."""

    def __init__(self, net: paddle.nn.Layer, dtype: str) -> None:
        super().__init__()
        self.net = net
        self.dtype = dtype

    def forward(self, image):
        logits = self.net(image)
        return logits, paddle.cast(paddle.argmax(logits, axis=1), self.dtype)
