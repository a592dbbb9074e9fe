"""What training looks like for every task: PaddleX's train() arguments turned into a
loader, an optimizer with its schedule, and a run of the shared training loop."""

from __future__ import annotations

import logging
import random
from typing import Any

import numpy as np

from ..errors import PxError
from ..model import Model

logger = logging.getLogger("pxcore")


def seed_everything(seed: int) -> None:
    import paddle

    random.seed(seed)
    np.random.seed(seed)
    paddle.seed(seed)


class TrainableModel(Model):
    """A model with ``train``; subclasses give ``training_step``, ``evaluate``,
    ``main_metric`` and the loader fields their batches carry."""

    main_metric = "loss"
    batch_fields: tuple[str, ...] = ()
    # field -> function of the sample giving the value where a sample lacks the field
    field_defaults: dict = {}

    def training_step(self, batch):  # pragma: no cover - each task's job
        raise NotImplementedError

    def _check_dataset(self, dataset, role: str) -> None:
        task = getattr(dataset, "task", self.task)
        # A detection data set with polygons serves instance segmentation too.
        if task != self.task and not (task == "detection" and self.task == "instance_segmentation"):
            raise PxError(f"{role} is a {dataset.task} data set; {self.name} is a {self.task} model")

    def _fit(self, *, num_epochs: int, train_dataset, train_batch_size: int, eval_dataset,
             save_interval_epochs: int, log_interval_steps: int, save_dir: str,
             pretrain_weights: Any, optimizer: Any, learning_rate: float, warmup_steps: int,
             warmup_start_lr: float, lr_decay_epochs, lr_decay_gamma: float, early_stop: bool,
             early_stop_patience: int, resume_checkpoint: Any, use_vdl: bool, seed: int | None,
             num_workers: Any, eval_batch_size: int | None, use_ema: bool = False,
             lr_decay_power: float | None = None, accumulate_steps: int = 1,
             amp: str | None = None, sync_bn: bool = False,
             precise_bn: Any = "auto", partial: bool = False, hooks=None) -> dict[str, Any]:
        from ..conventions import mismatches
        from ..data.loader import Loader
        from ..engine.amp import check_level
        from ..engine.distributed import world
        from ..engine.optim import build_lr_schedule, build_optimizer
        from ..engine.precise_bn import parse_setting
        from ..engine.trainer import fit
        from ..weights import load_weights, read_weights

        self._check_dataset(train_dataset, "train_dataset")
        if eval_dataset is not None:
            self._check_dataset(eval_dataset, "eval_dataset")
        if not isinstance(num_epochs, int) or num_epochs < 1:
            raise PxError(f"num_epochs must be a positive integer, got {num_epochs!r}")
        if not isinstance(accumulate_steps, int) or accumulate_steps < 1:
            raise PxError(f"accumulate_steps must be a positive integer, got {accumulate_steps!r}")
        check_level(amp)
        parse_setting(precise_bn)
        rank, world_size = world()
        if seed is not None:
            seed_everything(seed)
        if pretrain_weights and not resume_checkpoint:
            if pretrain_weights in ("IMAGENET", "COCO", "CITYSCAPES"):
                url = self.entry.weights_url if self.entry is not None else "the zoo's weights URL"
                raise PxError(f"pretrain_weights={pretrain_weights!r} would download weights, and "
                              f"pxcore never downloads; download {url} and pass its path")
            state, layout = read_weights(pretrain_weights)
            off = mismatches(self.entry, self.spec, layout, self.build_args)
            if off:  # built already: the archive's conventions cannot be applied now
                logger.warning(
                    "%s: Paddle 1.x weights trained a network built with %s; this one has %s. "
                    "To train from what the archive computes, create the model with "
                    "pretrained=%r (which picks them) or with those arguments",
                    pretrain_weights, ", ".join(f"{k}={v[1]!r}" for k, v in off.items()),
                    ", ".join(f"{k}={v[0]!r}" for k, v in off.items()), str(pretrain_weights))
            # partial: weights for part of the network (a zoo archive's backbone under
            # PaddleX's DeepLabv3p head), as create_model's; refused unless asked
            self.weights_report = load_weights(self.net, pretrain_weights, state=state,
                                               partial=partial)
        self.labels = list(train_dataset.labels)
        self.train_transforms = train_dataset.transforms
        if eval_dataset is not None:
            self.eval_transforms = eval_dataset.transforms
        # A loader batch is one optimizer step: accumulate_steps batches of train_batch_size
        # (over all processes), split again in the loop.
        step_batch = train_batch_size * accumulate_steps
        loader = Loader(train_dataset, step_batch, shuffle=train_dataset.shuffle,
                        drop_last=len(train_dataset) > step_batch, fields=self.batch_fields,
                        defaults=self.field_defaults,
                        num_workers=num_workers if num_workers != "auto" else train_dataset.num_workers,
                        seed=seed, rank=rank, world_size=world_size)
        schedule = build_lr_schedule(learning_rate, len(loader), lr_decay_epochs, lr_decay_gamma,
                                     warmup_steps, warmup_start_lr, lr_decay_power,
                                     total_steps=num_epochs * len(loader))
        opt = build_optimizer(optimizer, self.net.parameters(), schedule)
        if opt is optimizer:  # the caller's own optimizer brings its own schedule, if any
            import paddle

            own = getattr(opt, "_learning_rate", None)
            schedule = own if isinstance(own, paddle.optimizer.lr.LRScheduler) else None
        ema = None
        if use_ema:
            from ..engine.ema import ModelEMA

            ema = ModelEMA(self.net)
        return fit(self, loader=loader, optimizer=opt, schedule=schedule, num_epochs=num_epochs,
                   save_dir=save_dir, eval_dataset=eval_dataset,
                   eval_batch_size=eval_batch_size or train_batch_size,
                   save_interval_epochs=save_interval_epochs, log_interval_steps=log_interval_steps,
                   early_stop=early_stop, early_stop_patience=early_stop_patience,
                   resume_checkpoint=resume_checkpoint, use_vdl=use_vdl, ema=ema,
                   accumulate_steps=accumulate_steps, amp=amp, sync_bn=sync_bn,
                   precise_bn=precise_bn, hooks=hooks)
