"""Conventions chosen from where weights come from.

The zoo's per-variable ``.tar`` archives were trained by Paddle 1.x code (PaddleDetection
0.x, PaddleX 1.x, PaddleSeg's legacy trainer), whose networks compute some things
differently from the later suites that pxcore's defaults follow: R-CNN's +1 pixel boxes,
rounded anchors and unaligned RoIAlign; HRNet's corner-aligned fusions. The tensors load
either way, so only the network's build arguments can make the archive compute what it
was trained to. A zoo row names those arguments (``ZooEntry.legacy_args``, beside the
row in its plugin's ``zoo_rows.py``); ``create_model`` applies them when ``pretrained`` is
a Paddle 1.x per-variable layout, a ``.pdparams`` file keeps the preset's. An argument
the caller names wins, and whatever was built is what ``model.yml`` records
(``build_args``), so ``load_model`` and ``export`` rebuild the same network.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger("pxcore")


def legacy_args(entry, spec) -> dict[str, Any]:
    """The build arguments a Paddle 1.x archive of ``entry``'s row needs; without a row
    (a preset's own name), those its zoo rows agree on (none where they differ)."""
    if entry is not None:
        return dict(entry.legacy_args)
    from . import zoo

    found = [dict(e.legacy_args) for e in zoo.catalog() if e.model == spec.name]
    return found[0] if found and all(f == found[0] for f in found) else {}


def choose(entry, spec, layout: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments to build with for weights in ``layout`` (``pxcore.weights.PADDLE1``
    or ``PDPARAMS``): the row's legacy arguments for a Paddle 1.x layout, less those
    the caller gave in ``overrides``."""
    from .weights import PADDLE1

    if layout != PADDLE1:
        return {}
    chosen = {k: v for k, v in legacy_args(entry, spec).items() if k not in overrides}
    if chosen:
        logger.info("%s: Paddle 1.x weights: building with %s (what that code computed; "
                    "name an argument to override it)", spec.name,
                    ", ".join(f"{k}={v!r}" for k, v in chosen.items()))
    return chosen


def mismatches(entry, spec, layout: str, build_args: Mapping[str, Any]) -> dict[str, tuple]:
    """For weights loaded into a network already built (``model.train(pretrain_weights=...)``):
    {argument: (built, what the archive needs)} where they differ."""
    from .weights import PADDLE1

    if layout != PADDLE1:
        return {}
    built = {**spec.defaults, **build_args}
    return {k: (built.get(k, "the class default"), v)
            for k, v in legacy_args(entry, spec).items() if built.get(k) != v}
