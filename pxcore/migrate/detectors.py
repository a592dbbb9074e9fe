"""PaddleX 2.x's R-CNN and PP-YOLO detectors as pxcore's presets: ``v2_arguments``.

Read from PaddleX 2.1.0's ``paddlex/cv/models/detector.py``:

- ``FasterRCNN`` / ``MaskRCNN`` record their constructor's ``locals()`` as
  ``_init_params`` before they change anything, so a saved ``with_fpn=False`` is what
  the user passed, not what was built: PaddleX forces FPN for every backbone but
  ResNet50 (FasterRCNN: and ResNet50_vd), and leaves DCN out without FPN and on HRNet;
  loading the directory runs the constructor again, so the same forcing applies here.
- C4 (no FPN) feeds ``anchor_sizes`` to an anchor generator of one level, whose
  ``zip`` over levels keeps only the first entry of a per-level list: the default
  ``[[32], [64], [128], [256], [512]]`` gives 3 anchors per cell, not 15.
- C4's box head is ppdet's ``Res5Head``, stage 5 as ResNet variant b whatever the
  backbone; pxcore's C4 ResNet50_vd runs variant d there, so that pair is refused.
- ``PPYOLO`` on ResNet50_vd_dcn is PaddleDetection's ppyolo_r50vd_dcn (pxcore's PPYOLO
  preset); its CoordConv runs from -1 to -0.5 (``add_coord`` in ppdet's
  ``necks/yolo_fpn.py``: ``arange(w) / ((w - 1) * 2) - 1``). On its other backbones
  PaddleX builds a two-level neck without conv blocks (``conv_block_num=0``), which
  pxcore has no network for.

Arguments that shape only training (``rpn_fg_fraction``, ``use_iou_loss``'s loss) are
dropped or mapped to their training option; the rest become pxcore's build arguments
by name, and ``models.model_arguments`` refuses what is left over.
"""

from __future__ import annotations

from typing import Any

from ..errors import PxError
from .model_yml import PaddleXInfo

RCNN_CLASSES = ("FasterRCNN", "MaskRCNN")

# PaddleX 2.1's backbones -> (pxcore's zoo backbone name, whether PaddleX forces FPN)
RCNN_BACKBONES = {
    "FasterRCNN": {"ResNet50": ("ResNet50", False), "ResNet50_vd": ("ResNet50_vd", False),
                   "ResNet50_vd_ssld": ("ResNet50_vd", True), "ResNet101": ("ResNet101", True),
                   "ResNet101_vd": ("ResNet101_vd", True), "HRNet_W18": ("HRNet_W18", True)},
    "MaskRCNN": {"ResNet50": ("ResNet50", False), "ResNet50_vd": ("ResNet50_vd", True),
                 "ResNet50_vd_ssld": ("ResNet50_vd", True), "ResNet101": ("ResNet101", True),
                 "ResNet101_vd": ("ResNet101_vd", True)},
}

# PaddleX 2.x detector classes pxcore has no network for, and why.
V2_REFUSED = {
    "PPYOLOTiny": "PaddleDetection's PP-YOLO Tiny (MobileNetV3 with a depthwise PP-YOLO neck)",
    "PPYOLOv2": "PaddleDetection's PP-YOLOv2 (ResNet-DCN with a PAN neck and Mish)",
    "PicoDet": "PaddleDetection's PicoDet (ESNet/LCNet with a CSP-PAN neck and GFL head)",
}

# PaddleX 2.1's PPYOLO defaults for ResNet50_vd_dcn (its NMS defaults are YOLOv3's).
PPYOLO_BACKBONE = "ResNet50_vd_dcn"
PPYOLO_ZOO_BACKBONE = "ResNet50_vd_ssld"  # how pxcore's PPYOLO row names the same network
PADDLEDETECTION_COORD_RANGE = [-1.0, -0.5]  # equals pxcore_yolov3.layers' (a test checks)

SUPPORTED_V2 = ("FasterRCNN (" + ", ".join(RCNN_BACKBONES["FasterRCNN"])
                + "; C4 on ResNet50 only), MaskRCNN (" + ", ".join(RCNN_BACKBONES["MaskRCNN"])
                + f"), PPYOLO ({PPYOLO_BACKBONE})")


