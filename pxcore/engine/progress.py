"""Training progress: a live bar on a terminal (tqdm), log lines elsewhere (CI, files),
both with loss, learning rate, images/s and the time left."""

from __future__ import annotations

import logging
import sys
import time

logger = logging.getLogger("pxcore")


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    def __init__(self, num_epochs: int, steps_per_epoch: int, log_interval: int,
                 start_epoch: int = 0, live: bool | None = None, quiet: bool = False) -> None:
        self.num_epochs = num_epochs
        self.steps_per_epoch = steps_per_epoch
        self.log_interval = max(1, int(log_interval))
        self.total_steps = (num_epochs - start_epoch) * steps_per_epoch
        self.done_steps = 0
        self.start = time.perf_counter()
        self.images = 0
        self.live = sys.stderr.isatty() if live is None else live
        self.quiet = quiet  # counts, shows nothing (the processes other than rank 0)
        self.bar = None

    def start_epoch(self, epoch: int) -> None:
        if self.live and not self.quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=self.steps_per_epoch, desc=f"epoch {epoch + 1}/{self.num_epochs}",
                            leave=False, dynamic_ncols=True)

    def step(self, epoch: int, step: int, loss: float, lr: float, batch_images: int) -> None:
        self.done_steps += 1
        self.images += batch_images
        elapsed = time.perf_counter() - self.start
        speed = self.images / elapsed if elapsed > 0 else 0.0
        eta = elapsed / self.done_steps * (self.total_steps - self.done_steps)
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(f"loss={loss:.4f} lr={lr:.3g} {speed:.1f} img/s eta {_duration(eta)}")
            self.bar.update(1)
        elif (step + 1) % self.log_interval == 0 or step + 1 == self.steps_per_epoch:
            logger.info("[train] epoch %d/%d step %d/%d loss=%.4f lr=%.3g %.1f img/s eta %s",
                        epoch + 1, self.num_epochs, step + 1, self.steps_per_epoch, loss, lr,
                        speed, _duration(eta))

    def end_epoch(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    @property
    def images_per_second(self) -> float:
        elapsed = time.perf_counter() - self.start
        return self.images / elapsed if elapsed > 0 else 0.0
