"""Moved to ``pxcore.inference.shapes`` (the paddle-free inference layer). This name stays
for runtime plugins written against it, and is that module itself, not a copy."""

import sys

from ..inference import shapes as _moved

sys.modules[__name__] = _moved
