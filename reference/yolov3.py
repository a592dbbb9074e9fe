"""YOLOv3 and PP-YOLO rows against PaddleDetection 2.6's modules: the row's backbone,
``YOLOv3FPN`` / ``PPYOLOFPN`` and ``YOLOv3Head`` held as ``architectures/yolo.py`` holds
them, with random weights (batch-norm statistics calibrated) by key, against pxcore's
model by key and through ``weight_aliases()`` (the 2.x names). The raw head maps are
compared: box decoding and NMS are pxcore's own numpy code, checked by its tests.

The network code is plugins/yolov3/tools/make_layouts.py's (``ROWS``, ``build``), run
in a fresh process because it stubs PaddleDetection's packages its own way. PP-YOLO's
CoordConv runs -1..-0.5 in 2.6 (``PADDLEDETECTION_COORD_RANGE``); the check sets
pxcore's accordingly (the 0.x range, pxcore's default, is checked by the layout tool).
"""

from __future__ import annotations

from .tools import run_in_child, tool


def networks() -> dict:
    """Zoo row model -> the tool's ``Row`` (the backbone file and arguments)."""
    return tool("yolov3").ROWS


def _build(model: str, ppdet_root: str) -> dict:
    make_layouts = tool("yolov3")
    return make_layouts.build(model, make_layouts.ROWS[model], ppdet_root)


def check(model: str) -> dict[str, float]:
    """Largest relative difference over the three raw head maps: pxcore by key, and
    through ``weight_aliases()``, against PaddleDetection 2.6."""
    from . import require

    built = run_in_child(_build, model, str(require("paddledet")))
    expected = built["expected_26"]
    assert len(built["ours_26"]) == len(expected) == 3, "YOLOv3 has three output maps"
    gap = tool("yolov3")._gap  # the largest relative_difference over the maps
    return {how: gap(built[key], expected) for how, key in (("by key", "ours_26"), ("by 2.x name", "by_26_alias"))}
