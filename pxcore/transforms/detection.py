"""Transforms that only make sense with boxes: expand, mixup, multi-scale batches and
fixed-length box arrays (PaddleX 2.x's detection set). They use ``geometry`` too.

Mixup protocol. ``MixupImage`` needs a second sample, which only the data set can give.
A data set whose transforms contain one (``needs_mixup(self.transforms)``) calls
``attach_mixup(self, index, rng, sample)`` on the raw sample before its transforms;
that draws another index ``j``, loads ``dataset.load(j)`` and stores it as
``sample["mixup"]``. MixupImage pops that key and blends the two. Without a partner it
only sets ``gt_score`` to ones, so every detection sample has the same keys.

Batch protocol. ``BatchRandomResize`` has ``batch_transform = True``: it works on the
list of a batch's samples (one size for the whole batch). ``Compose`` skips it per
sample; the loader calls ``compose.apply_batch(samples, rng)`` before collating.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from ..errors import PxError
from .base import Compose, Transform
from .geometry import IGNORE_INDEX, as_boxes, pad_sample, resize_sample
from .image import _check_interp, _interp, _movable, _positive, _size_pair


@attrs.define
class RandomExpand(Transform):
    """With probability ``prob``, place the image at a random spot of a canvas up to
    ``ratio`` times larger, filled with ``fill_value`` (label pixels with 255): objects
    get smaller, which teaches small-object detection. Boxes move with the image;
    ``scale_factor`` is unchanged (nothing was resized)."""

    ratio: float = 4.0
    prob: float = 0.5
    fill_value: Sequence[float] = attrs.field(default=(123.675, 116.28, 103.53), converter=tuple)

    def __attrs_post_init__(self):
        if not self.ratio >= 1.0:
            raise PxError(f"RandomExpand: ratio must be at least 1 (the canvas never shrinks), "
                          f"got {self.ratio!r}")

    def __call__(self, sample, rng):
        h, w = _movable(self, sample).shape[:2]
        if self.ratio < 1.01 or rng.random() >= self.prob:
            return sample
        ratio = rng.uniform(1.0, self.ratio)
        nh, nw = int(h * ratio), int(w * ratio)
        if nh <= h or nw <= w:
            return sample
        y, x = int(rng.integers(0, nh - h + 1)), int(rng.integers(0, nw - w + 1))
        return pad_sample(sample, nh, nw, x, y, self.fill_value, IGNORE_INDEX)


_MIXED_KEYS = (("gt_class", np.int32), ("is_crowd", np.int32), ("difficult", np.int32))


@attrs.define
class MixupImage(Transform):
    """Blend the sample with ``sample["mixup"]`` (see the module docstring) by a factor
    drawn from Beta(``alpha``, ``beta``); both sets of boxes are kept and ``gt_score``
    weighs each box by its image's share. ``mixup_epoch``: mix only in the first that
    many epochs (-1: always); ``attach_mixup`` applies it."""

    alpha: float = attrs.field(default=1.5, validator=_positive)
    beta: float = attrs.field(default=1.5, validator=_positive)
    mixup_epoch: int = -1

    def __call__(self, sample, rng):
        partner = sample.pop("mixup", None)
        if "label_map" in sample:
            raise PxError("MixupImage blends detection samples; a segmentation label_map cannot "
                          "be blended. Remove MixupImage from segmentation transforms")
        _scores(sample)
        if partner is None:
            return sample
        factor = float(np.clip(rng.beta(self.alpha, self.beta), 0.0, 1.0))
        if factor >= 1.0:
            return sample
        partner.pop("mixup", None)
        _scores(partner)
        if factor <= 0.0:
            return partner
        a, b = sample["image"], partner["image"]
        h, w = max(a.shape[0], b.shape[0]), max(a.shape[1], b.shape[1])
        image = np.zeros((h, w, a.shape[2]), np.float32)
        image[:a.shape[0], :a.shape[1]] = a.astype(np.float32) * factor
        image[:b.shape[0], :b.shape[1]] += b.astype(np.float32) * (1.0 - factor)
        sample["image"] = image.astype(np.uint8) if a.dtype == np.uint8 else image
        if "gt_bbox" in sample:
            sample["gt_bbox"] = np.concatenate([as_boxes(sample["gt_bbox"]),
                                                as_boxes(partner.get("gt_bbox", []))])
        for key, dtype in _MIXED_KEYS:
            if key in sample:
                other = partner.get(key, np.zeros(len(as_boxes(partner.get("gt_bbox", [])))))
                sample[key] = np.concatenate([np.asarray(sample[key], dtype).reshape(-1),
                                              np.asarray(other, dtype).reshape(-1)])
        if "gt_poly" in sample:
            sample["gt_poly"] = [*sample["gt_poly"], *partner.get("gt_poly", [])]
        sample["gt_score"] = np.concatenate([sample["gt_score"] * factor,
                                             partner["gt_score"] * (1.0 - factor)]).astype(np.float32)
        if "im_shape" in sample:
            sample["im_shape"] = np.array([h, w], np.float32)
        return sample


def _scores(sample: dict[str, Any]) -> None:
    if "gt_score" not in sample and ("gt_class" in sample or "gt_bbox" in sample):
        count = len(np.asarray(sample["gt_class"]).reshape(-1)) if "gt_class" in sample \
            else len(as_boxes(sample["gt_bbox"]))
        sample["gt_score"] = np.ones(count, np.float32)


def needs_mixup(transforms: Any) -> MixupImage | None:
    """The MixupImage in ``transforms`` (a Compose, list or transform), or None: whether
    the data set must attach a partner sample."""
    if isinstance(transforms, MixupImage):
        return transforms
    items = transforms.transforms if isinstance(transforms, Compose) else \
        transforms if isinstance(transforms, list | tuple) else []
    for item in items:
        found = needs_mixup(item)
        if found is not None:
            return found
    return None


def attach_mixup(dataset: Any, index: int, rng: np.random.Generator, sample: dict[str, Any],
                 epoch: int | None = None) -> dict[str, Any]:
    """Put ``dataset.load(j)``, for a random ``j != index``, in ``sample["mixup"]`` if the
    data set's transforms mix up and ``epoch`` (default: ``dataset.epoch``, else 0) is
    before the MixupImage's ``mixup_epoch``. Returns ``sample`` (changed in place)."""
    op = needs_mixup(getattr(dataset, "transforms", None))
    if op is None or len(dataset) < 2:
        return sample
    epoch = epoch if epoch is not None else getattr(dataset, "epoch", 0) or 0
    if 0 <= op.mixup_epoch <= epoch:
        return sample
    j = int(rng.integers(len(dataset) - 1))
    sample["mixup"] = dataset.load(j + (j >= index))
    return sample


