"""BatchNorm across a whole network."""

from __future__ import annotations

import paddle


def batchnorm_layers(net) -> list:
    """Every BatchNorm layer of ``net`` (BatchNorm, BatchNorm1D/2D/3D, SyncBatchNorm)."""
    kinds = (paddle.nn.layer.norm._BatchNormBase, paddle.nn.BatchNorm)
    return [m for m in net.sublayers() if isinstance(m, kinds)]


def set_batchnorm_momentum(net, momentum: float) -> int:
    """Set every BatchNorm's momentum (running = momentum * running + (1 - momentum) *
    batch); returns how many layers changed. The Paddle suites' 0.99 suits schedules of
    tens of thousands of steps; a run of a few hundred needs 0.9 for its evaluation-mode
    statistics to have caught up."""
    if not 0 <= momentum < 1:
        raise ValueError(f"BatchNorm momentum must be in [0, 1), got {momentum!r}")
    layers = batchnorm_layers(net)
    for layer in layers:
        layer._momentum = float(momentum)
    return len(layers)
