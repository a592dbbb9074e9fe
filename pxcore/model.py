"""What ``create_model`` returns: the network plus what pxcore knows about it.

The wrapper is not a ``paddle.nn.Layer`` on purpose: PaddleX users call
``model.train(num_epochs=...)`` to train, which on a Layer would only switch modes.
The network itself is ``model.net``.
"""

from __future__ import annotations

from typing import Any

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

    def __repr__(self) -> str:
        where = f" ({self.entry.id})" if self.entry is not None else ""
        return (f"<pxcore.Model {self.name}{where} task={self.task} "
                f"num_classes={self.num_classes} from {self.spec.distribution}>")
