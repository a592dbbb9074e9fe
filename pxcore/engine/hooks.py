"""The training loop's features, one small class each (detectron2's ``HookBase``).

``engine.trainer.fit`` runs epochs of optimizer steps and calls its hooks at six points;
everything else a run does (the loss agreed across processes, the NaN stop, the weight
average, progress, VisualDL, evaluation with the best model, checkpoints, curves, early
stopping) is a hook here. ``train(..., hooks=[...])`` runs a user's own after them::

    class PrintLoss(Hook):
        def after_step(self, loop):
            print(loop.state["global_step"], loop.loss)

Every hook sees the running ``Loop`` (``engine.trainer``): ``model``, ``optimizer``,
``state`` (epoch, global_step, history, best metric, what a checkpoint saves), the step's
``loss``, ``lr`` and ``batch_images``, after an evaluation its ``metrics`` and
``improved``; a hook ends the run after the current epoch by setting ``loop.stop``.
"""

from __future__ import annotations

import contextlib
import logging
import math
from pathlib import Path

from ..errors import PxError

logger = logging.getLogger("pxcore")


class TrainingError(PxError):
    """Training cannot go on (a NaN loss, say); the last good checkpoint is kept."""


class Hook:
    """A no-op at every point; a hook overrides the points it needs."""

    def before_train(self, loop) -> None:
        """Once, before the first epoch (after a resume has restored ``loop.state``)."""

    def before_epoch(self, loop) -> None:
        """At the start of each epoch (``loop.epoch``, counted from 0)."""

    def after_backward(self, loop) -> None:
        """The step's gradients and ``loop.loss`` are known; the weights are not yet
        stepped (raising here leaves them as they were)."""

    def after_step(self, loop) -> None:
        """After the optimizer and schedule stepped (``loop.lr`` is the rate it used)."""

    def after_epoch(self, loop) -> None:
        """At the end of every epoch; ``loop.evaluation_due`` says whether this one
        evaluates and saves (every ``save_interval_epochs`` and the last)."""

    def after_train(self, loop) -> None:
        """Always, last, also when the run failed (``loop.error`` is then the exception)."""


def averaged(ema):
    """The EMA's averaged weights swapped into the net inside the block (or nothing)."""
    return ema.apply() if ema is not None else contextlib.nullcontext()


def ema_key(ema):
    """Which weights re-estimated statistics belong to: the EMA's step (the averaged
    weights then swapped in), or None for the trained weights themselves."""
    return ema.step if ema is not None else None


class LossAgreement(Hook):
    """The step's loss as the mean over the processes, so that every process logs the
    same value and a NaN on one stops them all together."""

    def after_backward(self, loop) -> None:
        from .distributed import mean_across

        loop.loss = mean_across(loop.loss, loop.world_size)


class NaNStop(Hook):
    """A loss that is not finite ends the run, naming the last good checkpoint."""

    def after_backward(self, loop) -> None:
        if not math.isfinite(loop.loss):
            raise TrainingError(
                f"the loss became {loop.loss} at epoch {loop.epoch + 1}, step {loop.step + 1}; "
                f"training stopped. The last good checkpoint is "
                f"{loop.last_checkpoint or 'none (none saved yet)'}. Lower the learning rate or "
                "check the data.")


class EMAUpdate(Hook):
    """The moving average of the weights follows every step; a finished run ends with
    the averaged weights (and their own BatchNorm statistics), what was evaluated and
    saved as the best model."""

    def after_step(self, loop) -> None:
        loop.ema.update()

    def after_train(self, loop) -> None:
        if loop.error is None and loop.ema.step:
            loop.model.net.set_state_dict(loop.ema.averaged())
            loop.precise.reuse(loop.model.net, ema_key(loop.ema))


class ProgressLog(Hook):
    """The live bar or log lines (``engine.progress``), and the run's images/s."""

    def __init__(self, progress) -> None:
        self.progress = progress

    def before_epoch(self, loop) -> None:
        self.progress.start_epoch(loop.epoch)

    def after_step(self, loop) -> None:
        self.progress.step(loop.epoch, loop.step, loop.loss, loop.lr, loop.batch_images)

    def after_epoch(self, loop) -> None:
        self.progress.end_epoch()

    def after_train(self, loop) -> None:
        self.progress.end_epoch()
        loop.state["images_per_second"] = self.progress.images_per_second


class VisualDLLog(Hook):
    """Loss, learning rate and evaluation metrics as VisualDL scalars (``use_vdl``)."""

    def __init__(self, log_dir: Path) -> None:
        self.writer = None
        try:
            from visualdl import LogWriter
        except ImportError:
            logger.warning("use_vdl=True but VisualDL is not installed (pip install visualdl); "
                           "training goes on without its logs")
            return
        self.writer = LogWriter(str(log_dir))

    def after_step(self, loop) -> None:
        if self.writer is not None:
            self.writer.add_scalar("train/loss", loop.loss, loop.state["global_step"])
            self.writer.add_scalar("train/lr", loop.lr, loop.state["global_step"])

    def after_epoch(self, loop) -> None:
        if self.writer is not None and loop.evaluation_due:
            for name, value in loop.scalar_metrics.items():
                self.writer.add_scalar(f"eval/{name}", value, loop.epoch + 1)

    def after_train(self, loop) -> None:
        if self.writer is not None:
            self.writer.close()


