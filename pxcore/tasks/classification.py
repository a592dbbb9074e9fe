"""Image classification: PaddleX's train / evaluate / predict."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import paddle

from ..errors import PxError
from ..inference.classification import predict_images
from ..inference.classification import softmax as _softmax
from ..metrics import TopKAccuracy
from ..transforms import CenterCrop, Compose, Normalize, ResizeByShort, compose
from .base import TrainableModel


class ClassificationModel(TrainableModel):
    main_metric = "acc1"
    batch_fields = ("label",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Until trained or loaded: the ImageNet evaluation pre-processing at the
        # model's input size (resize the short side to size/0.875, centre crop).
        size = int(self.spec.metadata.get("input_size", 224))
        self.eval_transforms = Compose([ResizeByShort(round(size / 0.875)), CenterCrop(size), Normalize()])

    def train(self, num_epochs: int, train_dataset, train_batch_size: int = 64, eval_dataset=None,
              save_interval_epochs: int = 1, log_interval_steps: int = 2, save_dir: str = "output",
              pretrain_weights: Any = None, optimizer: Any = None, learning_rate: float = 0.025,
              warmup_steps: int = 0, warmup_start_lr: float = 0.0,
              lr_decay_epochs: Sequence[int] = (30, 60, 90), lr_decay_gamma: float = 0.1,
              early_stop: bool = False, early_stop_patience: int = 5, resume_checkpoint: Any = None,
              use_vdl: bool = False, seed: int | None = None, num_workers: Any = "auto",
              eval_batch_size: int | None = None, use_ema: bool = False, accumulate_steps: int = 1,
              amp: str | None = None, sync_bn: bool = False,
              precise_bn: Any = "auto", partial: bool = False, hooks=None) -> dict[str, Any]:
        """Train with PaddleX's arguments; checkpoints go to ``save_dir/epoch_N`` and the best
        (by acc1 on ``eval_dataset``) to ``save_dir/best_model``. Returns the history.

        ``train_batch_size`` is the batch of one forward pass over all processes (each of
        N processes takes 1/N of it when launched with ``paddle.distributed.launch``);
        ``accumulate_steps`` k makes an optimizer step of k such batches; ``amp`` is None,
        "O1" or "O2" (mixed precision on GPUs; float32 with a warning on CPUs);
        ``sync_bn`` uses SyncBatchNorm across processes (GPUs); ``use_ema`` evaluates and
        saves a moving average of the weights. ``precise_bn`` (True, False, "auto" or a
        batch count) re-estimates BatchNorm statistics from training batches before each
        evaluation and save; "auto" while a short run's running averages lag (see
        ``pxcore.engine.precise_bn``). ``partial=True`` lets
        ``pretrain_weights`` cover only part of the network (see ``create_model``).
        ``hooks``: ``pxcore.engine.hooks.Hook`` instances the training loop calls after
        its own (see ``pxcore.engine.hooks``)."""
        if train_dataset.num_classes != self.num_classes:
            raise PxError(f"the training set has {train_dataset.num_classes} classes but the model "
                          f"{self.num_classes}; create it with num_classes={train_dataset.num_classes}")
        return self._fit(**{k: v for k, v in locals().items() if k not in ("self", "__class__")})

    def export(self, save_dir, fixed_input_shape=None, batch_size=None, legacy: bool = False):
        """Write an inference directory (static program + deploy.yml) that
        ``pxcore.Predictor`` runs; see ``pxcore.deploy.export``."""
        from ..deploy.export import export_model

        return export_model(self, save_dir, fixed_input_shape, batch_size, legacy)

    def deploy_outputs(self) -> list[dict[str, Any]]:
        return [{"name": "logits", "shape": [-1, self.num_classes]}]

    def deploy_postprocess(self) -> dict[str, Any]:
        return {"type": "classification"}

    def training_step(self, batch):
        images, labels = batch
        logits = self.net(images)
        return paddle.nn.functional.cross_entropy(logits, labels.reshape([-1, 1]).astype("int64"))

    def evaluate(self, eval_dataset, batch_size: int = 1, return_details: bool = False,
                 num_workers: Any = "auto"):
        """``{"acc1": ..., "acc5": ...}`` (top-k capped by the class count); with
        ``return_details`` also the per-image true labels and scores. In a launched
        multi-process program each process scores its share of the images and the
        counts are summed, so every process gets what one process scoring all would."""
        from ..data.loader import Loader
        from ..engine.distributed import eval_share, gather_samples, sum_across

        self._check_dataset(eval_dataset, "eval_dataset")
        metric = TopKAccuracy(self.num_classes)
        share, world_size = eval_share(len(eval_dataset))
        loader = Loader(eval_dataset, batch_size, fields=self.batch_fields, indices=share,
                        num_workers=num_workers if num_workers != "auto" else eval_dataset.num_workers)
        was_training = self.net.training
        self.net.eval()
        details = {"true_labels": [], "scores": []}
        with paddle.no_grad():
            for images, labels in loader:
                logits = self.net(images).numpy()
                metric.update(logits, labels.numpy())
                if return_details:
                    details["true_labels"].extend(labels.numpy().reshape(-1).tolist())
                    details["scores"].extend(_softmax(logits).tolist())
        if was_training:
            self.net.train()
        metric.correct1, metric.correctk, metric.count = (int(v) for v in sum_across(
            [metric.correct1, metric.correctk, metric.count], world_size))
        result = metric.result()
        if not return_details:
            return result
        pairs = gather_samples(list(zip(details["true_labels"], details["scores"], strict=True)),
                               world_size)
        return result, {"true_labels": [p[0] for p in pairs], "scores": [p[1] for p in pairs]}

    def predict(self, img_file, topk: int = 1, transforms: Any = None, batch_size: int = 8):
        """Top-k classes of one image (a path or an RGB array), or of a list of them:
        ``[{"category_id", "category", "score"}, ...]`` per image."""
        transforms = compose(transforms) if transforms is not None else self.eval_transforms
        self.net.eval()

        def run(batch: np.ndarray) -> list[np.ndarray]:
            with paddle.no_grad():
                return [self.net(paddle.to_tensor(batch)).numpy()]

        return predict_images(img_file, transforms, run, self.labels, self.num_classes, topk, batch_size)
