"""Random weights for parity checks: every tensor set at a scale that keeps
activations near unit size through the whole network, so a misplaced tensor anywhere
shows in the outputs. Plugin test suites use ``randomise``; the reference harness at the
repository top (reference/, not shipped) uses all three.
"""

from __future__ import annotations

import numpy as np


def random_tensor(rng: np.random.Generator, key: str, shape: list[int]) -> np.ndarray:
    """Random weights that keep activations near unit scale through the whole network,
    so that a misplaced tensor anywhere changes the logits visibly (standard normal
    weights make them explode, and a late error drowns in the magnitude)."""
    noise = rng.standard_normal(shape)
    if key.endswith("._variance"):
        value = 0.5 + rng.random(shape)
    elif key.endswith(".weight") and len(shape) == 4:  # conv [out, in / groups, k, k]
        value = noise * np.sqrt(2.0 / np.prod(shape[1:]))
    elif key.endswith(".weight") and len(shape) == 2:  # fc [in, out]
        value = noise / np.sqrt(shape[0])
    elif key.endswith(".weight"):  # batch norm scale
        value = 1.0 + 0.2 * noise
    else:  # biases, batch norm offsets and means
        value = 0.2 * noise
    return value.astype("float32")


def randomise(net, seed: int = 0):
    """Set every tensor of ``net`` with ``random_tensor`` (fresh initialisation leaves
    logits too small for parity checks to mean much); returns it in eval mode."""
    import paddle

    rng = np.random.default_rng(seed)
    net.set_state_dict({k: paddle.to_tensor(random_tensor(rng, k, list(v.shape)))
                        for k, v in net.state_dict().items()})
    net.eval()
    return net


def calibrate_batch_norm(net, state: dict[str, np.ndarray], image: np.ndarray) -> dict[str, np.ndarray]:
    """Replace the random batch-norm statistics by those of ``image`` at every layer, as
    training would: each conv + batch norm then gives values near unit scale and the
    residual sums stay moderate, so a misplaced tensor, however deep, shows in the
    logits. Each statistic stays particular to its channel and layer."""
    import paddle

    norms = [layer for layer in net.sublayers() if isinstance(layer, paddle.nn.layer.norm._BatchNormBase)
             or type(layer).__name__ == "BatchNorm"]
    if not norms:
        return state
    net.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    for layer in norms:
        layer._momentum = 0.0  # the running statistics become this batch's
    net.train()
    with paddle.no_grad():
        net(paddle.to_tensor(image))
    return {k: v.numpy() for k, v in net.state_dict().items()}
