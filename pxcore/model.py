"""What ``create_model`` returns: the network plus what pxcore knows about it.

The wrapper is not a ``paddle.nn.Layer`` on purpose: PaddleX users call
``model.train(num_epochs=...)`` to train, which on a Layer would only switch modes.
The network itself is ``model.net``. Each task has its subclass (``pxcore.tasks``) with
train, evaluate and predict; this base knows how to describe and save any model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import PxError
from .specs import ModelSpec
from .zoo import ZooEntry


class Model:
    def __init__(self, net: Any, *, spec: ModelSpec, entry: ZooEntry | None = None,
                 num_classes: int | None = None, build_args: dict[str, Any] | None = None) -> None:
        self.net = net
        self.spec = spec
        self.entry = entry
        self.num_classes = num_classes
        # The arguments the network was built with: enough to build it again.
        self.build_args = dict(build_args or {})
        # What loading create_model's ``pretrained`` did (pxcore.weights.WeightsReport):
        # its notes and the tensors left at their initial values; None without weights.
        self.weights_report = None
        self.labels: list[str] | None = None
        self.train_transforms = None
        self.eval_transforms = None

    @property
    def name(self) -> str:
        return self.entry.name if self.entry is not None else self.spec.name

    @property
    def task(self) -> str:
        return self.spec.task

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.net(*args, **kwargs)

    def parameters(self):
        return self.net.parameters()

    def state_dict(self):
        return self.net.state_dict()

    def num_parameters(self, include_buffers: bool = True) -> int:
        """Parameter count; with buffers it counts BatchNorm's running statistics, as the
        Paddle suites' published counts do."""
        tensors = self.net.state_dict().values() if include_buffers else self.net.parameters()
        total = 0
        for tensor in tensors:
            size = 1
            for dim in tensor.shape:
                size *= int(dim)
            total += size
        return total

    def describe(self, **extra: Any) -> dict[str, Any]:
        """model.yml's content: enough to rebuild the model and its pre-processing."""
        from . import __version__

        info = {
            "pxcore_version": __version__,
            "model": self.spec.name,
            "zoo_id": self.entry.id if self.entry is not None else None,
            "task": self.task,
            "distribution": self.spec.distribution,
            "build_args": self.build_args,
            "num_classes": self.num_classes,
            "labels": self.labels,
            "transforms": {
                "train": self.train_transforms.to_config() if self.train_transforms else None,
                "eval": self.eval_transforms.to_config() if self.eval_transforms else None,
            },
        }
        info.update(extra)
        return info

    def save(self, save_dir: str | os.PathLike, *, optimizer=None, train_state=None, ema=None,
             status: str = "Normal", **extra: Any) -> Path:
        """Write a model directory that ``pxcore.load_model`` reads back."""
        from .engine.checkpoint import save_dir as write

        info = self.describe(status=status, **extra)
        _check_plain(info, "model.yml")
        return write(save_dir, info=info, net=self.net, optimizer=optimizer, train_state=train_state,
                     ema=ema)

    def __repr__(self) -> str:
        where = f" ({self.entry.id})" if self.entry is not None else ""
        return (f"<pxcore {type(self).__name__} {self.name}{where} task={self.task} "
                f"num_classes={self.num_classes} from {self.spec.distribution}>")


def _check_plain(value: Any, where: str) -> None:
    """model.yml holds plain data; a model built from live objects cannot be described."""
    if value is None or isinstance(value, str | int | float | bool):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(item, f"{where}.{key}")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]")
        return
    raise PxError(f"cannot save {where}: it is a {type(value).__name__}; build the model from "
                  "names and {'type': ...} configs (not objects) so it can be saved and reloaded")
