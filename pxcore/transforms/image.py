"""Image transforms (PaddleX 2.x's set), on sample dicts.

Geometric transforms move everything a sample carries with the pixels (``gt_bbox``,
``gt_poly``, ``label_map``; see ``geometry``), so classification, detection and
segmentation share one set. ``gt_mask`` (dense instance masks) is not moved by any of
them and is refused rather than silently misaligned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs
import cv2
import numpy as np

from ..errors import PxError
from .base import Transform, optional
from .geometry import (
    IGNORE_INDEX,
    affine_polys,
    as_boxes,
    box_iou,
    clip_boxes,
    crop_sample,
    flip_sample,
    pad_sample,
    polys_to_boxes,
    resize_sample,
)

INTERPOLATIONS = {
    "NEAREST": cv2.INTER_NEAREST,
    "LINEAR": cv2.INTER_LINEAR,
    "CUBIC": cv2.INTER_CUBIC,
    "AREA": cv2.INTER_AREA,
    "LANCZOS4": cv2.INTER_LANCZOS4,
}
_UNMOVED_KEYS = ("gt_mask",)


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
    if not values or not all(isinstance(v, int | float) and v > 0 for v in values):
        raise PxError(f"{type(instance).__name__}: {attribute.name} must be positive, got {value!r}")


def _positive_or_none(instance, attribute, value):
    if value is not None:
        _positive(instance, attribute, value)


def _tuple(value):
    return None if value is None else tuple(value)


def _movable(transform: Transform, sample: dict[str, Any]) -> np.ndarray:
    """The image, once sure nothing the sample carries would be left behind."""
    unmoved = [k for k in _UNMOVED_KEYS if k in sample]
    if unmoved:
        raise PxError(f"{type(transform).__name__} does not move {', '.join(unmoved)} with the "
                      "image; carry instance masks as gt_poly polygons instead")
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
        h, w = _movable(self, sample).shape[:2]
        scale = self.short_size / min(h, w)
        if self.max_size > 0 and round(max(h, w) * scale) > self.max_size:
            scale = self.max_size / max(h, w)
        return resize_sample(sample, max(1, round(w * scale)), max(1, round(h * scale)),
                             _interp(self.interp, rng))


@attrs.define
class ResizeByLong(Transform):
    """Scale so the long side is ``long_size`` (keeps the aspect ratio)."""

    long_size: int = attrs.field(default=256, validator=_positive)
    interp: str = attrs.field(default="LINEAR", validator=_check_interp)

    def __call__(self, sample, rng):
        h, w = _movable(self, sample).shape[:2]
        scale = self.long_size / max(h, w)
        return resize_sample(sample, max(1, round(w * scale)), max(1, round(h * scale)),
                             _interp(self.interp, rng))


@attrs.define
class Resize(Transform):
    """Resize to ``target_size`` (an int, or [width, height]). With ``keep_ratio`` the
    image is scaled by one factor to fit inside it instead of being stretched."""

    target_size: Any = attrs.field(default=224, validator=_positive)
    interp: str = attrs.field(default="LINEAR", validator=_check_interp)
    keep_ratio: bool = optional(False)

    def __call__(self, sample, rng):
        h, w = _movable(self, sample).shape[:2]
        height, width = _size_pair(self.target_size)
        if self.keep_ratio:
            scale = min(height / h, width / w)
            height, width = max(1, round(h * scale)), max(1, round(w * scale))
        return resize_sample(sample, width, height, _interp(self.interp, rng))


@attrs.define
class RandomCrop(Transform):
    """Two crops under one name, as in PaddleX 2.x, chosen by what the sample carries.

    Without ``gt_bbox`` (classification, segmentation): crop a random area
    (``lower_scale`` to 1 of the image) with a random aspect ratio (``lower_ratio`` to
    ``upper_ratio``), then resize it to ``crop_size``.

    With ``gt_bbox`` (detection): SSD's IoU-constrained crop. A threshold is drawn from
    ``thresholds`` (plus "no crop" when ``allow_no_crop``); up to ``num_attempts``
    crops of relative size ``scaling`` and aspect ``aspect_ratio`` are tried until one
    overlaps some box (every box with ``cover_all_box``) by at least that IoU and holds
    a box centre. Boxes whose centre falls outside the crop are dropped, the rest
    clipped. Detection configs pass ``crop_size=None`` (no resize after the crop).
    """

    crop_size: int | None = attrs.field(default=224, validator=_positive_or_none)
    lower_scale: float = 0.08
    lower_ratio: float = 3.0 / 4
    upper_ratio: float = 4.0 / 3
    interp: str = attrs.field(default="LINEAR", validator=_check_interp)
    aspect_ratio: Sequence[float] | None = optional((0.5, 2.0), converter=_tuple)
    thresholds: Sequence[float] = optional((0.0, 0.1, 0.3, 0.5, 0.7, 0.9), converter=tuple)
    scaling: Sequence[float] = optional((0.3, 1.0), converter=tuple)
    num_attempts: int = optional(50)
    allow_no_crop: bool = optional(True)
    cover_all_box: bool = optional(False)

    def __call__(self, sample, rng):
        image = _movable(self, sample)
        if "gt_bbox" in sample:
            return self._crop_detection(sample, rng)
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
        crop_sample(sample, x, y, cw, ch)
        if self.crop_size is None:
            return sample
        return resize_sample(sample, self.crop_size, self.crop_size, _interp(self.interp, rng))

    def _crop_detection(self, sample, rng):
        h, w = sample["image"].shape[:2]
        boxes = as_boxes(sample["gt_bbox"])
        found, keep = None, None
        if len(boxes) == 0:
            for _ in range(self.num_attempts):
                found = self._crop_box(h, w, rng)
                if found is not None:
                    break
        else:
            choices = [*self.thresholds, *([None] if self.allow_no_crop else [])]
            centres = (boxes[:, :2] + boxes[:, 2:]) / 2
            for choice in rng.permutation(len(choices)):
                thresh = choices[choice]
                if thresh is None:  # "no crop" drawn
                    break
                for _ in range(self.num_attempts):
                    box = self._crop_box(h, w, rng)
                    if box is None:
                        continue
                    iou = box_iou(boxes, [box])[:, 0]
                    if iou.max() < thresh or (self.cover_all_box and iou.min() < thresh):
                        continue
                    inside = ((centres >= box[:2]) & (centres < box[2:])).all(axis=1)
                    if inside.any():
                        found, keep = box, inside
                        break
                if found is not None:
                    break
        if found is not None:
            x1, y1, x2, y2 = found
            crop_sample(sample, x1, y1, x2 - x1, y2 - y1, keep)
        if self.crop_size is None:
            return sample
        return resize_sample(sample, self.crop_size, self.crop_size, _interp(self.interp, rng))

    def _crop_box(self, h, w, rng) -> np.ndarray | None:
        scale = rng.uniform(*self.scaling)
        if self.aspect_ratio is not None:
            low, high = self.aspect_ratio
            ratio = rng.uniform(max(low, scale ** 2), min(high, scale ** -2))
            h_scale, w_scale = scale / math.sqrt(ratio), scale * math.sqrt(ratio)
        else:
            h_scale, w_scale = rng.uniform(*self.scaling), rng.uniform(*self.scaling)
        ch, cw = int(h * min(h_scale, 1.0)), int(w * min(w_scale, 1.0))
        if ch < 1 or cw < 1 or (self.aspect_ratio is None and not 0.5 <= ch / cw <= 2.0):
            return None
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        return np.array([x, y, x + cw, y + ch])


@attrs.define
class CenterCrop(Transform):
    """Cut the centre ``crop_size`` square (the image must be at least that large)."""

    crop_size: int = attrs.field(default=224, validator=_positive)

    def __call__(self, sample, rng):
        h, w = _movable(self, sample).shape[:2]
        if h < self.crop_size or w < self.crop_size:
            raise PxError(f"CenterCrop({self.crop_size}) got a {w}x{h} image; resize it first "
                          f"(e.g. ResizeByShort(short_size={self.crop_size}))")
        y, x = (h - self.crop_size) // 2, (w - self.crop_size) // 2
        return crop_sample(sample, x, y, self.crop_size, self.crop_size)


class _RandomFlip(Transform):
    """Mirror along ``axis`` (1: left-right, 0: up-down) with probability ``prob``."""

    axis: int

    def __call__(self, sample, rng):
        _movable(self, sample)
        if rng.random() < self.prob:
            flip_sample(sample, self.axis)
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
    whole image (the canvas grows; new corners are black, new label pixels 255).

    Boxes do not survive rotation (the box of a rotated box is looser than the
    object's), so detection samples need ``gt_poly``: the polygons are rotated and the
    boxes recomputed from them; a sample with boxes but no polygons is refused."""

    rotate_range: float = 30.0
    prob: float = 0.5

    def __call__(self, sample, rng):
        image = _movable(self, sample)
        if "gt_bbox" in sample and "gt_poly" not in sample:
            raise PxError("RandomRotate does not move gt_bbox without gt_poly: a rotated box "
                          "no longer fits its object. Drop RandomRotate from detection "
                          "transforms, or load polygons (gt_poly) to rotate instead")
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
        if "label_map" in sample:
            sample["label_map"] = cv2.warpAffine(
                np.ascontiguousarray(sample["label_map"]), matrix, (nw, nh), flags=cv2.INTER_NEAREST,
                borderMode=cv2.BORDER_CONSTANT, borderValue=IGNORE_INDEX)
        if "gt_poly" in sample:
            sample["gt_poly"] = affine_polys(sample["gt_poly"], matrix)
            if "gt_bbox" in sample:
                sample["gt_bbox"] = clip_boxes(polys_to_boxes(sample["gt_poly"]), nh, nw)
        if "im_shape" in sample:
            sample["im_shape"] = np.array([nh, nw], np.float32)
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

    def coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel float32 ``scale`` and ``shift``: the result is ``x * scale - shift``
        (``pxcore.inference.fused`` tabulates the same two operations per uint8 value)."""
        scale = 1.0 / (255.0 if self.is_scale else 1.0) / np.array(self.std, np.float32)
        shift = np.array(self.mean, np.float32) / np.array(self.std, np.float32)
        return scale, shift

    def __call__(self, sample, rng):
        # (x / 255 - mean) / std as one multiply and one subtract, in float32.
        scale, shift = self.coefficients()
        image = np.multiply(sample["image"], scale, dtype=np.float32)
        image -= shift
        sample["image"] = image
        return sample


@attrs.define
class Padding(Transform):
    """Pad to a multiple of ``coarsest_stride`` (networks that halve the size five times
    need 32), or to ``target_size`` (an int or [width, height]) when given.

    ``pad_mode`` 0 pads right and bottom, 1 around the centre, 2 left and top. Mode 0
    keeps ``im_shape`` (the real image stays at the origin, so post-processing still
    clips predictions to it); the others set it to the padded size."""

    coarsest_stride: int = 32
    target_size: Any = attrs.field(default=None, validator=_positive_or_none)
    pad_mode: int = 0
    im_padding_value: Sequence[float] = attrs.field(default=(127.5, 127.5, 127.5), converter=tuple)
    label_padding_value: int = IGNORE_INDEX

    def __attrs_post_init__(self):
        if self.pad_mode not in (0, 1, 2):
            raise PxError(f"Padding: pad_mode {self.pad_mode!r} is not one of 0 (right and bottom), "
                          "1 (centre), 2 (left and top)")

    def __call__(self, sample, rng):
        h, w = _movable(self, sample).shape[:2]
        if self.target_size is not None:
            th, tw = _size_pair(self.target_size)
            if th < h or tw < w:
                raise PxError(f"Padding(target_size={self.target_size}) got a {w}x{h} image, larger "
                              "than the target; resize it first (e.g. Resize(keep_ratio=True)) or "
                              "raise target_size")
        else:
            stride = max(1, int(self.coarsest_stride))
            th, tw = -(-h // stride) * stride, -(-w // stride) * stride
        if (th, tw) == (h, w):
            return sample
        x, y = {0: (0, 0), 1: ((tw - w) // 2, (th - h) // 2), 2: (tw - w, th - h)}[self.pad_mode]
        return pad_sample(sample, th, tw, x, y, self.im_padding_value, self.label_padding_value,
                          update_im_shape=self.pad_mode != 0)


CLASSIFICATION_TRANSFORMS = (ResizeByShort, Resize, RandomCrop, CenterCrop, RandomHorizontalFlip,
                             RandomVerticalFlip, RandomRotate, RandomDistort, Normalize)