def v2_arguments(info: PaddleXInfo, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(selectors for ``pxcore.paddlex._select``, pxcore build arguments) for a PaddleX
    2.x detector other than YOLOv3; ``params`` is ``_init_params`` less num_classes."""
    where = f"{info.path}: PaddleX {info.version}'s {info.model}"
    if info.model in V2_REFUSED:
        raise PxError(f"{where} is {V2_REFUSED[info.model]}; pxcore has no network for it "
                      f"(PaddleX 2.x detectors taken besides YOLOv3: {SUPPORTED_V2})")
    if info.model in RCNN_CLASSES:
        return _rcnn(info.model, where, dict(params))
    if info.model == "PPYOLO":
        return _ppyolo(where, dict(params))
    raise PxError(f"{where} has no pxcore network (PaddleX 2.x detectors taken besides YOLOv3: {SUPPORTED_V2})")


def _per_level(value: list, levels: int, what: str, where: str) -> list:
    """PaddleX's ``_broadcast_params`` then ``zip`` over ``levels``: a flat list is every
    level's, a one-entry list of lists too, a longer one is per level (cut to ``levels``)."""
    if not isinstance(value[0], list | tuple):
        return [list(value)] * levels
    if len(value) == 1:
        return [list(value[0])] * levels
    if len(value) < levels:
        raise PxError(f"{where}: {what} has {len(value)} entries for {levels} levels")
    return [list(v) for v in value[:levels]]


def _rcnn(cls: str, where: str, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    backbone = params.pop("backbone", "ResNet50" if cls == "FasterRCNN" else "ResNet50_vd")
    if backbone not in RCNN_BACKBONES[cls]:
        raise PxError(f"{where} on {backbone!r} has no pxcore network; the backbones taken are "
                      f"{', '.join(RCNN_BACKBONES[cls])}")
    ours, forced_fpn = RCNN_BACKBONES[cls][backbone]
    fpn = bool(params.pop("with_fpn", True)) or forced_fpn
    dcn = bool(params.pop("with_dcn", False)) and fpn and not backbone.startswith("HRNet")
    if dcn:
        raise PxError(f"{where} with with_dcn=True (deformable convs in stages 3-5) has no pxcore "
                      "network; pxcore's R-CNNs take with_dcn=False only")
    if backbone == "ResNet50_vd" and not fpn:
        raise PxError(f"{where} on ResNet50_vd without FPN runs stage 5 in its Res5Head as "
                      "ResNet50's (variant b, ppdet's Res5Head), while pxcore's C4 ResNet50_vd "
                      "runs it as variant d; pxcore has no network for it")
    levels = 5 if fpn else 1
    args: dict[str, Any] = {}
    ratios = params.pop("aspect_ratios", [0.5, 1.0, 2.0])
    ratios = _per_level(ratios, levels, "aspect_ratios", where)
    if any(r != ratios[0] for r in ratios):
        raise PxError(f"{where}: aspect_ratios {ratios} differ per level; pxcore's R-CNN takes "
                      "one list for every level")
    args["anchor_ratios"] = ratios[0]
    sizes = params.pop("anchor_sizes", [[32], [64], [128], [256], [512]])
    args["anchor_sizes"] = _per_level(sizes, levels, "anchor_sizes", where)
    channels = params.pop("fpn_num_channels", 256)
    if fpn:
        args["fpn_channels"] = channels
    pre = params.pop("test_pre_nms_top_n", None)
    post = params.pop("test_post_nms_top_n", 1000)
    args["test_proposals"] = [(1000 if fpn else 6000) if pre is None else pre, post]
    args["rpn_batch_size"] = params.pop("rpn_batch_size_per_im", 256)
    params.pop("rpn_fg_fraction", None)  # the RPN targets' sampling: training only
    for key in ("keep_top_k", "nms_threshold", "score_threshold"):
        if key in params:
            args[key] = params.pop(key)
    args.update(params)  # anything else: models.model_arguments refuses it by name
    return {"backbone": ours, "with_fpn": fpn}, args


def _ppyolo(where: str, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    backbone = params.pop("backbone", PPYOLO_BACKBONE)
    if backbone != PPYOLO_BACKBONE:
        raise PxError(f"{where} on {backbone!r} is PaddleX's two-level PP-YOLO neck without conv "
                      f"blocks (conv_block_num=0), which pxcore has no network for; pxcore's "
                      f"PPYOLO is PaddleX's on {PPYOLO_BACKBONE}")
    args: dict[str, Any] = {}
    anchors, masks = params.pop("anchors", None), params.pop("anchor_masks", None)
    if (anchors is None) != (masks is None):
        raise PxError(f"{where}: gives only one of anchors and anchor_masks (PaddleX needs both "
                      "or neither)")
    if anchors is not None:  # None: PaddleX's COCO anchors, the preset's
        args["anchors"], args["anchor_masks"] = anchors, masks
    args["coord_conv"] = PADDLEDETECTION_COORD_RANGE if params.pop("use_coord_conv", True) else False
    for theirs, ours in (("use_iou_aware", "iou_aware"), ("use_spp", "spp"),
                         ("use_drop_block", "drop_block")):
        args[ours] = bool(params.pop(theirs, True))
    args["scale_x_y"] = params.pop("scale_x_y", 1.05)
    args["iou_loss_weight"] = 2.5 if params.pop("use_iou_loss", True) else 0.0
    score = params.pop("nms_score_threshold", 0.01)
    top_k, keep = params.pop("nms_topk", -1), params.pop("nms_keep_topk", 100)
    iou = params.pop("nms_iou_threshold", 0.45)
    if params.pop("use_matrix_nms", True):  # Matrix NMS has no IoU threshold
        args["nms"] = {"type": "matrix", "score_threshold": score, "post_threshold": 0.01,
                       "nms_top_k": top_k, "keep_top_k": keep}
    else:
        args["nms"] = {"type": "multiclass", "score_threshold": score, "nms_top_k": top_k,
                       "keep_top_k": keep, "nms_threshold": iou}
    args.update(params)
    return {"backbone": PPYOLO_ZOO_BACKBONE}, args
