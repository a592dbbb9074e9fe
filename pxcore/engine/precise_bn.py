"""Precise BatchNorm: running statistics re-estimated as true averages over training
batches before they are used (evaluation, checkpoints, the best model, the export).

A BatchNorm layer's running statistics are an exponential average of the batches'
(running = momentum * running + (1 - momentum) * batch, Paddle's convention). The
Paddle suites' momentum 0.99 suits runs of tens of thousands of steps; after 90 steps
the running statistics still hold 0.99 ** 90 = 40% of their initial values, and the
evaluation-mode network is not the one that trained. As detectron2's PreciseBN hook
does, ``recompute_batchnorm`` runs training batches forward (training mode, no
gradient) with every BatchNorm's momentum at 0, so that after each call of a layer its
running statistics are that call's batch statistics, adds them up (a forward hook reads
them after every call, so a layer called twice in a forward counts twice and a layer a
forward skips does not count), and sets each layer's running mean and variance to the
mean over all calls (the variance is Paddle's biased batch variance, what the running
variance averages). Across processes the sums and counts are added up
(``distributed.sum_tensors_across``), so every rank ends with the same statistics.

``PreciseBN`` is the training loop's policy: "auto" re-estimates only while the
running statistics give more than ``STALE_WEIGHT`` (1%) to statistics from before the
last epoch, the initial ones included: ``momentum ** updates`` with ``updates`` the
BatchNorm updates since the start or in the last epoch, whichever is fewer. At momentum
0.99 that is any evaluation in the first 458 steps, and every evaluation when an epoch
has fewer than 459 steps (a small data set: statistics of weights an epoch old still
count); at 0.9, 43 steps. The batches come from a Loader of its own over the training
set (augmented as in training, the epoch's augmentation policy, a seed of its own),
and the global random states (Python, NumPy, Paddle's generators) are put back
afterwards, so the training stream, the loader's order and a resumed run are what
they would be without it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..errors import PxError
from ..nn.norm import batchnorm_layers

logger = logging.getLogger("pxcore")

# How many images one re-estimation averages over by default: DEFAULT_IMAGES, in at most
# MAX_BATCHES batches and at most an epoch's batches or MIN_BATCHES, whichever is more.
# 200 images is detectron2's idea of enough for per-channel statistics at a bounded
# cost: 200 images forward without gradients (about a third of a training step per
# image), once per evaluation. A data set of a dozen images (3 steps an epoch) takes
# 10 batches of 4, not 50: the cost stays within a few epochs' training, not 17 times it.
DEFAULT_IMAGES = 200
MAX_BATCHES = 50
MIN_BATCHES = 10
STALE_WEIGHT = 0.01  # "auto" re-estimates while the statistics before the last epoch weigh more
SEED_OFFSET = 2 ** 32  # its Loader's seed: the training seed (0 if none) plus this


def live_layers(net) -> list:
    """The BatchNorm layers whose running statistics a training forward updates: in
    training mode and not told to use their global statistics (frozen BatchNorm)."""
    return [m for m in batchnorm_layers(net)
            if m.training and not getattr(m, "_use_global_stats", False)]


def _call_statistics(layer) -> tuple[Any, Any]:
    return layer._mean, layer._variance


def recompute_batchnorm(net, run: Callable[[Any], Any], batches: Iterable, *,
                        world_size: int = 1) -> int:
    """Set every live BatchNorm layer's running mean and variance of ``net`` to the
    mean of its batch statistics over the calls ``run(batch)`` makes for each of
    ``batches`` (``run`` forwards one batch through ``net``). Runs with ``net`` in
    training mode and no gradient; the momenta and every sublayer's training flag come
    back as they were. Returns how many batches ran. With ``world_size`` > 1 every
    process must call it (the sums are all-reduced) and all end with the same
    statistics. Layers never called keep theirs."""
    import paddle

    from .distributed import sum_tensors_across

    modes = [(m, m.training) for m in [net, *net.sublayers()]]
    net.train()
    layers = live_layers(net)
    momenta = [m._momentum for m in layers]
    sums: list[list] = [[None, None] for _ in layers]
    counts = [0] * len(layers)

    def hook(i):
        def read(layer, inputs, output):
            mean, variance = _call_statistics(layer)
            for j, value in enumerate((mean, variance)):
                value = value.detach().astype("float32")
                sums[i][j] = value.clone() if sums[i][j] is None else sums[i][j] + value
            counts[i] += 1
        return read

    handles = [m.register_forward_post_hook(hook(i)) for i, m in enumerate(layers)]
    done = 0
    try:
        for m in layers:
            m._momentum = 0.0
        with paddle.no_grad():
            for batch in batches:
                run(batch)
                done += 1
            for i, m in enumerate(layers):  # a layer no process called keeps its own
                if sums[i][0] is None:
                    sums[i] = [paddle.zeros_like(m._mean, "float32"),
                               paddle.zeros_like(m._variance, "float32")]
            flat = [t for pair in sums for t in pair]
            flat.append(paddle.to_tensor(np.asarray(counts, np.float32)))
            flat = sum_tensors_across(flat, world_size)
            totals = flat[-1].numpy()
            for i, m in enumerate(layers):
                if totals[i] > 0:
                    paddle.assign((flat[2 * i] / float(totals[i])).astype(m._mean.dtype), m._mean)
                    paddle.assign((flat[2 * i + 1] / float(totals[i])).astype(m._variance.dtype),
                                  m._variance)
    finally:
        for handle in handles:
            handle.remove()
        for m, momentum in zip(layers, momenta, strict=True):
            m._momentum = momentum
        for m, training in modes:
            m.training = training
    return done


@contextlib.contextmanager
def kept_random_state():
    """The global random states (Python's, NumPy's, Paddle's generators) as they were
    before the block, whatever it drew."""
    import paddle

    python_state, numpy_state = random.getstate(), np.random.get_state()
    states = [(device, paddle.get_rng_state(device)) for device in _rng_devices()]
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        for device, state in states:
            paddle.set_rng_state(state, device)


def _rng_devices() -> list[str]:
    import paddle

    device = paddle.get_device()
    return ["cpu"] if device == "cpu" else ["cpu", device]


def batchnorm_state(net) -> dict[str, Any]:
    """Copies of the running statistics of ``net``'s BatchNorm layers, by state-dict key."""
    layers = {id(m) for m in batchnorm_layers(net)}
    return {f"{name}.{buffer}" if name else buffer: getattr(m, buffer).detach().clone()
            for name, m in net.named_sublayers(include_self=True) if id(m) in layers
            for buffer in ("_mean", "_variance")}


def parse_setting(setting: Any) -> tuple[str, int | None]:
    """``train(precise_bn=...)`` as (mode, batches): mode "auto", "always" or "off";
    batches None for the default."""
    if setting is True:
        return "always", None
    if setting is False or setting is None:
        return "off", None
    if setting == "auto":
        return "auto", None
    if isinstance(setting, int) and not isinstance(setting, bool) and setting > 0:
        return "always", setting
    raise PxError(f"precise_bn must be True, False, 'auto' or a positive batch count, got {setting!r}")


def default_batches(batch_size: int, epoch_batches: int) -> int:
    """Enough batches of ``batch_size`` for DEFAULT_IMAGES images, at most MAX_BATCHES,
    and at most the larger of MIN_BATCHES and an epoch's ``epoch_batches``."""
    return max(1, min(MAX_BATCHES, math.ceil(DEFAULT_IMAGES / batch_size),
                      max(MIN_BATCHES, epoch_batches)))


class PreciseBN:
    """When and on what the training loop re-estimates BatchNorm statistics.

    ``setting`` is ``train(precise_bn=...)``; ``loader`` the training Loader (its data
    set, batch size, fields, seed and sharding are reused by a Loader of its own);
    ``run(batch)`` forwards one loader batch as a training step does (micro-batches,
    autocast) without the backward; ``updates_per_step`` the BatchNorm updates one
    optimizer step makes (the accumulation steps)."""

    def __init__(self, setting: Any, *, loader, run: Callable[[Any], Any],
                 updates_per_step: int = 1, world_size: int = 1, quiet: bool = False) -> None:
        self.mode, batches = parse_setting(setting)
        self.loader = loader
        self.batches = batches or default_batches(loader.batch_size, len(loader))
        self.run = run
        self.updates_per_step = updates_per_step
        self.world_size = world_size
        self.quiet = quiet
        self._said_skip = False
        self._kept: tuple[Any, dict] | None = None

    def stale_weight(self, net, global_step: int) -> float | None:
        """The weight the running statistics still give to statistics from before the
        last epoch, the initial ones included, after ``global_step`` optimizer steps (the
        largest over the layers); None without a BatchNorm that tracks statistics."""
        layers = [m for m in batchnorm_layers(net) if not getattr(m, "_use_global_stats", False)]
        if not layers:
            return None
        momentum = max(float(m._momentum) for m in layers)
        return momentum ** (min(global_step, len(self.loader)) * self.updates_per_step)

    def refresh(self, net, *, epoch: int, global_step: int, key: Any = None) -> bool:
        """Re-estimate ``net``'s statistics if the setting and the run call for it; the
        result is kept under ``key`` for ``reuse``. Every process calls it together."""
        self._kept = None
        if self.mode == "off":
            return False
        weight = self.stale_weight(net, global_step)
        if weight is None:
            self._skip("precise BN: the network has no BatchNorm that tracks statistics; "
                       "nothing to re-estimate")
            return False
        older = "their initial values" if global_step <= len(self.loader) else \
            "statistics from before the last epoch"
        if self.mode == "auto" and weight <= STALE_WEIGHT:
            self._skip(f"precise BN not needed: after {global_step} steps the running "
                       f"BatchNorm statistics give {weight:.2%} to {older} (at most "
                       f"{STALE_WEIGHT:.0%})")
            return False
        why = ("precise_bn=True" if self.mode == "always" else
               f"after {global_step} steps they still give {weight:.0%} to {older}")
        with kept_random_state():
            done = recompute_batchnorm(net, self.run, self._batches(epoch), world_size=self.world_size)
        if not self.quiet:
            logger.info("[train] precise BN: BatchNorm statistics re-estimated from %d batches "
                        "of %d training images (%s)", done, self.loader.batch_size, why)
        self._kept = (key, [(m, m._mean.detach().clone(), m._variance.detach().clone())
                            for m in batchnorm_layers(net)])
        return True

    def reuse(self, net, key: Any) -> bool:
        """Put back into ``net``'s BatchNorm layers the statistics the last ``refresh``
        computed, if it was for ``key`` (the EMA step: the same averaged weights swapped
        in again) and for this net's layers."""
        if self._kept is None or self._kept[0] != key:
            return False
        layers = {id(m) for m in batchnorm_layers(net)}
        if any(id(m) not in layers for m, _, _ in self._kept[1]):
            return False
        import paddle

        with paddle.no_grad():
            for m, mean, variance in self._kept[1]:
                paddle.assign(mean, m._mean)
                paddle.assign(variance, m._variance)
        return True

    def _skip(self, message: str) -> None:
        if not self._said_skip and not self.quiet:
            logger.info("[train] %s", message)
        self._said_skip = True

    def _batches(self, epoch: int):
        """``self.batches`` batches from a Loader of its own: the training set, batch size
        and sharding, augmented with ``epoch``'s policy, shuffled and augmented from a seed
        of its own (another per pass when one pass over the data is not enough)."""
        from ..data.loader import Loader

        train = self.loader
        dataset = train.feed.dataset
        base = train.seed if train.seed is not None else 0
        left = self.batches
        for round_ in range(self.batches):
            loader = Loader(dataset, train.batch_size, shuffle=True,
                            drop_last=len(dataset) > train.batch_size, fields=train.fields,
                            defaults=train.defaults, num_workers=train.num_workers,
                            seed=base + SEED_OFFSET * (1 + round_), rank=train.rank,
                            world_size=train.world_size)
            loader.set_epoch(epoch)
            if len(loader) == 0:
                return
            for batch in loader:
                yield batch
                left -= 1
                if not left:
                    return
