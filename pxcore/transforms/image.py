"""Image transforms (PaddleX's classification set), on sample dicts.

Geometric transforms here move the image only; a sample that also carries boxes or
pixel labels is refused rather than silently misaligned (the detection and
segmentation issues extend them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs
import cv2
import numpy as np

from ..errors import PxError
from .base import Transform

INTERPOLATIONS = {
    "NEAREST": cv2.INTER_NEAREST,
    "LINEAR": cv2.INTER_LINEAR,
    "CUBIC": cv2.INTER_CUBIC,
    "AREA": cv2.INTER_AREA,
    "LANCZOS4": cv2.INTER_LANCZOS4,
}
_ALIGNED_KEYS = ("gt_bbox", "gt_poly", "gt_mask", "label_map")


def _interp(name: str, rng: np.random.Generator) -> int:
    if name == "RANDOM":
        return list(INTERPOLATIONS.values())[int(rng.integers(len(INTERPOLATIONS)))]
    return INTERPOLATIONS[name]


def _check_interp(instance, attribute, value):
    if value not in INTERPOLATIONS and value != "RANDOM":
        raise PxError(f"{type(instance).__name__}: interp {value!r} is not one of "
                      f"{', '.join([*INTERPOLATIONS, 'RANDOM'])}")


def _positive(instance, attribute, value):
    values = value if isinstance(value, Sequence) else [value]
    if not all(isinstance(v, int | float) and v > 0 for v in values):
        raise PxError(f"{type(instance).__name__}: {attribute.name} must be positive, got {value!r}")


def _image_only(transform: Transform, sample: dict[str, Any]) -> np.ndarray:
    aligned = [k for k in _ALIGNED_KEYS if k in sample]
    if aligned:
        raise PxError(f"{type(transform).__name__} does not move {', '.join(aligned)} with the "
                      "image; use the transforms of the detection or segmentation task")
    return sample["image"]


def _size_pair(size) -> tuple[int, int]:
    """(height, width) from an int or a [width, height] pair, PaddleX's order."""
    if isinstance(size, int | float):
        return int(size), int(size)
    width, height = size
    return int(height), int(width)


@attrs.define
class ResizeByShort(Transform):
    """Scale so the short side is ``short_size``, the long side at most ``max_size``."""

    short_size: int = attrs.field(default=256, validator=_positive)
    max_size: int = -1
    interp: str = attrs.field(default="LINEAR", validator=_check_interp)

    def __call__(self, sample, rng):
        image = _image_only(self, sample)
        h, w = image.shape[:2]
        scale = self.short_size / min(h, w)
        if self.max_size > 0 and round(max(h, w) * scale) > self.max_size:
            scale = self.max_size / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        sample["image"] = cv2.resize(image, size, interpolation=_interp(self.interp, rng))
        return sample


@attrs.define
class Resize(Transform):
    """Resize to ``target_size`` (an int, or [width, height])."""

    target_size: Any = attrs.field(default=224, validator=_positive)
    interp: str = attrs.field(default="LINEAR", validator=_check_interp)

    def __call__(self, sample, rng):
        image = _image_only(self, sample)
        height, width = _size_pair(self.target_size)
        sample["image"] = cv2.resize(image, (width, height), interpolation=_interp(self.interp, rng))
        return sample


@attrs.define
class RandomCrop(Transform):
    """Crop a random area (``lower_scale`` to 1 of the image) with a random aspect ratio
    (``lower_ratio`` to ``upper_ratio``), then resize it to ``crop_size``."""

    crop_size: int = attrs.field(default=224, validator=_positive)
    lower_scale: float = 0.08
    lower_ratio: float = 3.0 / 4
    upper_ratio: float = 4.0 / 3
    interp: str = attrs.field(default="LINEAR", validator=_check_interp)

    def __call__(self, sample, rng):
        image = _image_only(self, sample)
        h, w = image.shape[:2]
        area = h * w
        for _ in range(10):
            target = area * rng.uniform(self.lower_scale, 1.0)
            ratio = math.exp(rng.uniform(math.log(self.lower_ratio), math.log(self.upper_ratio)))
            cw, ch = round(math.sqrt(target * ratio)), round(math.sqrt(target / ratio))
            if 0 < cw <= w and 0 < ch <= h:
                x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
                break
        else:  # fall back to the largest centred crop
            cw = ch = min(h, w)
            x, y = (w - cw) // 2, (h - ch) // 2
        crop = image[y:y + ch, x:x + cw]
        size = (self.crop_size, self.crop_size)
        sample["image"] = cv2.resize(crop, size, interpolation=_interp(self.interp, rng))
        return sample


