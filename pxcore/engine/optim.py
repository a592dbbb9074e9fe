"""Optimizer and learning-rate schedule with PaddleX's meaning of the train() arguments:
piecewise decay by ``lr_decay_gamma`` at ``lr_decay_epochs`` (or, for segmenters,
polynomial decay to 0 with ``lr_decay_power``), after a linear warm-up of
``warmup_steps`` from ``warmup_start_lr``; Momentum 0.9 with L2 decay 1e-4 by default."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import paddle

from ..errors import PxError

OPTIMIZERS = ("Momentum", "SGD", "Adam", "AdamW")


class ConstantLR(paddle.optimizer.lr.LRScheduler):
    """No decay (lr_decay_epochs empty); a scheduler still, so warm-up can wrap it."""

    def get_lr(self) -> float:
        return self.base_lr


def build_lr_schedule(learning_rate: float, steps_per_epoch: int, lr_decay_epochs: Sequence[int] = (),
                      lr_decay_gamma: float = 0.1, warmup_steps: int = 0,
                      warmup_start_lr: float = 0.0, lr_decay_power: float | None = None,
                      total_steps: int | None = None):
    if not learning_rate > 0:
        raise PxError(f"learning_rate must be positive, got {learning_rate!r}")
    epochs = sorted(int(e) for e in lr_decay_epochs or ())
    boundaries = [e * steps_per_epoch for e in epochs]
    if warmup_steps and boundaries and warmup_steps > boundaries[0]:
        raise PxError(
            f"warmup_steps ({warmup_steps}) runs past the first decay at epoch {epochs[0]} "
            f"(step {boundaries[0]}, {steps_per_epoch} steps an epoch); lower warmup_steps or "
            "move lr_decay_epochs later")
    if lr_decay_power is not None:
        if not total_steps:
            raise PxError("polynomial decay (lr_decay_power) needs the run's total steps")
        decay_steps = max(1, total_steps - warmup_steps)
        schedule = paddle.optimizer.lr.PolynomialDecay(learning_rate, decay_steps, 0.0, lr_decay_power)
    elif boundaries:
        schedule = paddle.optimizer.lr.PiecewiseDecay(
            boundaries, [learning_rate * lr_decay_gamma ** i for i in range(len(boundaries) + 1)])
    else:
        schedule = ConstantLR(learning_rate)
    if warmup_steps:
        schedule = paddle.optimizer.lr.LinearWarmup(schedule, warmup_steps, warmup_start_lr, learning_rate)
    return schedule


def build_optimizer(optimizer: Any, parameters, schedule, weight_decay: float = 1e-4):
    """``optimizer`` is None (Momentum), one of OPTIMIZERS by name, or a ready paddle
    optimizer (used as it is)."""
    if isinstance(optimizer, paddle.optimizer.Optimizer):
        return optimizer
    name = optimizer or "Momentum"
    decay = paddle.regularizer.L2Decay(weight_decay) if weight_decay else None
    if name == "Momentum":
        return paddle.optimizer.Momentum(schedule, momentum=0.9, parameters=parameters, weight_decay=decay)
    if name == "SGD":
        return paddle.optimizer.SGD(schedule, parameters=parameters, weight_decay=decay)
    if name == "Adam":
        return paddle.optimizer.Adam(schedule, parameters=parameters, weight_decay=decay)
    if name == "AdamW":
        return paddle.optimizer.AdamW(schedule, parameters=parameters, weight_decay=weight_decay)
    raise PxError(f"optimizer {name!r} is not one of {', '.join(OPTIMIZERS)} (or pass a paddle optimizer)")
