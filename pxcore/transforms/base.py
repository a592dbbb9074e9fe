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


def optional(default: Any, **kwargs: Any) -> Any:
    """An attrs field that ``to_config`` leaves out while it holds its default: arguments
    added to an existing transform keep its saved configs what they were."""
    return attrs.field(default=default, metadata={"omit_default": True}, **kwargs)


class Transform:
    """Base: ``__call__(sample, rng) -> sample``; ``to_config()`` gives ``{"type", **args}``.

    A transform with ``batch_transform = True`` works on a whole batch instead:
    ``__call__(samples: list[dict], rng) -> list[dict]``. ``Compose`` skips it per sample;
    the loader runs ``Compose.apply_batch`` on each batch's samples before collating.
    """

    batch_transform = False

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        raise NotImplementedError

    def to_config(self) -> dict[str, Any]:
        args = {}
        for field in attrs.fields(type(self)) if attrs.has(type(self)) else ():
            value = getattr(self, field.name)
            if field.metadata.get("omit_default") and value == field.default:
                continue
            args[field.name] = list(value) if isinstance(value, tuple) else value
        return {"type": type(self).__name__, **args}


@attrs.define
class Compose(Transform):
    """Applies transforms in order. Items may be transforms or ``{"type": ...}`` configs."""

    transforms: list = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        self.transforms = [build_transform(t) for t in self.transforms]

    def __call__(self, sample, rng=None):
        rng = rng if rng is not None else np.random.default_rng()
        for transform in self.transforms:
            if not transform.batch_transform:
                sample = transform(sample, rng)
        return sample

    @property
    def batch_transforms(self) -> list[Transform]:
        """The batch transforms, in order (nested Composes included)."""
        found = []
        for transform in self.transforms:
            if isinstance(transform, Compose):
                found += transform.batch_transforms
            elif transform.batch_transform:
                found.append(transform)
        return found

    def apply_batch(self, samples: list[dict[str, Any]], rng=None) -> list[dict[str, Any]]:
        """Run the batch transforms on one batch's transformed samples (wherever they sit
        in the list, after every per-sample transform, as PaddleX does)."""
        rng = rng if rng is not None else np.random.default_rng()
        for transform in self.batch_transforms:
            samples = transform(samples, rng)
        return samples

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
        # Straight from the registry (what ``pxcore.config.build`` does for a transform),
        # so that the transforms, and the inference layer above them, stay below the API.
        from ..plugins import get_registry

        if "type" not in cfg:
            raise ConfigError(f"a transform config needs a 'type' key naming a registered "
                              f"transform; got keys {sorted(cfg)}")
        args = dict(cfg)
        name = args.pop("type")
        if not isinstance(name, str):
            raise ConfigError(f"'type' of a transform config must be a name, got {name!r}")
        built = get_registry().get("transform", name).build(**args)
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