@attrs.define
class CenterCrop(Transform):
    """Cut the centre ``crop_size`` square (the image must be at least that large)."""

    crop_size: int = attrs.field(default=224, validator=_positive)

    def __call__(self, sample, rng):
        image = _image_only(self, sample)
        h, w = image.shape[:2]
        if h < self.crop_size or w < self.crop_size:
            raise PxError(f"CenterCrop({self.crop_size}) got a {w}x{h} image; resize it first "
                          f"(e.g. ResizeByShort(short_size={self.crop_size}))")
        y, x = (h - self.crop_size) // 2, (w - self.crop_size) // 2
        sample["image"] = image[y:y + self.crop_size, x:x + self.crop_size]
        return sample


class _RandomFlip(Transform):
    """Mirror along ``axis`` (1: left-right, 0: up-down) with probability ``prob``."""

    axis: int

    def __call__(self, sample, rng):
        image = _image_only(self, sample)
        if rng.random() < self.prob:
            sample["image"] = image[:, ::-1] if self.axis == 1 else image[::-1]
        return sample


@attrs.define
class RandomHorizontalFlip(_RandomFlip):
    prob: float = 0.5
    axis = 1


@attrs.define
class RandomVerticalFlip(_RandomFlip):
    prob: float = 0.5
    axis = 0


@attrs.define
class RandomRotate(Transform):
    """Rotate by an angle drawn from [-rotate_range, rotate_range] degrees, keeping the
    whole image (the canvas grows; new corners are black)."""

    rotate_range: float = 30.0
    prob: float = 0.5

    def __call__(self, sample, rng):
        image = _image_only(self, sample)
        if rng.random() >= self.prob:
            return sample
        angle = rng.uniform(-self.rotate_range, self.rotate_range)
        h, w = image.shape[:2]
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
        nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
        matrix[0, 2] += nw / 2 - w / 2
        matrix[1, 2] += nh / 2 - h / 2
        sample["image"] = cv2.warpAffine(image, matrix, (nw, nh), flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        return sample


@attrs.define
class RandomDistort(Transform):
    """Random brightness, contrast, saturation and hue, each with its probability, in a
    random order. Ranges are relative (brightness 0.9: a factor in [0.1, 1.9]); hue is
    in degrees."""

    brightness_range: float = 0.9
    brightness_prob: float = 0.5
    contrast_range: float = 0.9
    contrast_prob: float = 0.5
    saturation_range: float = 0.9
    saturation_prob: float = 0.5
    hue_range: float = 18.0
    hue_prob: float = 0.5

    def __call__(self, sample, rng):
        image = sample["image"].astype(np.float32)
        steps = [self._brightness, self._contrast, self._saturation, self._hue]
        for index in rng.permutation(len(steps)):
            image = steps[index](image, rng)
        sample["image"] = np.clip(image, 0, 255).astype(np.uint8)
        return sample

    def _brightness(self, image, rng):
        if rng.random() < self.brightness_prob:
            image = image * rng.uniform(1 - self.brightness_range, 1 + self.brightness_range)
        return image

    def _contrast(self, image, rng):
        if rng.random() < self.contrast_prob:
            mean = image.mean()
            image = (image - mean) * rng.uniform(1 - self.contrast_range, 1 + self.contrast_range) + mean
        return image

    def _saturation(self, image, rng):
        if rng.random() < self.saturation_prob:
            gray = image @ np.array([0.299, 0.587, 0.114], np.float32)
            factor = rng.uniform(1 - self.saturation_range, 1 + self.saturation_range)
            image = (image - gray[..., None]) * factor + gray[..., None]
        return image

    def _hue(self, image, rng):
        if rng.random() < self.hue_prob:
            hsv = cv2.cvtColor(np.clip(image, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV)
            shift = rng.uniform(-self.hue_range, self.hue_range) / 2  # OpenCV hue is 0..179
            hsv[..., 0] = ((hsv[..., 0].astype(np.float32) + shift) % 180).astype(np.uint8)
            image = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float32)
        return image


@attrs.define
class Normalize(Transform):
    """Scale to [0, 1] (``is_scale``), subtract ``mean`` and divide by ``std`` per channel.
    The image becomes float32."""

    mean: Sequence[float] = (0.485, 0.456, 0.406)
    std: Sequence[float] = (0.229, 0.224, 0.225)
    is_scale: bool = True

    def __attrs_post_init__(self):
        self.mean, self.std = tuple(float(m) for m in self.mean), tuple(float(s) for s in self.std)
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise PxError(f"Normalize: mean and std need 3 values with std > 0, got {self.mean}, {self.std}")

    def __call__(self, sample, rng):
        # (x / 255 - mean) / std as one multiply and one subtract, in float32.
        scale = 1.0 / (255.0 if self.is_scale else 1.0) / np.array(self.std, np.float32)
        shift = np.array(self.mean, np.float32) / np.array(self.std, np.float32)
        image = np.multiply(sample["image"], scale, dtype=np.float32)
        image -= shift
        sample["image"] = image
        return sample


CLASSIFICATION_TRANSFORMS = (ResizeByShort, Resize, RandomCrop, CenterCrop, RandomHorizontalFlip,
                             RandomVerticalFlip, RandomRotate, RandomDistort, Normalize)
