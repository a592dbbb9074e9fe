"""The training loop every task uses: epochs of optimizer steps, and hooks.

The task model supplies the loss of a batch (``training_step``) and its evaluation;
this loop runs the steps (micro-batches, mixed precision, the schedule, several
processes) and calls its hooks (``engine.hooks``) for everything else: progress, the
NaN stop, the weight average, evaluation and the best model, checkpoints, early
stopping, VisualDL and the curves picture. ``train(..., hooks=[...])`` adds a user's own.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from ..errors import PxError
from .checkpoint import load_optimizer_state, read_train_state, tidy
from .hooks import (
    BestModel,
    Checkpoint,
    Curves,
    EarlyStop,
    EMAUpdate,
    Evaluation,
    Hook,
    LossAgreement,
    NaNStop,
    ProgressLog,
    TrainingError,
    VisualDLLog,
    check_hooks,
)
from .progress import Progress

logger = logging.getLogger("pxcore")

__all__ = ["Loop", "TrainingError", "fit"]


class Loop:
    """What the hooks see of a running ``fit``: its parts, ``state`` (what a checkpoint
    saves and ``fit`` returns), the current ``epoch`` / ``step`` with its ``loss``,
    ``lr`` and ``batch_images``, an evaluation epoch's ``metrics``, and ``stop``."""

    def __init__(self, *, model, optimizer, schedule, loader, num_epochs: int, save_dir: Path,
                 state: dict, ema, precise, main: bool, world_size: int, save_interval_epochs: int,
                 last_checkpoint: str | None) -> None:
        self.model, self.optimizer, self.schedule, self.loader = model, optimizer, schedule, loader
        self.num_epochs, self.save_dir, self.state = num_epochs, save_dir, state
        self.ema, self.precise = ema, precise
        self.main, self.world_size = main, world_size
        self.save_interval_epochs = save_interval_epochs
        self.last_checkpoint = last_checkpoint
        self.epoch = self.step = 0
        self.loss = self.lr = 0.0
        self.batch_images = 0
        self.metrics: dict[str, Any] = {}
        self.improved = False
        self.stop = False
        self.error: BaseException | None = None

    @property
    def evaluation_due(self) -> bool:
        """Whether this epoch evaluates and saves: every ``save_interval_epochs``, and the last."""
        done = self.epoch + 1
        return done % self.save_interval_epochs == 0 or done == self.num_epochs

    @property
    def scalar_metrics(self) -> dict[str, float]:
        """The metrics that are numbers (a segmenter's per-class lists go to model.yml)."""
        return {k: v for k, v in self.metrics.items() if isinstance(v, int | float)}


