"""Transforms act on a sample dict, so one transform serves every task.

A sample holds ``image`` (HxWx3, uint8 RGB until Normalize makes it float32) and,
depending on the task, ``label`` (a class id), ``gt_bbox``/``gt_class`` (boxes),
``gt_mask``/``label_map`` (pixels). A geometric transform moves whatever of these the
sample has with the pixels. Random transforms draw from the ``rng`` they are given, so
a data set can make each sample's augmentation reproducible.

Transforms are attrs classes: their arguments are their config, so a saved model and
an exported one describe their pre-processing as data (``to_config``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from ..errors import ConfigError


class Transform:
    """Base: ``__call__(sample, rng) -> sample``; ``to_config()`` gives ``{"type", **args}``."""

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        raise NotImplementedError

    def to_config(self) -> dict[str, Any]:
        args = attrs.asdict(self, recurse=False) if attrs.has(type(self)) else {}
        return {"type": type(self).__name__,
                **{k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}}


@attrs.define
class Compose(Transform):
    """Applies transforms in order. Items may be transforms or ``{"type": ...}`` configs."""

    transforms: list = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        self.transforms = [build_transform(t) for t in self.transforms]

    def __call__(self, sample, rng=None):
        rng = rng if rng is not None else np.random.default_rng()
        for transform in self.transforms:
            sample = transform(sample, rng)
        return sample

    def to_config(self) -> dict[str, Any]:
        return {"type": "Compose", "transforms": [t.to_config() for t in self.transforms]}

    def __len__(self) -> int:
        return len(self.transforms)


def build_transform(cfg: Any) -> Transform:
    """A transform from itself, a ``{"type": ...}`` config, or a list (a Compose)."""
    if isinstance(cfg, Transform):
        return cfg
    if isinstance(cfg, Sequence) and not isinstance(cfg, str):
        return Compose(list(cfg))
    if isinstance(cfg, Mapping):
        from ..config import build

        built = build(cfg, "transform")
        if not isinstance(built, Transform):
            raise ConfigError(f"{cfg.get('type')!r} built a {type(built).__name__}, not a transform")
        return built
    raise ConfigError(f"expected a transform or a {{'type': ...}} config, got {cfg!r}")


def compose(transforms: Any) -> Compose:
    """Whatever a user passes as ``transforms`` (None, a list, a Compose), as a Compose."""
    if transforms is None:
        return Compose([])
    built = build_transform(transforms)
    return built if isinstance(built, Compose) else Compose([built])
