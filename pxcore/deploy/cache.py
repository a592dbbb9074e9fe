"""Moved to ``pxcore.inference.cache`` (the paddle-free inference layer). This name stays
for runtime plugins written against it, and is that module itself, not a copy."""

import sys

from ..inference import cache as _moved

sys.modules[__name__] = _moved
