"""Reading images into RGB uint8 arrays, with errors that name the file and the fix.

Whatever the file or array holds, callers get an HxWx3 uint8 RGB array: grayscale is
repeated to three channels, an alpha channel is dropped, 16-bit images are scaled to
8 bits, and EXIF orientation is applied.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..errors import PxError

_IMREAD_RGB = getattr(cv2, "IMREAD_COLOR_RGB", 0)  # OpenCV 4.10+


class ImageError(PxError):
    """An image that is missing, unreadable or of an unusable kind."""


def to_rgb_uint8(image: np.ndarray, source: str = "image", bgr: bool = True) -> np.ndarray:
    """Any decoded array (gray, BGR(A), 16-bit, float in [0, 1]) as HxWx3 uint8 RGB."""
    image = np.asarray(image)
    if image.dtype == np.uint16:
        image = (image / 257.0).round().astype(np.uint8)
    elif image.dtype.kind == "f":
        image = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ImageError(f"{source}: pixel type {image.dtype} is not supported; use 8- or 16-bit images")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or min(image.shape[:2]) < 1:
        raise ImageError(f"{source}: shape {image.shape} is not an image (height x width x 1, 3 or 4)")
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    if image.shape[2] == 4:
        image = image[:, :, :3]
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if bgr else np.ascontiguousarray(image)


def _is(check) -> bool:
    """``path.is_file()`` or ``path.exists()``, False for a name the system refuses (too
    long, say), for which pathlib raises."""
    try:
        return check()
    except OSError:
        return False


def read_image(path: str | os.PathLike) -> np.ndarray:
    """The image at ``path`` as HxWx3 uint8 RGB."""
    path = Path(path)
    if not _is(path.is_file):  # not a device or pipe either: reading one might never end
        raise ImageError(f"image {str(path)!r} does not exist" if not _is(path.exists)
                         else f"{str(path)!r} is not a file")
    try:
        data = np.fromfile(str(path), dtype=np.uint8)  # also works for non-ASCII paths
    except OSError as exc:
        raise ImageError(f"image {str(path)!r} cannot be read ({exc})") from None
    return decode_image(data, f"image {str(path)!r}")


def decode_image(data: bytes | np.ndarray, source: str = "image") -> np.ndarray:
    """An encoded image file's bytes (what ``read_image`` reads from disk, or an upload)
    as HxWx3 uint8 RGB, with the same pixels ``read_image`` gives for that file; ``source``
    names it in errors."""
    data = np.frombuffer(data, np.uint8) if isinstance(data, bytes | bytearray | memoryview) else data
    if data.size == 0:
        raise ImageError(f"{source} is empty (0 bytes)")
    # IMREAD_COLOR gives 3-channel 8-bit colour whatever the file holds (gray, alpha,
    # 16-bit) and applies EXIF orientation, so a phone photo is upright as viewers show it.
    # OpenCV 4.10+ decodes straight to RGB, saving a pass over the image.
    try:
        image = cv2.imdecode(data, _IMREAD_RGB or cv2.IMREAD_COLOR)
    except cv2.error as exc:  # e.g. a header claiming more pixels than OpenCV allows
        raise ImageError(f"{source} cannot be decoded: {str(exc).strip()}") from None
    if image is None:
        raise ImageError(f"{source} cannot be decoded: it is corrupt, truncated, or "
                         "not an image format OpenCV reads (JPEG, PNG, BMP, TIFF, WebP)")
    return image if _IMREAD_RGB else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def load_image(image, source: str = "image") -> np.ndarray:
    """A path, or an array the caller already has (taken as RGB), as HxWx3 uint8 RGB."""
    if isinstance(image, str | os.PathLike):
        return read_image(image)
    if isinstance(image, np.ndarray):
        return to_rgb_uint8(image, source, bgr=False)
    raise ImageError(f"{source}: expected an image path or a numpy array, got {type(image).__name__}")


def image_list(images) -> tuple[list, bool]:
    """What ``predict`` takes: one image (a path or an array) or a list of them, as a
    list, and whether one was given (so the caller returns one result, not a list)."""
    single = isinstance(images, str | os.PathLike | np.ndarray)
    images = [images] if single else list(images)
    if not images:
        raise ImageError("predict() got an empty list of images")
    return images, single


def check_batch_size(batch_size) -> int:
    """``predict``'s ``batch_size`` (images the network runs at once) as an int, or a
    PxError saying what it must be."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise PxError(f"batch_size must be a positive whole number of images, got {batch_size!r}")
    return int(batch_size)