def fit(model, *, loader, optimizer, schedule, num_epochs: int, save_dir: str,
        eval_dataset=None, eval_batch_size: int = 1, save_interval_epochs: int = 1,
        log_interval_steps: int = 10, early_stop: bool = False, early_stop_patience: int = 5,
        resume_checkpoint: str | None = None, use_vdl: bool = False, ema=None,
        accumulate_steps: int = 1, amp: str | None = None, sync_bn: bool = False,
        precise_bn: Any = "auto", hooks=None) -> dict[str, Any]:
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
    the best model, and what the net ends with); the trained weights keep their own.

    ``hooks`` (``engine.hooks.Hook`` instances) run after the built-in ones, in order."""
    from .amp import Precision
    from .distributed import forward_through, no_sync, world, wrap
    from .precise_bn import PreciseBN, parse_setting

    if not isinstance(accumulate_steps, int) or accumulate_steps < 1:
        raise PxError(f"accumulate_steps must be a positive integer, got {accumulate_steps!r}")
    parse_setting(precise_bn)
    user_hooks = check_hooks(hooks)
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

    def forward_only(batch):  # a training step's forward passes, for precise BN
        for part, _ in _micro_batches(batch, accumulate_steps):
            with precision.autocast():
                model.training_step(part)

    precise = PreciseBN(precise_bn, loader=loader, run=forward_only,
                        updates_per_step=accumulate_steps, world_size=world_size, quiet=not main)
    loop = Loop(model=model, optimizer=optimizer, schedule=schedule, loader=loader,
                num_epochs=num_epochs, save_dir=save_dir, state=state, ema=ema, precise=precise,
                main=main, world_size=world_size, save_interval_epochs=save_interval_epochs,
                last_checkpoint=resume_checkpoint)
    progress = Progress(num_epochs, steps, log_interval_steps, start_epoch=state["epoch"],
                        quiet=not main)
    all_hooks = _builtin_hooks(progress, eval_dataset, eval_batch_size, ema=ema,
                               early_stop=early_stop, patience=early_stop_patience,
                               vdl_dir=save_dir / "vdl_log" if use_vdl and main else None)
    all_hooks += user_hooks
    # Paddle's BatchNorm says on every epoch that it tracks global statistics in training.
    warnings.filterwarnings("ignore", message="When training, we now always track global mean")
    try:
        _call(all_hooks, "before_train", loop)
        for epoch in range(state["epoch"], num_epochs):
            loop.epoch = epoch
            model.net.train()
            loader.set_epoch(epoch)
            _call(all_hooks, "before_epoch", loop)
            for step, batch in enumerate(loader):
                loop.step = step
                parts = _micro_batches(batch, accumulate_steps)
                loop.loss = 0.0
                for i, (part, weight) in enumerate(parts):
                    with no_sync(train_net, i + 1 < len(parts)):
                        with precision.autocast(), forward_through(model, train_net):
                            loss = model.training_step(part)
                        if weight != 1.0:
                            loss = loss * weight
                        precision.backward(loss)
                    loop.loss += float(loss)
                _call(all_hooks, "after_backward", loop)
                precision.step(optimizer)
                optimizer.clear_grad()
                loop.lr = optimizer.get_lr()
                if schedule is not None:
                    schedule.step()
                state["global_step"] += 1
                state["history"]["loss"].append([state["global_step"], round(loop.loss, 6)])
                loop.batch_images = int(batch[0].shape[0]) * world_size
                _call(all_hooks, "after_step", loop)
            state["epoch"] = epoch + 1
            _call(all_hooks, "after_epoch", loop)
            if loop.stop:
                break
    except BaseException as exc:
        loop.error = exc
        raise
    finally:
        _call(all_hooks, "after_train", loop)
    return state


def _builtin_hooks(progress, eval_dataset, eval_batch_size: int, *, ema, early_stop: bool,
                   patience: int, vdl_dir: Path | None) -> list[Hook]:
    """The features every run has, in the order they act at each point: the loss agreed
    before the NaN check; the average updated before progress shows the step; the
    evaluation before the checkpoint, best model, curves and VisualDL that record it, and
    those before early stopping ends the run."""
    hooks: list[Hook] = [LossAgreement(), NaNStop()]
    if ema is not None:
        hooks.append(EMAUpdate())
    hooks += [ProgressLog(progress), Evaluation(eval_dataset, eval_batch_size), Checkpoint(),
              BestModel(eval_dataset is not None), Curves()]
    if vdl_dir is not None:
        hooks.append(VisualDLLog(vdl_dir))
    if early_stop:
        hooks.append(EarlyStop(patience))
    return hooks


def _call(hooks: list[Hook], point: str, loop: Loop) -> None:
    for hook in hooks:
        getattr(hook, point)(loop)


def _micro_batches(batch, k: int) -> list[tuple[list, float]]:
    """The batch as up to k consecutive micro-batches, each with its share of the batch
    (a mean loss times its share adds up to the whole batch's mean)."""
    if k == 1:
        return [(batch, 1.0)]
    n = int(batch[0].shape[0])
    bounds = [round(n * i / k) for i in range(k + 1)]
    pairs = zip(bounds[:-1], bounds[1:], strict=True)
    return [([t[a:b] for t in batch], (b - a) / n) for a, b in pairs if b > a]


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
