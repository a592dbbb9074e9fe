"""What every reference check does: random weights that reach every tensor, the same
weights set into the reference network and pxcore's, and one measure of agreement.

The measure is the largest absolute difference over the largest absolute reference
output, ``max|ours - theirs| / max|theirs|``, and a row holds at ``TOLERANCE`` (1e-4):
float32 networks computing the same thing in another order (oneDNN picks kernels by
shape; a fused batch norm rounds differently) stay near 1e-6 of their output's scale,
while one misplaced tensor moves outputs by far more than 1e-2 (batch-norm statistics
are calibrated on the input, so every layer's output is near unit scale and an error
anywhere reaches the output undamped).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from pxcore.testing.random_weights import calibrate_batch_norm, random_tensor

TOLERANCE = 1e-4


def relative_difference(ours: np.ndarray, theirs: np.ndarray) -> float:
    """``max|ours - theirs| / max|theirs|``; shapes must be equal."""
    ours, theirs = np.asarray(ours, "float64"), np.asarray(theirs, "float64")
    if ours.shape != theirs.shape:
        raise AssertionError(f"output shapes differ: pxcore {ours.shape}, reference {theirs.shape}")
    scale = np.abs(theirs).max()
    if not np.isfinite(scale) or scale == 0:
        raise AssertionError(f"the reference output's scale is {scale}: the check would mean nothing")
    return float(np.abs(ours - theirs).max() / scale)


def same_names(got: Mapping[str, list[int]], expected: Mapping[str, list[int]], got_what: str,
               expected_what: str) -> None:
    """``got`` and ``expected`` (name -> shape) hold the same names with the same shapes;
    the error names the first few that differ each way."""
    if dict(got) == dict(expected):
        return
    only_got, only_expected = sorted(set(got) - set(expected)), sorted(set(expected) - set(got))
    shapes = [k for k in got if k in expected and list(got[k]) != list(expected[k])]
    raise AssertionError(f"{got_what} differ from {expected_what}: only in the former {only_got[:5]}, "
                         f"only in the latter {only_expected[:5]}, shapes differ {shapes[:5]}")


def random_state(net, seed: int = 0) -> dict[str, np.ndarray]:
    """``random_tensor`` for every tensor of ``net``'s state dict, by its key."""
    rng = np.random.default_rng(seed)
    return {k: random_tensor(rng, k, [int(d) for d in v.shape]) for k, v in net.state_dict().items()}


def calibrated_state(net, image: np.ndarray, seed: int = 0,
                     forward: Callable | None = None) -> dict[str, np.ndarray]:
    """Random weights for ``net`` with each batch norm's statistics those of ``image``
    at that layer (``calibrate_batch_norm``); ``forward(net, image)`` runs networks
    whose call is not ``net(tensor)``."""
    state = random_state(net, seed)
    if forward is None:
        return calibrate_batch_norm(net, state, image)
    return _calibrate_with(net, state, image, forward)


def _calibrate_with(net, state, image, forward):
    import paddle

    norms = [layer for layer in net.sublayers() if isinstance(layer, paddle.nn.layer.norm._BatchNormBase)
             or type(layer).__name__ in ("BatchNorm", "SyncBatchNorm")]
    net.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    if not norms:
        return state
    for layer in norms:
        layer._momentum = 0.0  # the running statistics become this batch's
    net.train()
    with paddle.no_grad():
        forward(net, image)
    return {k: v.numpy() for k, v in net.state_dict().items()}


def load_exactly(net, state: Mapping[str, np.ndarray], source: str) -> None:
    """Set ``state`` into ``net`` through pxcore's own loading rules (``fit_state``:
    keys, then ``weight_aliases()``), requiring every tensor of ``net`` to be set and
    every tensor of ``state`` to be used, with equal shapes."""
    import paddle

    from pxcore.weights import fit_state

    fitted, _ = fit_state(net, state, source, reinit_head=False)
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    got = {k: tuple(np.shape(v)) for k, v in fitted.items()}
    missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    wrong = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])
    if missing or extra or wrong:
        raise AssertionError(f"{source}: does not fit pxcore's network: missing {missing[:5]}, "
                             f"unused {extra[:5]}, other shapes {wrong[:5]}")
    net.set_state_dict({k: paddle.to_tensor(v) for k, v in fitted.items()})
    net.eval()
