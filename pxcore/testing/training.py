"""Training checks a detector's or segmenter's tests share: BatchNorm statistics set
from one batch, "a few optimizer steps on one batch lower the loss", and the cheaper
"one step reaches every parameter" for a row whose graph another row trains fully.

All work on a pxcore model (``model.net`` and ``model.training_step(batch)``)::

    from pxcore.testing.training import loss_falls, settle_batchnorm

    losses = loss_falls(model, batch, steps=8, learning_rate=1e-3, ratio=0.7)
    settle_batchnorm(model, batch)   # eval-mode outputs from the batch's statistics
"""

from __future__ import annotations

from typing import Any


def settle_batchnorm(model, batch: Any) -> None:
    """Precise BatchNorm on one batch (``pxcore.engine.precise_bn.recompute_batchnorm``
    over ``model.training_step(batch)``, no gradients): every live BatchNorm's running
    statistics become the batch's, what many passes approach, through the whole network
    (an R-CNN's C4 head runs its blocks on RoIs only, so the backbone's pass alone would
    not reach them). For tests that step a network by hand instead of through
    ``train()``, which does this itself. The network is left in training mode. Fails if
    the network has no BatchNorm to settle."""
    from ..engine.precise_bn import live_layers, recompute_batchnorm

    model.net.train()
    assert live_layers(model.net), f"{type(model.net).__name__} has no BatchNorm to settle"
    recompute_batchnorm(model.net, model.training_step, [batch])


def loss_falls(model, batch: Any, steps: int = 8, learning_rate: float = 1e-3,
               ratio: float = 0.8, window: int = 3) -> list[float]:
    """``steps`` Adam steps of ``model.training_step`` on the one ``batch``, in training
    mode. Asserts every loss is finite and the mean of the last ``window`` losses is
    below ``ratio`` times the mean of the first ``window``; returns the losses."""
    import numpy as np
    import paddle

    assert steps >= 2 * window, f"{steps} steps cannot compare two windows of {window}"
    optimizer = paddle.optimizer.Adam(learning_rate, parameters=model.net.parameters())
    model.net.train()
    losses = []
    for _ in range(steps):
        loss = model.training_step(batch)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        losses.append(float(loss))
    assert np.isfinite(losses).all(), f"a loss is not finite: {losses}"
    assert np.mean(losses[-window:]) < ratio * np.mean(losses[:window]), (
        f"the loss did not fall below {ratio} of its start in {steps} steps: {losses}")
    return losses


def one_step_trains_everything(model, batch: Any, learning_rate: float = 1e-4) -> float:
    """One Adam step of ``model.training_step(batch)`` in training mode: the loss is
    finite, a gradient reaches every trainable parameter (none is cut off from the
    loss) and every gradient is finite. Returns the loss. The cheap check for a network
    whose graph a fuller test trains at another depth or width."""
    import numpy as np
    import paddle

    model.net.train()
    params = {name: p for name, p in model.net.named_parameters() if not p.stop_gradient}
    assert params, f"{type(model.net).__name__} has no trainable parameters"
    loss = model.training_step(batch)
    value = float(loss)
    assert np.isfinite(value), f"the loss is {value}"
    loss.backward()
    missing = [name for name, p in params.items() if p.grad is None]
    assert not missing, f"no gradient reaches {len(missing)} parameters, e.g. {missing[:5]}"
    bad = [name for name, p in params.items() if not np.isfinite(p.grad.numpy()).all()]
    assert not bad, f"gradients not finite for {bad[:5]}"
    optimizer = paddle.optimizer.Adam(learning_rate, parameters=list(params.values()))
    optimizer.step()
    optimizer.clear_grad()
    return value
