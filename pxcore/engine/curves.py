"""A picture of the training loss and the evaluation metrics, beside the checkpoints."""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger("pxcore")


def plot_curves(history: dict, path: Path) -> Path | None:
    """Loss per step on the left, each metric per evaluated epoch on the right.
    Returns the file, or None where matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.info("matplotlib is not installed, so no curves picture (pip install matplotlib)")
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    losses = history.get("loss", [])
    if losses:
        steps, values = zip(*losses, strict=True)
        left.plot(steps, values, linewidth=0.8)
    left.set(title="training loss", xlabel="step", ylabel="loss")
    left.grid(alpha=0.3)
    for name, points in history.get("metrics", {}).items():
        epochs, values = zip(*points, strict=True)
        right.plot(epochs, values, marker="o", label=name)
    right.set(title="evaluation", xlabel="epoch")
    right.grid(alpha=0.3)
    if history.get("metrics"):
        right.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