class Evaluation(Hook):
    """On evaluation epochs: BatchNorm statistics re-estimated (``engine.precise_bn``)
    and the model evaluated, both on the averaged weights when there is an EMA; the
    metrics go to the history and the log, and the best one so far is tracked. Every
    process evaluates its share (the task combines them exactly)."""

    def __init__(self, dataset, batch_size: int) -> None:
        self.dataset = dataset
        self.batch_size = batch_size

    def after_epoch(self, loop) -> None:
        loop.metrics, loop.improved = {}, False
        if not loop.evaluation_due:
            return
        with averaged(loop.ema):
            loop.precise.refresh(loop.model.net, epoch=loop.epoch,
                                 global_step=loop.state["global_step"], key=ema_key(loop.ema))
            if self.dataset is not None:
                loop.metrics = loop.model.evaluate(self.dataset, batch_size=self.batch_size)
        epoch = loop.epoch + 1
        for name, value in loop.scalar_metrics.items():
            loop.state["history"]["metrics"].setdefault(name, []).append([epoch, value])
        if self.dataset is not None and loop.main:
            logger.info("[eval] epoch %d/%d %s", epoch, loop.num_epochs,
                        " ".join(f"{k}={v:.4f}" for k, v in loop.scalar_metrics.items()))
        loop.improved = _track_best(loop.state, loop.metrics.get(loop.model.main_metric), epoch)


class Checkpoint(Hook):
    """Rank 0 saves ``save_dir/epoch_N`` on evaluation epochs: the trained weights, the
    optimizer, the EMA and the training state a resume continues from."""

    def after_epoch(self, loop) -> None:
        if not (loop.main and loop.evaluation_due):
            return
        state = {**loop.state, "schedule": loop.schedule.state_dict() if loop.schedule is not None else {}}
        loop.last_checkpoint = str(loop.model.save(
            loop.save_dir / f"epoch_{loop.epoch + 1}", optimizer=loop.optimizer, train_state=state,
            metrics=loop.metrics, ema=loop.ema, status="Checkpoint"))


class BestModel(Hook):
    """Rank 0 saves ``save_dir/best_model`` when the main metric improved (every
    evaluation epoch when there is no evaluation set): the averaged weights with their
    own BatchNorm statistics when there is an EMA."""

    def __init__(self, has_eval_dataset: bool) -> None:
        self.always = not has_eval_dataset

    def after_epoch(self, loop) -> None:
        if not (loop.main and loop.evaluation_due and (loop.improved or self.always)):
            return
        with averaged(loop.ema):
            loop.precise.reuse(loop.model.net, ema_key(loop.ema))
            loop.model.save(loop.save_dir / "best_model", metrics=loop.metrics)


class Curves(Hook):
    """Rank 0 redraws ``save_dir/curves.png`` (loss and metrics) on evaluation epochs."""

    def after_epoch(self, loop) -> None:
        if loop.main and loop.evaluation_due:
            from .curves import plot_curves

            plot_curves(loop.state["history"], loop.save_dir / "curves.png")


class EarlyStop(Hook):
    """Ends the run once the main metric has not improved for ``patience``
    evaluations; every process sees the same metrics, so all stop together."""

    def __init__(self, patience: int) -> None:
        self.patience = patience

    def after_epoch(self, loop) -> None:
        state = loop.state
        if not loop.evaluation_due or state["bad_evals"] < self.patience:
            return
        loop.stop = True
        if loop.main:
            logger.info("[train] early stop: %s has not improved for %d evaluations (best %.4f "
                        "at epoch %d)", loop.model.main_metric, state["bad_evals"],
                        state["best_metric"], state["best_epoch"])


def _track_best(state: dict, value: float | None, epoch: int) -> bool:
    if value is None:
        return False
    if state["best_metric"] is None or value > state["best_metric"]:
        state["best_metric"], state["best_epoch"], state["bad_evals"] = value, epoch, 0
        return True
    state["bad_evals"] += 1
    return False


def check_hooks(hooks) -> list[Hook]:
    """A user's ``hooks`` as a list, refusing anything that is not a ``Hook``."""
    if hooks is None:
        return []
    if isinstance(hooks, Hook):
        hooks = [hooks]
    hooks = list(hooks)
    for hook in hooks:
        if not isinstance(hook, Hook):
            raise PxError(f"hooks: {hook!r} is not a pxcore.engine.hooks.Hook; subclass Hook and "
                          "override the points it needs (before_train, before_epoch, "
                          "after_backward, after_step, after_epoch, after_train)")
    return hooks
