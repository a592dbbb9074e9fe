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

import numpy as np

from ..data.images import ImageError, decode_image
from .limits import DEFAULT_LIMITS, BadImage, ImageLimits

_URL = re.compile(r"^\s*([a-z][a-z0-9+.-]*://|//|www\.)", re.IGNORECASE)
_DATA_URI = re.compile(r"^data:[^,;]*(;[^,;]*)*;base64,", re.IGNORECASE)
_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]*={0,2}$")


def decode_upload(data: bytes, source: str, limits: ImageLimits = DEFAULT_LIMITS) -> np.ndarray:
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


def decode_base64(text: object, source: str, limits: ImageLimits = DEFAULT_LIMITS) -> np.ndarray:
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
