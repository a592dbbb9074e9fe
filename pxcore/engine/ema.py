"""An exponential moving average of a network's weights, which detectors evaluate and
save instead of the raw weights (PP-YOLO and YOLOv3 train with ``use_ema``).

The arithmetic is PaddleDetection's ModelEMA (2.x, "threshold" decay), so a run here
averages as a run there did: the average starts at zero; each ``update()`` after an
optimizer step sets ``avg = d * avg + (1 - d) * w`` with ``d = min(decay, (1 + step) /
(10 + step))`` (or ``decay`` without ``use_thres_step``); the weights ``apply()`` swaps
in are ``avg / (1 - d_last ** step)``, d_last being the last update's decay (an
approximate bias correction while d still grows, exact once it is constant).
Like PaddleDetection, every floating-point entry of the state dict is averaged,
BatchNorm's running ``_mean`` and ``_variance`` included: the averaged statistics go
with the averaged weights. Other entries (integer buffers) are copied.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import paddle

from ..errors import PxError


class ModelEMA:
    """The moving average of ``net``'s state dict; call ``update()`` after each
    optimizer step and evaluate or save inside ``with ema.apply():``."""

    def __init__(self, net: paddle.nn.Layer, decay: float = 0.9998,
                 use_thres_step: bool = True) -> None:
        if not 0.0 <= decay < 1.0:
            raise PxError(f"ModelEMA: decay {decay} must be in [0, 1); PaddleDetection uses 0.9998")
        self.net = net
        self.decay = decay
        self.use_thres_step = use_thres_step
        self.step = 0
        with paddle.no_grad():
            self._average = {k: paddle.zeros_like(v) for k, v in net.state_dict().items()}

    def decay_at(self, step: int) -> float:
        """The decay the update at ``step`` (counting from 0) uses."""
        if self.use_thres_step:
            return min(self.decay, (1 + step) / (10 + step))
        return self.decay

    def update(self) -> None:
        """Fold the network's current weights into the average."""
        d = self.decay_at(self.step)
        with paddle.no_grad():
            for key, value in self.net.state_dict().items():
                if paddle.is_floating_point(value):
                    self._average[key] = d * self._average[key] + (1 - d) * value.detach()
                else:
                    self._average[key] = value.detach().clone()
        self.step += 1

    def averaged(self) -> dict[str, paddle.Tensor]:
        """The bias-corrected averaged state dict; before any update, the net's own."""
        with paddle.no_grad():
            if self.step == 0:
                return {k: v.detach().clone() for k, v in self.net.state_dict().items()}
            correction = 1 - self.decay_at(self.step - 1) ** self.step
            return {k: v / correction if paddle.is_floating_point(v) else v.clone()
                    for k, v in self._average.items()}

    @contextmanager
    def apply(self) -> Iterator[paddle.nn.Layer]:
        """Swap the averaged weights into the net for the ``with`` block; the trained
        weights come back afterwards, also when the block raises."""
        with paddle.no_grad():
            trained = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
            self.net.set_state_dict(self.averaged())
        try:
            yield self.net
        finally:
            with paddle.no_grad():
                self.net.set_state_dict(trained)

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps to resume averaging: the step and the running sums."""
        return {"step": self.step, "average": dict(self._average)}

    def set_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from ``state_dict()``'s output (as ``paddle.load`` gives it back)."""
        try:
            step, average = int(state["step"]), state["average"]
        except (KeyError, TypeError, ValueError):
            raise PxError("ModelEMA: the state has no 'step' and 'average'; give what "
                          "ModelEMA.state_dict() returned") from None
        expected = {k: list(v.shape) for k, v in self._average.items()}
        given = {k: list(v.shape) for k, v in average.items()}
        if given != expected:
            missing = sorted(set(expected) - set(given))
            unexpected = sorted(set(given) - set(expected))
            wrong = sorted(k for k in set(expected) & set(given) if expected[k] != given[k])
            raise PxError(
                "ModelEMA: the saved average does not fit this network "
                f"(missing {missing[:5]}, unexpected {unexpected[:5]}, other shapes {wrong[:5]}); "
                "resume with the network the average was taken of")
        self.step = step
        self._average = {k: _tensor(average[k]).astype(v.dtype) for k, v in self._average.items()}


def _tensor(value) -> paddle.Tensor:
    return value if isinstance(value, paddle.Tensor) else paddle.to_tensor(value)
