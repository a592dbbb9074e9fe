"""What a client may send: the error for an unusable image and the size limits
(``px serve --max-image-pixels``, ``--max-aspect-ratio``). Apart from pxcore.serve.images
so that the CLI can read the defaults without loading OpenCV (it hands OpenCV the pixel
limit before OpenCV loads)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


DEFAULT_LIMITS = ImageLimits()
