"""Mixed precision through ``paddle.amp``: O1 (listed ops in half precision, weights in
float32) or O2 (the net in half precision, float32 master weights in the optimizer),
float16 with dynamic loss scaling where the device has it, else bfloat16 (no scaling
needed). Paddle's autocast works only on CUDA, XPU and custom devices: on a CPU
``amp`` falls back to float32 with a warning, so a config written for GPUs runs there
unchanged."""

from __future__ import annotations

import contextlib
import logging

from ..errors import PxError

logger = logging.getLogger("pxcore")

LEVELS = (None, "O1", "O2")


def check_level(amp) -> str | None:
    if amp is False:
        return None
    if amp not in LEVELS:
        raise PxError(f"amp must be None, 'O1' or 'O2', got {amp!r}")
    return amp


class Precision:
    """What the loop does for the chosen level: ``autocast()`` around the forward pass,
    ``backward(loss)`` and ``step(optimizer)`` with loss scaling when float16."""

    def __init__(self, level: str | None, device: str | None = None) -> None:
        import paddle

        self.level = check_level(level)
        self.dtype = None
        self.scaler = None
        device = device or paddle.get_device()
        if self.level is None:
            return
        if device.startswith("cpu"):
            logger.warning("amp=%r: Paddle's mixed precision works on GPUs (and XPUs), not on "
                           "%s; training goes on in float32", self.level, device)
            self.level = None
            return
        if paddle.amp.is_float16_supported(device):
            self.dtype = "float16"
            self.scaler = paddle.amp.GradScaler(init_loss_scaling=2.0 ** 15)
        elif paddle.amp.is_bfloat16_supported(device):
            self.dtype = "bfloat16"
        else:
            raise PxError(f"amp={self.level!r}: {device} supports neither float16 nor bfloat16")

    def decorate(self, net, optimizer):
        """O2 casts the net to half precision, keeping float32 master weights and float32
        checkpoints; O1 leaves both as they are."""
        if self.level != "O2":
            return optimizer
        import paddle

        _, optimizer = paddle.amp.decorate(net, optimizer, level="O2", dtype=self.dtype,
                                           save_dtype="float32")
        return optimizer

    def autocast(self):
        if self.level is None:
            return contextlib.nullcontext()
        import paddle

        return paddle.amp.auto_cast(level=self.level, dtype=self.dtype)

    def backward(self, loss) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def step(self, optimizer) -> None:
        if self.scaler is not None:
            self.scaler.step(optimizer)  # skips the step when a gradient overflowed
            self.scaler.update()
        else:
            optimizer.step()