def _default_sizes() -> tuple[int, ...]:
    return tuple(range(320, 609, 32))


@attrs.define
class BatchRandomResize(Transform):
    """Multi-scale training: resize every sample of a batch to one size drawn from
    ``target_sizes`` (ints or [width, height]), so the batch still stacks. A batch
    transform: ``__call__(samples, rng) -> samples``."""

    batch_transform = True

    target_sizes: Sequence[Any] = attrs.field(factory=_default_sizes, converter=tuple)
    interp: str = attrs.field(default="RANDOM", validator=_check_interp)

    def __attrs_post_init__(self):
        if not self.target_sizes:
            raise PxError("BatchRandomResize: target_sizes is empty; give sizes such as [320, 416, 608]")
        for size in self.target_sizes:
            _positive(self, attrs.fields(type(self)).target_sizes, size)

    def __call__(self, samples, rng):
        if isinstance(samples, dict):
            raise PxError("BatchRandomResize is a batch transform: it takes a batch's list of "
                          "samples (Compose.apply_batch), not one sample")
        height, width = _size_pair(self.target_sizes[int(rng.integers(len(self.target_sizes)))])
        interp = _interp(self.interp, rng)
        for sample in samples:
            _movable(self, sample)
            resize_sample(sample, width, height, interp)
        return samples

    def to_config(self):
        config = super().to_config()
        config["target_sizes"] = [list(s) if isinstance(s, tuple) else s for s in config["target_sizes"]]
        return config


_BOX_FIELDS = (("gt_bbox", np.float32), ("gt_class", np.int32), ("gt_score", np.float32),
               ("is_crowd", np.int32), ("difficult", np.int32))


@attrs.define
class PadBox(Transform):
    """Pad (with zeros) or cut the per-box arrays a sample has to ``num_max_boxes`` rows,
    so samples with different box counts collate into one batch (YOLO's targets).
    ``gt_poly`` is left alone."""

    num_max_boxes: int = attrs.field(default=50, validator=_positive)

    def __call__(self, sample, rng):
        n = self.num_max_boxes
        for key, dtype in _BOX_FIELDS:
            if key not in sample:
                continue
            values = as_boxes(sample[key]) if key == "gt_bbox" else np.asarray(sample[key], dtype).reshape(-1)
            padded = np.zeros((n, *values.shape[1:]), dtype)
            padded[:min(n, len(values))] = values[:n]
            sample[key] = padded
        return sample
