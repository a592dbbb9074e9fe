"""Augmentations from PaddleSeg's training recipes (PaddleX 2.x's segmentation set).
They move ``label_map`` (and boxes, if any) through ``geometry`` like every other
geometric transform."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import cv2
import numpy as np

from ..errors import PxError
from .base import Transform
from .geometry import IGNORE_INDEX, crop_sample, pad_sample, resize_sample
from .image import _movable, _positive, _size_pair


@attrs.define
class ResizeStepScaling(Transform):
    """Scale by a factor drawn from ``min_scale_factor``..``max_scale_factor`` in steps of
    ``scale_step_size`` (0: any factor in the range)."""

    min_scale_factor: float = attrs.field(default=0.75, validator=_positive)
    max_scale_factor: float = attrs.field(default=1.25, validator=_positive)
    scale_step_size: float = 0.25

    def __attrs_post_init__(self):
        if self.min_scale_factor > self.max_scale_factor or self.scale_step_size < 0:
            raise PxError(f"ResizeStepScaling: need min_scale_factor <= max_scale_factor and "
                          f"scale_step_size >= 0, got {self.min_scale_factor}, "
                          f"{self.max_scale_factor}, {self.scale_step_size}")

    def __call__(self, sample, rng):
        h, w = _movable(self, sample).shape[:2]
        low, high, step = self.min_scale_factor, self.max_scale_factor, self.scale_step_size
        if low == high:
            scale = low
        elif step == 0:
            scale = rng.uniform(low, high)
        else:
            steps = np.linspace(low, high, int((high - low) / step + 1))
            scale = float(steps[int(rng.integers(len(steps)))])
        return resize_sample(sample, max(1, round(w * scale)), max(1, round(h * scale)), cv2.INTER_LINEAR)


@attrs.define
class RandomPaddingCrop(Transform):
    """Cut a random ``crop_size`` window (an int or [width, height]); an image smaller
    than that is first padded right and bottom (image ``im_padding_value``, labels
    ``label_padding_value``), so every sample comes out the same size."""

    crop_size: Any = attrs.field(default=512, validator=_positive)
    im_padding_value: Sequence[float] = attrs.field(default=(127.5, 127.5, 127.5), converter=tuple)
    label_padding_value: int = IGNORE_INDEX

    def __call__(self, sample, rng):
        h, w = _movable(self, sample).shape[:2]
        ch, cw = _size_pair(self.crop_size)
        if h < ch or w < cw:
            pad_sample(sample, max(h, ch), max(w, cw), 0, 0, self.im_padding_value,
                       self.label_padding_value)
            h, w = sample["image"].shape[:2]
        if (h, w) == (ch, cw):
            return sample
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        return crop_sample(sample, x, y, cw, ch)


@attrs.define
class RandomBlur(Transform):
    """With probability ``prob``, Gaussian-blur the image with an odd kernel of 3 to 9
    pixels (labels untouched)."""

    prob: float = 0.1

    def __call__(self, sample, rng):
        if rng.random() < self.prob:
            size = int(rng.integers(3, 10)) | 1  # odd: 3, 5, 7 or 9
            sample["image"] = cv2.GaussianBlur(sample["image"], (size, size), 0, 0)
        return sample
