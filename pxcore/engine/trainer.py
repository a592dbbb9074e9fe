"""The training loop every task uses.

The task model supplies the loss of a batch (``training_step``) and its evaluation;
this loop owns the rest: epochs, the schedule, progress, periodic evaluation and
checkpoints, the best model, early stopping, resuming, VisualDL and the curves picture.
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from pathlib import Path
from typing import Any

from ..errors import PxError
from .checkpoint import load_optimizer_state, read_train_state, tidy
from .curves import plot_curves
from .progress import Progress

logger = logging.getLogger("pxcore")


class TrainingError(PxError):
    """Training cannot go on (a NaN loss, say); the last good checkpoint is kept."""


class _VisualDL:
    def __init__(self, log_dir: Path, enabled: bool) -> None:
        self.writer = None
        if not enabled:
            return
        try:
            from visualdl import LogWriter
        except ImportError:
            logger.warning("use_vdl=True but VisualDL is not installed (pip install visualdl); "
                           "training goes on without its logs")
            return
        self.writer = LogWriter(str(log_dir))

    def scalar(self, tag: str, value: float, step: int) -> None:
        if self.writer is not None:
            self.writer.add_scalar(tag, value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def fit(model, *, loader, optimizer, schedule, num_epochs: int, save_dir: str,
        eval_dataset=None, eval_batch_size: int = 1, save_interval_epochs: int = 1,
        log_interval_steps: int = 10, early_stop: bool = False, early_stop_patience: int = 5,
        resume_checkpoint: str | None = None, use_vdl: bool = False, ema=None,
        accumulate_steps: int = 1, amp: str | None = None, sync_bn: bool = False,
        precise_bn: Any = "auto") -> dict[str, Any]:
    """Train ``model`` (a task model) and return the history. With ``ema`` (a
    ModelEMA of the net) evaluation and the best model use the averaged weights; epoch
    checkpoints keep the trained weights and the average, so a resume continues both;
    the net ends with the averaged weights.

    Each batch of ``loader`` is one optimizer step: with ``accumulate_steps`` k it runs as
    k micro-batches whose gradients add up (each loss weighted by its share of the batch),
    so the step is the one the whole batch would give. Launched on several processes
    (``paddle.distributed.launch``), each runs its shard of every batch through a
    ``paddle.DataParallel`` (gradients all-reduced); only rank 0 writes checkpoints, logs,
    VisualDL and the curves; every rank evaluates its share of the evaluation set and the
    task's ``evaluate`` combines the shares exactly (counts and confusion matrices summed,
    detections gathered and scored once), so every rank gets the metrics one process
    evaluating everything would (and early stopping stops them all together).
    ``amp`` is None, "O1" or "O2" (see ``engine.amp``); ``sync_bn`` turns BatchNorm
    into SyncBatchNorm (GPUs only).

    ``precise_bn`` (True, False, "auto" or a batch count; see ``engine.precise_bn``)
    re-estimates the BatchNorm running statistics as true averages over training batches
    before each evaluation and the checkpoints and best model saved with it; "auto" only
    while the running averages give more than 1% to statistics from before the last
    epoch, the initial ones included (a short run, or epochs of few steps). With
    ``ema`` the statistics are re-estimated for the averaged weights (evaluated, saved as
    the best model, and what the net ends with); the trained weights keep their own."""
    from .amp import Precision
    from .distributed import forward_through, mean_across, no_sync, world, wrap
    from .precise_bn import PreciseBN, parse_setting

    if not isinstance(accumulate_steps, int) or accumulate_steps < 1:
        raise PxError(f"accumulate_steps must be a positive integer, got {accumulate_steps!r}")
    parse_setting(precise_bn)
    precision = Precision(amp)
    rank, world_size = world()
    main = rank == 0
    save_dir = Path(save_dir)
    if main:
        save_dir.mkdir(parents=True, exist_ok=True)
        tidy(save_dir, r"best_model|epoch_\d+")  # what a run killed while saving left behind
    state = {"epoch": 0, "global_step": 0, "best_metric": None, "best_epoch": None,
             "bad_evals": 0, "history": {"loss": [], "metrics": {}}}
    if resume_checkpoint:
        state = _resume(model, optimizer, schedule, resume_checkpoint, num_epochs, ema)
    steps = len(loader)
    if steps == 0:
        raise PxError("the training data set gives no batch; add samples or lower the batch size")
    optimizer = precision.decorate(model.net, optimizer)
    train_net = wrap(model.net, world_size, sync_bn)
    progress = Progress(num_epochs, steps, log_interval_steps, start_epoch=state["epoch"],
                        quiet=not main)
    vdl = _VisualDL(save_dir / "vdl_log", use_vdl and main)
    metric_key = model.main_metric
    last_checkpoint = resume_checkpoint

    def forward_only(batch):  # a training step's forward passes, for precise BN
        for part, _ in _micro_batches(batch, accumulate_steps):
            with precision.autocast():
                model.training_step(part)

    precise = PreciseBN(precise_bn, loader=loader, run=forward_only,
                        updates_per_step=accumulate_steps, world_size=world_size, quiet=not main)
    # Paddle's BatchNorm says on every epoch that it tracks global statistics in training.
    warnings.filterwarnings("ignore", message="When training, we now always track global mean")
    try:
        for epoch in range(state["epoch"], num_epochs):
            model.net.train()
            loader.set_epoch(epoch)
            progress.start_epoch(epoch)
            for step, batch in enumerate(loader):
                parts = _micro_batches(batch, accumulate_steps)
                value = 0.0
                for i, (part, weight) in enumerate(parts):
                    with no_sync(train_net, i + 1 < len(parts)):
                        with precision.autocast(), forward_through(model, train_net):
                            loss = model.training_step(part)
                        if weight != 1.0:
                            loss = loss * weight
                        precision.backward(loss)
                    value += float(loss)
                # The mean over the processes: every one sees the same loss and stops together.
                value = mean_across(value, world_size)
                if not math.isfinite(value):
                    raise TrainingError(
                        f"the loss became {value} at epoch {epoch + 1}, step {step + 1}; training "
                        f"stopped. The last good checkpoint is {last_checkpoint or 'none (none saved yet)'}. "
                        "Lower the learning rate or check the data.")
                precision.step(optimizer)
                optimizer.clear_grad()
                if ema is not None:
                    ema.update()
                lr = optimizer.get_lr()
                if schedule is not None:
                    schedule.step()
                state["global_step"] += 1
                state["history"]["loss"].append([state["global_step"], round(value, 6)])
                progress.step(epoch, step, value, lr, int(batch[0].shape[0]) * world_size)
                vdl.scalar("train/loss", value, state["global_step"])
                vdl.scalar("train/lr", lr, state["global_step"])
            progress.end_epoch()
            state["epoch"] = epoch + 1
            if (epoch + 1) % save_interval_epochs and epoch + 1 != num_epochs:
                continue
            metrics = {}
            # Every process re-estimates (the sums are all-reduced) and evaluates its share.
            with _averaged(ema):
                precise.refresh(model.net, epoch=epoch, global_step=state["global_step"],
                                key=_ema_key(ema))
                if eval_dataset is not None:
                    metrics = model.evaluate(eval_dataset, batch_size=eval_batch_size)
            if eval_dataset is not None:
                # Per-class lists (a segmenter's category_iou) go to model.yml, not the curves.
                scalars = {k: v for k, v in metrics.items() if isinstance(v, int | float)}
                for name, value in scalars.items():
                    state["history"]["metrics"].setdefault(name, []).append([epoch + 1, value])
                    vdl.scalar(f"eval/{name}", value, epoch + 1)
                if main:
                    logger.info("[eval] epoch %d/%d %s", epoch + 1, num_epochs,
                                " ".join(f"{k}={v:.4f}" for k, v in scalars.items()))
            improved = _track_best(state, metrics.get(metric_key), epoch + 1)
            if not main:
                if early_stop and state["bad_evals"] >= early_stop_patience:
                    break
                continue
            last_checkpoint = str(model.save(save_dir / f"epoch_{epoch + 1}", optimizer=optimizer,
                                             train_state=_snapshot(state, schedule), metrics=metrics,
                                             ema=ema, status="Checkpoint"))
            if improved or eval_dataset is None:
                with _averaged(ema):
                    precise.reuse(model.net, _ema_key(ema))  # the averaged weights' own
                    model.save(save_dir / "best_model", metrics=metrics)
            plot_curves(state["history"], save_dir / "curves.png")
            if early_stop and state["bad_evals"] >= early_stop_patience:
                logger.info("[train] early stop: %s has not improved for %d evaluations (best %.4f "
                            "at epoch %d)", metric_key, state["bad_evals"], state["best_metric"],
                            state["best_epoch"])
                break
    finally:
        progress.end_epoch()
        vdl.close()
    if ema is not None and ema.step:  # the model goes on with what was evaluated and saved
        model.net.set_state_dict(ema.averaged())
        precise.reuse(model.net, _ema_key(ema))
    state["images_per_second"] = progress.images_per_second
    return state


def _micro_batches(batch, k: int) -> list[tuple[list, float]]:
    """The batch as up to k consecutive micro-batches, each with its share of the batch
    (a mean loss times its share adds up to the whole batch's mean)."""
    if k == 1:
        return [(batch, 1.0)]
    n = int(batch[0].shape[0])
    bounds = [round(n * i / k) for i in range(k + 1)]
    pairs = zip(bounds[:-1], bounds[1:], strict=True)
    return [([t[a:b] for t in batch], (b - a) / n) for a, b in pairs if b > a]


def _averaged(ema):
    return ema.apply() if ema is not None else contextlib.nullcontext()


def _ema_key(ema):
    """Which weights re-estimated statistics belong to: the EMA's step (the averaged
    weights then swapped in), or None for the trained weights themselves."""
    return ema.step if ema is not None else None


def _track_best(state: dict, value: float | None, epoch: int) -> bool:
    if value is None:
        return False
    if state["best_metric"] is None or value > state["best_metric"]:
        state["best_metric"], state["best_epoch"], state["bad_evals"] = value, epoch, 0
        return True
    state["bad_evals"] += 1
    return False


def _snapshot(state: dict, schedule) -> dict:
    return {**state, "schedule": schedule.state_dict() if schedule is not None else {}}


def _resume(model, optimizer, schedule, checkpoint: str, num_epochs: int, ema=None) -> dict:
    from ..weights import load_weights, safe_unpickle
    from .checkpoint import EMA_FILE

    state = read_train_state(checkpoint)
    load_weights(model.net, checkpoint, reinit_head=False)
    opt_path = Path(checkpoint) / "model.pdopt"
    if opt_path.is_file():
        load_optimizer_state(model.net, optimizer, safe_unpickle(opt_path))
    ema_path = Path(checkpoint) / EMA_FILE
    if ema is not None and ema_path.is_file():
        ema.set_state_dict(safe_unpickle(ema_path))
    saved_schedule = state.pop("schedule", {})
    if schedule is not None and saved_schedule:
        schedule.set_state_dict(saved_schedule)
    if state["epoch"] >= num_epochs:
        raise PxError(f"{checkpoint} already finished epoch {state['epoch']} of {num_epochs}; "
                      "raise num_epochs to train further")
    logger.info("[train] resuming from %s after epoch %d", checkpoint, state["epoch"])
    return state
