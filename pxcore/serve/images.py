"""Images a client sends, as the RGB arrays ``Predictor.predict`` takes: the bytes of an
uploaded file (multipart/form-data) or a base64 string in JSON (plain, or a ``data:``
URI). Anything else is a ``BadImage`` naming the image and the problem, which the app
answers with 400. URLs are refused, never fetched: the server reaches out to nothing a
client names.

Size limits: a small file can hold a huge image (a 20000x20000 PNG of one colour is a
few hundred KB and 1.2 GB decoded), and a thin strip becomes one when pre-processing
scales its short side up (1x2000 pixels to 256x512000 is 393 MB). ``ImageLimits`` refuses
both with 400. ``px serve`` also hands the pixel limit to OpenCV before it is loaded
(OPENCV_IO_MAX_IMAGE_PIXELS), so that such a file is refused from its header, before its
pixels are allocated."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

import numpy as np

from ..data.images import ImageError, decode_image

_URL = re.compile(r"^\s*([a-z][a-z0-9+.-]*://|//|www\.)", re.IGNORECASE)
_DATA_URI = re.compile(r"^data:[^,;]*(;[^,;]*)*;base64,", re.IGNORECASE)
_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]*={0,2}$")


class BadImage(ValueError):
    """An image the server cannot use; the message names it and says what is wrong."""


@dataclass(frozen=True)
class ImageLimits:
    """The largest image a client may send (``px serve --max-image-pixels`` and
    ``--max-aspect-ratio``)."""

    max_pixels: int = 64_000_000  # an 8000x8000 photo
    max_aspect_ratio: float = 50.0  # a 1x50 strip scaled to a short side of 256 is 10 MB

    def check(self, image: np.ndarray, source: str) -> np.ndarray:
        height, width = image.shape[:2]
        if height * width > self.max_pixels:
            raise BadImage(f"{source} is {width}x{height} pixels, more than this server takes "
                           f"({self.max_pixels:,}); send a smaller image (or start px serve "
                           "with a larger --max-image-pixels)")
        if max(height, width) > self.max_aspect_ratio * min(height, width):
            raise BadImage(f"{source} is {width}x{height} pixels, longer than "
                           f"{self.max_aspect_ratio:g} times its width; crop it (or start px "
                           "serve with a larger --max-aspect-ratio)")
        return image


def decode_upload(data: bytes, source: str, limits: ImageLimits = ImageLimits()) -> np.ndarray:
    """An uploaded file's bytes as HxWx3 uint8 RGB, the pixels ``Predictor.predict``
    reads from the same file on disk."""
    try:
        image = decode_image(data, source)
    except ImageError as exc:
        if "CV_IO_MAX_IMAGE_PIXELS" in str(exc):  # OpenCV refused it from its header
            raise BadImage(f"{source} holds more than {limits.max_pixels:,} pixels, more than "
                           "this server takes; send a smaller image (or start px serve with a "
                           "larger --max-image-pixels)") from None
        raise BadImage(str(exc)) from None
    return limits.check(image, source)


def decode_base64(text: object, source: str, limits: ImageLimits = ImageLimits()) -> np.ndarray:
    """A JSON string holding an image file as base64 (or a ``data:image/...;base64,``
    URI) as HxWx3 uint8 RGB."""
    if not isinstance(text, str):
        raise BadImage(f"{source} is a JSON {type(text).__name__}; send the image file's bytes "
                       "as a base64 string")
    if _URL.match(text):
        raise BadImage(f"{source} looks like a URL ({text[:60]!r}); the server never fetches URLs: "
                       "send the image file's bytes, base64-encoded, or upload it as multipart/form-data")
    body = _DATA_URI.sub("", text, count=1)
    body = "".join(body.split())  # line breaks of MIME-style base64
    if not _BASE64.match(body):
        raise BadImage(f"{source} is not base64 image data (it holds characters base64 does not "
                       "use); send the image file's bytes, base64-encoded")
    try:
        data = base64.b64decode(body + "=" * (-len(body) % 4),
                                altchars=b"-_" if ("-" in body or "_" in body) else None, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadImage(f"{source} is not valid base64 ({exc})") from None
    return decode_upload(data, source, limits)
