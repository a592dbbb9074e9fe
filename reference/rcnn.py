"""Faster and Mask R-CNN rows against PaddleDetection 2.6's modules: backbone, FPN /
HRFPN and RPN head on an image (every level's features, objectness and deltas), the box
head and predictor on given RoI features (class scores, box deltas), the mask head
likewise (mask logits), held as ``architectures/faster_rcnn.py`` / ``mask_rcnn.py`` hold
them, with random weights (batch norms calibrated) by key; pxcore's model by its keys
and through ``weight_aliases()`` (the 2.x names). Anchors, RoIAlign and box decoding are
pxcore's own code, checked by its tests; the 0.x / PaddleX 1.x archives' conventions are
issue 23 item 1's checks (plugins/rcnn/tests).

The network code is plugins/rcnn/tools/make_layouts.py's (``ROWS``, ``build``), run in a
fresh process because it stubs PaddleDetection's packages its own way.

One row cannot hold against 2.6 as published: FasterRCNN-ResNet50_vd, whose 2.6
``Res5Head`` builds stage 5 as variant b (res5a's shortcut a stride-2 1x1 conv, where
the archive's network and pxcore average-pool first). The tool then makes that one
shortcut alike for the comparison, and states the difference as published in a note,
which ``check`` returns.
"""

from __future__ import annotations

import re

from .harness import relative_difference
from .tools import run_in_child, tool

# Zoo rows whose network differs from PaddleDetection 2.6's as published (see above).
RES5_VARIANT_B = ("FasterRCNN-ResNet50_vd",)


def networks() -> dict:
    """Zoo row model -> the tool's ``Row``."""
    return tool("rcnn").ROWS


def _build(model: str, ppdet_root: str) -> dict:
    make_layouts = tool("rcnn")
    built = make_layouts.build(model, make_layouts.ROWS[model], ppdet_root)
    return {k: built[k] for k in ("ours_26", "expected_26", "by_26_alias", "notes")}


def _worst(outputs: dict, expected: dict) -> float:
    assert outputs.keys() == expected.keys(), (
        f"pxcore's outputs {sorted(outputs)} are not the reference's {sorted(expected)}")
    return max(relative_difference(outputs[k], expected[k]) for k in expected)


def check(model: str) -> dict[str, float]:
    """The largest relative difference over the outputs (each relative to its own
    largest value): pxcore by key, and through the 2.x names, against 2.6; and for the
    rows of ``RES5_VARIANT_B``, ``as published``: with 2.6's stage 5 as it is."""
    from . import require

    built = run_in_child(_build, model, str(require("paddledet")))
    differences = {"by key": _worst(built["ours_26"], built["expected_26"]),
                   "by 2.x name": _worst(built["by_26_alias"], built["expected_26"])}
    published = [re.search(r"here up to ([0-9.e+-]+) in the box head", n) for n in built["notes"]]
    published = [float(m.group(1)) for m in published if m]
    if model in RES5_VARIANT_B:
        assert len(published) == 1, f"{model}: the tool no longer measures 2.6's Res5Head: {built['notes']}"
        differences["as published"] = published[0]
    else:
        assert not published, f"{model}: the tool found a Res5Head difference: {built['notes']}"
    return differences
