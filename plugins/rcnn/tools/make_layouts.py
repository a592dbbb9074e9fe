"""Write tests/layouts/<row>.json, the weight layouts of the zoo's Faster R-CNN and Mask
R-CNN rows, by running PaddleDetection's (and PaddleX's) own code against pxcore's model.

A manifest (format: pxcore/testing/layouts.py) holds

- "pdparams": pxcore's state-dict keys and shapes (what ``paddle.save`` of the model
  writes);
- "legacy": {static variable name: our key}: the zoo's per-variable ``.tar`` archive of
  the row, every variable of its program; "legacy_affine_channel" says whether its ResNet
  has affine channels (scale and offset, no batch-norm statistics) and
  "legacy_converted" which names ``pxcore_rcnn.legacy_names.from_static`` converts rather
  than renames (background class first, C4 anchors ratio-major);
- "paddledet_2x": {PaddleDetection 2.x state-dict key: our key}, a 2.x checkpoint;
- "notes": what the references compute differently from pxcore with the same weights,
  as measured here.

For each row the tool, with random weights (batch-norm statistics calibrated on the
input, so a misplaced tensor anywhere shows in the outputs):

1. builds the row's static network (PaddleDetection ``release/0.5`` for the rows whose
   archives it published, PaddleX 1.3.0 for PaddleX's own ``faster_rcnn_r18_fpn_1x``,
   ``mask_rcnn_r18_fpn_1x`` and ``mask_rcnn_hrnetv2p_w18_2x``) in Paddle 3's legacy static
   mode, through reference/fluid.py's stand-in for the removed ``paddle.fluid``:
   backbone, FPN / HRFPN, the RPN head on every level, the box head and predictor on a
   batch of RoI features given as an input, the mask head likewise. Its variables must be
   exactly the manifest's legacy names and shapes, its anchors (Paddle's own
   ``anchor_generator`` op) in the order ``from_static`` assumes, and with an archive
   made from pxcore's weights (background inserted first, C4 anchors reordered, batch
   norms folded into affine channels where the row has them) its raw outputs must equal
   pxcore's after ``from_static`` and ``fit_state`` loaded that archive;
2. builds the 2.x network from PaddleDetection 2.6.0's ``ppdet/modeling`` (ResNet / HRNet,
   FPN / HRFPN, RPNHead, BBoxHead with TwoFCHead / Res5Head, MaskHead with MaskFeat,
   held as ``backbone`` / ``neck`` / ``rpn_head`` / ``bbox_head`` / ``mask_head`` like
   ``architectures/faster_rcnn.py`` and ``mask_rcnn.py``): its keys and shapes must be
   exactly the manifest's 2.x names, and with the weights set by key its outputs must
   equal pxcore's, also when pxcore loads them through ``weight_aliases()``;
3. requires ``weight_aliases()`` to be the union of both maps' renamings, the converted
   static names left out.

Where a reference computes differently (HRNet's upsampling in 0.x; 2.6's variant-"b"
Res5Head on the ResNet50_vd C4 row) the equality is checked with that one op made alike
and the difference is measured with it as published; both go to "notes".

Needs paddlepaddle 3.3, pxcore with pxcore-rcnn, and three references (nothing else of
them is imported; their other imports are stubbed):

    pip install --no-deps --target /work/refdet paddledet==2.6.0   # -> /work/refdet/ppdet
    git clone https://github.com/PaddlePaddle/PaddleDetection && \\
      git -C PaddleDetection archive ed2ffa08f6bdfad06a06dd16005a5aa26f9ef201 \\
        ppdet/modeling | tar -x -C /tmp/ppdet05                    # release/0.5
    git clone https://github.com/PaddlePaddle/PaddleX && \\
      git -C PaddleX archive 13e0678c61b7afa0115466e70949d2ed83233d1e \\
        paddlex/cv/nets | tar -x -C /tmp/pdx13                     # v1.3.0

    python -m reference.manifests rcnn --ppdet /work/refdet \\
      --ppdet-static /tmp/ppdet05 --paddlex-static /tmp/pdx13

Each network runs in a fresh process: the static program needs FLAGS_enable_pir_api=0
set before Paddle starts.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import types
from pathlib import Path
from typing import NamedTuple

import numpy as np

from reference import fluid, manifests
from reference.fluid import Stub, module, package
from reference.harness import TOLERANCE, relative_difference, same_names
from reference.tools import LEGACY_STATIC, run_in_child

PPDET_STATIC = "PaddleDetection release/0.5 (commit ed2ffa08, 2021-11-19)"
PADDLEX_STATIC = "PaddleX 1.3.0 (commit 13e0678c)"
PPDET_26 = "PaddleDetection 2.6.0 (the paddledet wheel)"
SIZE = 128  # input pixels: P6 is 2x2
ROIS = 3
NUM_CLASSES = 80


class Row(NamedTuple):
    """A zoo row's static network, as the config behind its archive builds it, and its
    2.6 config."""

    static: str  # "ppdet" (PaddleDetection 0.5) or "paddlex" (PaddleX 1.3)
    static_config: str  # where the row's settings come from
    affine_channel: bool  # the static ResNet's norm_type
    dygraph_config: str | None  # 2.6's config; None: no 2.6 config, its modules composed


_DET, _PDX = "configs/", "paddlex/cv/models/"
ROWS = {
    "FasterRCNN-ResNet18-FPN": Row("paddlex", _PDX + "faster_rcnn.py (ResNet18, with_fpn)", False, None),
    "FasterRCNN-ResNet50": Row("ppdet", _DET + "faster_rcnn_r50_1x.yml", True,
                               "configs/faster_rcnn/faster_rcnn_r50_1x_coco.yml"),
    "FasterRCNN-ResNet50_vd": Row("ppdet", _DET + "faster_rcnn_r50_vd_1x.yml", True,
                                  "configs/faster_rcnn/faster_rcnn_r50_vd_1x_coco.yml"),
    "FasterRCNN-ResNet101": Row("ppdet", _DET + "faster_rcnn_r101_1x.yml", True,
                                "configs/faster_rcnn/faster_rcnn_r101_1x_coco.yml"),
    "FasterRCNN-ResNet50-FPN": Row("ppdet", _DET + "faster_rcnn_r50_fpn_1x.yml", False,
                                   "configs/faster_rcnn/faster_rcnn_r50_fpn_1x_coco.yml"),
    "FasterRCNN-ResNet50_vd-FPN": Row("ppdet", _DET + "faster_rcnn_r50_vd_fpn_2x.yml", True,
                                      "configs/faster_rcnn/faster_rcnn_r50_vd_fpn_2x_coco.yml"),
    "FasterRCNN-ResNet101-FPN": Row("ppdet", _DET + "faster_rcnn_r101_fpn_1x.yml", True,
                                    "configs/faster_rcnn/faster_rcnn_r101_fpn_1x_coco.yml"),
    "FasterRCNN-ResNet101_vd-FPN": Row("ppdet", _DET + "faster_rcnn_r101_vd_fpn_2x.yml", True,
                                       "configs/faster_rcnn/faster_rcnn_r101_vd_fpn_2x_coco.yml"),
    "FasterRCNN-HRNet_W18-FPN": Row("ppdet", _DET + "hrnet/faster_rcnn_hrnetv2p_w18_1x.yml", False,
                                    "configs/hrnet/faster_rcnn_hrnetv2p_w18_1x_coco.yml"),
    "MaskRCNN-ResNet18-FPN": Row("paddlex", _PDX + "mask_rcnn.py (ResNet18, with_fpn)", False, None),
    "MaskRCNN-ResNet50": Row("ppdet", _DET + "mask_rcnn_r50_2x.yml", True,
                             "configs/mask_rcnn/mask_rcnn_r50_2x_coco.yml"),
    "MaskRCNN-ResNet50-FPN": Row("ppdet", _DET + "mask_rcnn_r50_fpn_2x.yml", True,
                                 "configs/mask_rcnn/mask_rcnn_r50_fpn_2x_coco.yml"),
    "MaskRCNN-ResNet50_vd-FPN": Row("ppdet", _DET + "mask_rcnn_r50_vd_fpn_2x.yml", True,
                                    "configs/mask_rcnn/mask_rcnn_r50_vd_fpn_2x_coco.yml"),
    "MaskRCNN-ResNet101-FPN": Row("ppdet", _DET + "mask_rcnn_r101_fpn_1x.yml", True,
                                  "configs/mask_rcnn/mask_rcnn_r101_fpn_1x_coco.yml"),
    "MaskRCNN-ResNet101_vd-FPN": Row("ppdet", _DET + "mask_rcnn_r101_vd_fpn_1x.yml", True,
                                     "configs/mask_rcnn/mask_rcnn_r101_vd_fpn_1x_coco.yml"),
    "MaskRCNN-HRNet_W18-FPN": Row("paddlex", _PDX + "mask_rcnn.py (HRNet_W18)", False, None),
}


class Net(NamedTuple):
    """What the references need to know of pxcore's network for a row."""

    backbone: str  # "ResNet" or "HRNet"
    depth: int  # ResNet depth, or HRNet width
    variant: str  # "b" or "d"
    fpn: bool
    mask: bool
    level_channels: list[int]
    c4_channels: int  # the box head's input (C4: the stride-16 level)
    anchor_sizes: list[list[float]]
    anchor_ratios: list[float]


def _describe(arch: str) -> Net:
    from pxcore_rcnn.plugin import parse, presets
    from pxcore_rcnn.rcnn import C4_ANCHOR_SIZES, FPN_ANCHOR_SIZES

    args = {name: a for name, a, _, _ in presets()}[arch]
    backbone, fpn = parse(arch.split("-", 1)[1])
    family = "HRNet" if backbone.startswith("HRNet") else "ResNet"
    depth = int(backbone.split("_W")[1]) if family == "HRNet" else int(backbone[6:].split("_")[0])
    channels = ([18, 36, 72, 144] if family == "HRNet"
                else [64 * 2 ** i * (1 if depth < 50 else 4) for i in range(4)])
    return Net(family, depth, "d" if backbone.endswith("_vd") else "b", fpn, args["with_mask"],
               channels, channels[2],
               [list(s) for s in (FPN_ANCHOR_SIZES if fpn else C4_ANCHOR_SIZES)], [0.5, 1.0, 2.0])


# --- the static networks in Paddle 3's legacy static mode --------------------------------

def _flatten_dict(features) -> list:
    return list(features.values()) if isinstance(features, dict) else list(features)


def _stub_ppdet_05(root: Path) -> dict:
    """PaddleDetection 0.5's modules as the zoo's rows build them."""
    modeling = root / "ppdet" / "modeling"
    package("ppdet", root / "ppdet")
    package("ppdet.modeling", modeling)
    for sub in ("backbones", "anchor_heads", "roi_heads"):
        package(f"ppdet.modeling.{sub}", modeling / sub)
    identity = lambda cls: cls  # noqa: E731
    module("ppdet.core", __path__=[])
    module("ppdet.core.workspace", register=identity, serializable=identity)
    module("ppdet.experimental", mixed_precision_global_state=lambda: None)

    class AnchorGenerator:
        def __init__(self, stride=(16.0, 16.0), anchor_sizes=(32, 64, 128, 256, 512),
                     aspect_ratios=(0.5, 1.0, 2.0), variance=(1.0, 1.0, 1.0, 1.0)):
            self.stride, self.anchor_sizes = stride, anchor_sizes
            self.aspect_ratios, self.variance = aspect_ratios, variance

        def __call__(self, input, anchor_sizes=None, stride=None):
            import paddle

            return paddle.fluid.layers.anchor_generator(
                input, anchor_sizes or self.anchor_sizes, self.aspect_ratios, self.variance,
                stride or self.stride)

    module("ppdet.modeling.ops", AnchorGenerator=AnchorGenerator, RPNTargetAssign=Stub,
            GenerateProposals=Stub, MultiClassNMS=Stub, ConvNorm=None)
    module("ppdet.modeling.losses", SmoothL1Loss=Stub)
    module("ppdet.modeling.backbones.nonlocal_helper", add_space_nonlocal=None)
    module("ppdet.modeling.backbones.gc_block", add_gc_block=None)
    return {"resnet": "ppdet.modeling.backbones.resnet", "hrnet": "ppdet.modeling.backbones.hrnet",
            "fpn": "ppdet.modeling.backbones.fpn", "hrfpn": "ppdet.modeling.backbones.hrfpn",
            "rpn": "ppdet.modeling.anchor_heads.rpn_head", "bbox": "ppdet.modeling.roi_heads.bbox_head",
            "mask": "ppdet.modeling.roi_heads.mask_head"}


def _stub_paddlex_13(root: Path) -> dict:
    """PaddleX 1.3's modules as its MaskRCNN / FasterRCNN build its rows."""
    nets = root / "paddlex" / "cv" / "nets"
    package("paddlex", root / "paddlex")
    package("paddlex.cv", root / "paddlex" / "cv")
    package("paddlex.cv.nets", nets)
    package("paddlex.cv.nets.detection", nets / "detection")
    package("paddlex.cv.nets.detection.loss", nets / "detection" / "loss")
    module("paddlex.cv.nets.detection.loss.diou_loss", DiouLoss=Stub)
    module("paddlex.cv.nets.detection.ops", MultiClassNMS=Stub, MatrixNMS=Stub,
            MultiClassSoftNMS=Stub, MultiClassDiouNMS=Stub)
    return {"resnet": "paddlex.cv.nets.resnet", "hrnet": "paddlex.cv.nets.hrnet",
            "fpn": "paddlex.cv.nets.detection.fpn", "hrfpn": "paddlex.cv.nets.detection.fpn",
            "rpn": "paddlex.cv.nets.detection.rpn_head", "bbox": "paddlex.cv.nets.detection.bbox_head",
            "mask": "paddlex.cv.nets.detection.mask_head"}


def _static_parts(flavour: str, modules: dict, row: Row, net: Net):
    """(backbone, neck or None, rpn head, box head, bbox head, mask head or None) as the
    row's config builds them (the settings that shape tensors or the computation)."""
    m = {k: importlib.import_module(v) for k, v in modules.items()}
    depth_arg = "layers" if flavour == "paddlex" else "depth"
    norm = "affine_channel" if row.affine_channel else "bn"
    resnet = {depth_arg: net.depth, "norm_type": norm, "freeze_norm": True, "norm_decay": 0.0,
              "variant": net.variant, "freeze_at": 2}
    if net.backbone == "HRNet":
        backbone = m["hrnet"].HRNet(width=net.depth, norm_type="bn", freeze_norm=True,
                                    freeze_at=0, feature_maps=[2, 3, 4, 5])
    else:
        backbone = m["resnet"].ResNet(feature_maps=[2, 3, 4, 5] if net.fpn else [4], **resnet)
    neck = None
    if net.fpn and net.backbone == "HRNet":
        neck = m["hrfpn"].HRFPN(num_chan=256, share_conv=False)
    elif net.fpn:
        neck = m["fpn"].FPN(num_chan=256, min_level=2, max_level=6,
                            spatial_scale=[1 / 32, 1 / 16, 1 / 8, 1 / 4])
    if flavour == "paddlex":
        rpn = (m["rpn"].FPNRPNHead(anchor_start_size=32, aspect_ratios=net.anchor_ratios, num_chan=256,
                                   min_level=2, max_level=6) if net.fpn else m["rpn"].RPNHead())
        head = (m["bbox"].TwoFCHead(mlp_dim=1024) if net.fpn else
                m["resnet"].ResNetC5(layers=net.depth, norm_type=norm, freeze_norm=True,
                                     variant=net.variant))
        bbox = m["bbox"].BBoxHead(head=head, num_classes=NUM_CLASSES + 1)
    else:
        generator = {"aspect_ratios": net.anchor_ratios, "variance": [1.0, 1.0, 1.0, 1.0]}
        if net.fpn:
            rpn = m["rpn"].FPNRPNHead(anchor_generator=generator, anchor_start_size=32, num_chan=256,
                                      min_level=2, max_level=6)
        else:
            rpn = m["rpn"].RPNHead(anchor_generator={**generator, "anchor_sizes": net.anchor_sizes[0],
                                                     "stride": [16.0, 16.0]})
        head = (m["bbox"].TwoFCHead(mlp_dim=1024) if net.fpn else
                m["resnet"].ResNetC5(depth=net.depth, norm_type=norm, freeze_norm=True,
                                     variant=net.variant))
        bbox = m["bbox"].BBoxHead(head=head, num_classes=NUM_CLASSES + 1)
    mask = None
    if net.mask:
        mask = m["mask"].MaskHead(num_convs=4 if net.fpn else 0, conv_dim=256,
                                  resolution=28 if net.fpn else 14, num_classes=NUM_CLASSES + 1)
    return backbone, neck, rpn, bbox, mask


def run_static(flavour: str, root: str, row: Row, net: Net, semantics: str,
               archive: dict[str, np.ndarray], inputs: dict[str, np.ndarray]) -> dict:
    """In a process with FLAGS_enable_pir_api=0: the static program's persistable
    variables, its anchors at the first cell of each level, and its raw outputs with
    ``archive`` set by variable name."""
    import paddle

    paddle.enable_static()
    fluid.install(resize=semantics)
    modules = (_stub_paddlex_13 if flavour == "paddlex" else _stub_ppdet_05)(Path(root))
    backbone, neck, rpn, bbox, mask = _static_parts(flavour, modules, row, net)
    main, startup = paddle.static.Program(), paddle.static.Program()
    fetch = {}
    with paddle.static.program_guard(main, startup):
        image = paddle.static.data("image", [-1, *inputs["image"].shape[1:]], "float32")
        box_roi = paddle.static.data("box_roi", [-1, *inputs["box_roi"].shape[1:]], "float32")
        body = backbone(image)
        if neck is not None:
            pyramid, _ = neck.get_output(body)
            features = _flatten_dict(pyramid)[::-1]  # finest first, as pxcore
        else:
            features = _flatten_dict(body)
        for i, feature in enumerate(features):
            fetch[f"feature.{i}"] = feature
            if neck is not None:
                score, delta = rpn._get_output(feature, i + 2)
                anchors = rpn.anchors
            else:
                score, delta = rpn._get_output(feature)
                anchors = rpn.anchor
            fetch[f"rpn_score.{i}"], fetch[f"rpn_delta.{i}"] = score, delta
            fetch[f"anchors.{i}"] = anchors
        fetch["cls_score"], fetch["bbox_pred"] = bbox._get_output(box_roi)
        if mask is not None:
            if neck is not None:
                mask_roi = paddle.static.data("mask_roi", [-1, *inputs["mask_roi"].shape[1:]], "float32")
                fetch["mask_logits"] = mask._get_output(mask_roi)
            else:  # C4: the mask head reads the box head's stage-5 map
                fetch["mask_logits"] = mask._get_output(bbox.get_head_feat())
    names = list(fetch)
    results = fluid.run(main, startup, archive, dict(inputs), [fetch[k] for k in names])
    outputs = dict(zip(names, results, strict=True))
    anchors = {k: v[0, 0] for k, v in outputs.items() if k.startswith("anchors.")}
    return {"variables": fluid.variables(main), "anchors": anchors,
            "outputs": {k: v for k, v in outputs.items() if not k.startswith("anchors.")}}


# --- PaddleDetection 2.6 in dygraph mode -----------------------------------------------

def _ppdet_26(root: Path, net: Net):
    """The 2.6 network: its parts held as architectures/faster_rcnn.py and mask_rcnn.py
    hold them, set as the row's 2.6 config (or, without one, its modules composed)."""
    import paddle
    import paddle.nn.functional as F
    from paddle import nn

    modeling = root / "ppdet" / "modeling"
    module("six", moves=types.SimpleNamespace(range=range))  # layers.py's one use
    package("ppdet", root / "ppdet")
    package("ppdet.modeling", modeling)
    for sub in ("backbones", "necks", "heads", "proposal_generator"):
        package(f"ppdet.modeling.{sub}", modeling / sub)
    module("ppdet.modeling.losses", __path__=[])
    backbones = importlib.import_module(f"ppdet.modeling.backbones.{net.backbone.lower()}")
    necks = importlib.import_module("ppdet.modeling.necks." + ("hrfpn" if net.backbone == "HRNet" else "fpn"))
    rpn_head = importlib.import_module("ppdet.modeling.proposal_generator.rpn_head")
    bbox_head = importlib.import_module("ppdet.modeling.heads.bbox_head")
    mask_head = importlib.import_module("ppdet.modeling.heads.mask_head")

    if net.backbone == "HRNet":
        backbone = backbones.HRNet(width=net.depth, freeze_at=0, return_idx=[0, 1, 2, 3])
        neck = necks.HRFPN(in_channels=net.level_channels, out_channel=256, share_conv=False)
    else:
        backbone = backbones.ResNet(depth=net.depth, variant=net.variant, norm_type="bn", freeze_at=0,
                                    return_idx=[0, 1, 2, 3] if net.fpn else [2],
                                    num_stages=4 if net.fpn else 3)
        neck = necks.FPN(in_channels=net.level_channels, out_channel=256) if net.fpn else None
    channels = 256 if net.fpn else net.c4_channels
    sizes = net.anchor_sizes if net.fpn else net.anchor_sizes[0]
    strides = [4, 8, 16, 32, 64] if net.fpn else [16]
    rpn = rpn_head.RPNHead(anchor_generator={"aspect_ratios": net.anchor_ratios, "anchor_sizes": sizes,
                                             "strides": strides}, in_channel=channels)
    roi = {"resolution": 7 if net.fpn else 14, "sampling_ratio": 0, "aligned": True}
    if net.fpn:
        head = bbox_head.TwoFCHead(in_channel=256, out_channel=1024, resolution=7)
    else:
        head = backbones.Res5Head(depth=net.depth)
    box = bbox_head.BBoxHead(head=head, in_channel=head.out_shape[0].channels, roi_extractor=roi,
                             with_pool=not net.fpn, num_classes=NUM_CLASSES)
    masks = None
    if net.mask:
        feat = mask_head.MaskFeat(in_channel=256 if net.fpn else head.out_shape[0].channels,
                                  out_channel=256, num_convs=4 if net.fpn else 0)
        masks = mask_head.MaskHead(head=feat, roi_extractor={**roi, "resolution": 14},
                                   num_classes=NUM_CLASSES, share_bbox_feat=not net.fpn)

    class Architecture(nn.Layer):
        def __init__(self):
            super().__init__()
            self.backbone, self.neck, self.rpn_head, self.bbox_head = backbone, neck, rpn, box
            if masks is not None:
                self.mask_head = masks

        def forward(self, image, box_roi, mask_roi=None):
            features = self.backbone({"image": image})
            if self.neck is not None:
                features = self.neck(features)
            out = {}
            for i, feature in enumerate(self.rpn_head.rpn_feat(features)):
                out[f"feature.{i}"] = features[i]
                out[f"rpn_score.{i}"] = self.rpn_head.rpn_rois_score(feature)
                out[f"rpn_delta.{i}"] = self.rpn_head.rpn_rois_delta(feature)
            head_feat = self.bbox_head.head(box_roi)
            vector = (paddle.squeeze(F.adaptive_avg_pool2d(head_feat, 1), axis=[2, 3])
                      if self.bbox_head.with_pool else head_feat)
            out["cls_score"] = self.bbox_head.bbox_score(vector)
            out["bbox_pred"] = self.bbox_head.bbox_delta(vector)
            if masks is not None:
                source = mask_roi if self.neck is not None else head_feat
                out["mask_logits"] = self.mask_head.mask_fcn_logits(self.mask_head.head(source))
            return out

    return Architecture()


def _pxcore_outputs(net, state, inputs) -> dict[str, np.ndarray]:
    import paddle

    if state is not None:
        net.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    net.eval()
    with paddle.no_grad():
        features = net._features(paddle.to_tensor(inputs["image"]))
        scores, deltas = net.rpn_head(features)
        vector, c5 = net.box_head(paddle.to_tensor(inputs["box_roi"]))
        logits, box_deltas = net.predictor(vector)
        out = {}
        for i, (f, s, d) in enumerate(zip(features, scores, deltas, strict=True)):
            out[f"feature.{i}"], out[f"rpn_score.{i}"], out[f"rpn_delta.{i}"] = f, s, d
        out["cls_score"], out["bbox_pred"] = logits, box_deltas
        if net.with_mask:
            out["mask_logits"] = net.mask_head(paddle.to_tensor(inputs["mask_roi"]) if net.fpn else c5)
        return {k: v.numpy() for k, v in out.items()}


def _reference_outputs(reference, state, inputs) -> dict[str, np.ndarray]:
    import paddle

    reference.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    reference.eval()
    with paddle.no_grad():
        args = [paddle.to_tensor(inputs["image"]), paddle.to_tensor(inputs["box_roi"])]
        if "mask_roi" in inputs:
            args.append(paddle.to_tensor(inputs["mask_roi"]))
        return {k: v.numpy() for k, v in reference(*args).items()}


def _calibrate(net, state, inputs) -> dict[str, np.ndarray]:
    """pxcore_rcnn's batch norms given the statistics of the inputs (the box head's stage
    5 of the C4 rows on the RoI features), as training would."""
    import paddle

    net.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    for layer in net.sublayers():
        if isinstance(layer, paddle.nn.layer.norm._BatchNormBase):
            layer._momentum = 0.0
    net.train()
    with paddle.no_grad():
        net._features(paddle.to_tensor(inputs["image"]))
        net.box_head(paddle.to_tensor(inputs["box_roi"]))
    return {k: v.numpy() for k, v in net.state_dict().items()}


def _fold_batch_norms(net, state) -> dict[str, np.ndarray]:
    """The same network with every backbone batch norm an affine channel: scale and
    offset absorb the statistics, mean 0 and variance 1 - eps."""
    import paddle

    state = dict(state)
    for path, layer in net.named_sublayers():
        if path.startswith("backbone.") and isinstance(layer, paddle.nn.layer.norm._BatchNormBase):
            eps = layer._epsilon
            w, b = state[f"{path}.weight"], state[f"{path}.bias"]
            mean, var = state[f"{path}._mean"], state[f"{path}._variance"]
            scale = w / np.sqrt(var + eps)
            state[f"{path}.weight"], state[f"{path}.bias"] = scale, b - mean * scale
            state[f"{path}._mean"] = np.zeros_like(mean)
            state[f"{path}._variance"] = np.full_like(var, 1.0 - eps)
    return state


def _make_archive(net, state, legacy: dict[str, str], order: list[int] | None,
                  rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The row's static archive holding ``state``: written from the reference's own
    conventions, not through from_static: background first in the class scores, an
    extra set of box deltas and an extra mask map for it at the front, the C4 RPN's
    anchors ratio-major (``order``: ours -> theirs)."""
    archive = {}
    for name, key in legacy.items():
        value = state[key]
        if name in ("cls_score_w", "cls_score_b"):
            value = np.concatenate([value[..., -1:], value[..., :-1]], axis=-1)
        elif name in ("bbox_pred_w", "bbox_pred_b"):
            extra = 0.01 * rng.standard_normal(value[..., :4].shape).astype("float32")
            value = np.concatenate([extra, value], axis=-1)
        elif name in ("mask_fcn_logits_w", "mask_fcn_logits_b"):
            extra = 0.1 * rng.standard_normal(value[:1].shape).astype("float32")
            value = np.concatenate([extra, value], axis=0)
        elif order is not None and name.startswith(("rpn_cls_logits_", "rpn_bbox_pred_")):
            per = 4 if name.startswith("rpn_bbox_pred_") else 1
            grouped = value.reshape(len(order), per, *value.shape[1:])
            theirs = np.empty_like(grouped)
            theirs[order] = grouped
            value = theirs.reshape(value.shape)
        archive[name] = value
    return archive


def _static_as_ours(outputs: dict, order: list[int] | None) -> dict[str, np.ndarray]:
    """The static program's outputs in pxcore's conventions (the same reading of the
    reference as ``_make_archive``)."""
    out = dict(outputs)
    out["cls_score"] = np.concatenate([outputs["cls_score"][:, 1:], outputs["cls_score"][:, :1]], axis=1)
    out["bbox_pred"] = outputs["bbox_pred"][:, 4:]
    if "mask_logits" in out:
        out["mask_logits"] = outputs["mask_logits"][:, 1:]
    if order is not None:
        score, delta = out["rpn_score.0"], out["rpn_delta.0"]
        out["rpn_score.0"] = score[:, order]
        grouped = delta.reshape(delta.shape[0], len(order), 4, *delta.shape[2:])
        out["rpn_delta.0"] = grouped[:, order].reshape(delta.shape)
    return out


def _set_res5_shortcut_strided(net, strided: bool) -> None:
    """C4 ResNet-vd: make the first stage-5 block's shortcut what 2.6's Res5Head builds
    (a stride-2 1x1 conv, no pooling), or back."""
    short = net.backbone.stage_blocks(3)[0].short
    short.pool_stride = not strided
    short.conv._stride = [2, 2] if strided else [1, 1]


def build(arch: str, row: Row, ppdet: str) -> dict:
    """Runs in its own process: pxcore's model with random weights and its outputs, the
    2.6 network's names, shapes and outputs with the same weights, and the static
    archive and inputs for ``run_static``."""
    import pxcore
    from pxcore.testing.random_weights import random_tensor
    from pxcore.weights import fit_state
    from pxcore_rcnn.legacy_names import (
        _anchor_permutation,
        dygraph_names,
        static_converted,
        static_names,
    )

    model = pxcore.create_model(arch, num_classes=NUM_CLASSES).net
    net = _describe(arch)
    shapes = {k: [int(d) for d in v.shape] for k, v in model.state_dict().items()}
    rng = np.random.default_rng(0)
    box_channels = 256 if net.fpn else net.c4_channels
    inputs = {"image": rng.standard_normal((2, 3, SIZE, SIZE)).astype("float32"),
              "box_roi": rng.standard_normal((ROIS, box_channels, 7 if net.fpn else 14,
                                              7 if net.fpn else 14)).astype("float32")}
    if net.mask and net.fpn:
        inputs["mask_roi"] = rng.standard_normal((ROIS, 256, 14, 14)).astype("float32")
    state = {k: random_tensor(rng, k, s) for k, s in shapes.items()}
    state = _calibrate(model, state, inputs)
    legacy, dygraph = static_names(model, affine_channel=row.affine_channel), dygraph_names(model)
    converted = static_converted(model)
    aliases = model.weight_aliases()
    expected_aliases = {**{k: v for k, v in static_names(model).items() if k not in converted},
                        **{k: v for k, v in dygraph.items() if k != v}}
    assert aliases == expected_aliases, f"{arch}: weight_aliases() is not the two layouts' renamings"
    notes = []

    # PaddleDetection 2.6
    reference = _ppdet_26(Path(ppdet), net)
    reference_shapes = {k: [int(d) for d in v.shape] for k, v in reference.state_dict().items()}
    expected_shapes = {name: shapes[key] for name, key in dygraph.items()}
    assert reference_shapes == expected_shapes, (
        f"{arch}: PaddleDetection 2.6's keys differ from the 2.x names: only in 2.6 "
        f"{sorted(set(reference_shapes) - set(expected_shapes))[:5]}, only in ours "
        f"{sorted(set(expected_shapes) - set(reference_shapes))[:5]}, shapes differ "
        f"{[k for k in reference_shapes if expected_shapes.get(k, reference_shapes[k]) != reference_shapes[k]][:5]}")
    state_26 = {name: state[key] for name, key in dygraph.items()}
    expected_26 = _reference_outputs(reference, state_26, inputs)
    res5_b = not net.fpn and net.variant == "d"
    if res5_b:
        gap = _gap(_pxcore_outputs(model, state, inputs), expected_26)
        notes.append(f"PaddleDetection 2.6's Res5Head builds stage 5 as variant b whatever the "
                     f"backbone's: res5a's shortcut is a stride-2 1x1 conv where pxcore (and 0.x) "
                     f"average-pool before a stride-1 one; a 2.x checkpoint of this row places "
                     f"every tensor but computes differently (here up to {gap:.3g} in the box "
                     f"head's outputs); the 2.6 equality checks ran with that shortcut made alike")
        _set_res5_shortcut_strided(model, True)
    ours_26 = _pxcore_outputs(model, state, inputs)
    fitted, _ = fit_state(model, state_26, f"{arch} 2.x checkpoint")
    by_26_alias = _pxcore_outputs(model, fitted, inputs)
    if res5_b:
        _set_res5_shortcut_strided(model, False)

    # the static archive: the row's convention for batch norms
    state_static = _fold_batch_norms(model, state) if row.affine_channel else state
    order = _anchor_permutation(model)
    archive = _make_archive(model, state_static, legacy, order, rng)
    ours_static = _pxcore_outputs(model, state_static, inputs)
    manifest = {"model": arch, "num_classes": NUM_CLASSES, "pdparams": shapes, "legacy": legacy,
                "legacy_affine_channel": row.affine_channel,
                "legacy_converted": {name: list(archive[name].shape) for name in sorted(converted)},
                "paddledet_2x": dygraph}
    return {"manifest": manifest, "net": net, "archive": archive, "inputs": inputs, "order": order,
            "cells": [np.asarray(c) for c in model.anchor_generator.cells],
            "strides": list(model.anchor_generator.strides),
            "ours_static": ours_static, "ours_26": ours_26, "expected_26": expected_26,
            "by_26_alias": by_26_alias, "notes": notes}


def load_static(arch: str, archive: dict[str, np.ndarray], inputs: dict) -> dict:
    """Runs in its own process: pxcore's outputs after ``from_static`` and ``fit_state``
    took the static archive."""
    import pxcore
    from pxcore.weights import fit_state
    from pxcore_rcnn.legacy_names import from_static

    model = pxcore.create_model(arch, num_classes=NUM_CLASSES).net
    fitted, notes = fit_state(model, from_static(model, archive), f"{arch} static archive")
    assert not notes, notes
    return _pxcore_outputs(model, fitted, inputs)


# --- checking and writing ----------------------------------------------------------------

def _gaps(outputs: dict, expected: dict) -> dict[str, float]:
    """Each output's ``relative_difference`` from the reference's."""
    if outputs.keys() != expected.keys():
        raise AssertionError(f"outputs {sorted(outputs)} != the reference's {sorted(expected)}")
    return {k: relative_difference(outputs[k], expected[k]) for k in expected}


def _gap(outputs: dict, expected: dict) -> float:
    return max(_gaps(outputs, expected).values())


def _check(outputs: dict, expected: dict, what: str, tolerance: float = TOLERANCE) -> None:
    """Equal up to float32 rounding, relative to each output's largest value. The static
    program (other kernels, affine_channel for batch norm) gets 1e-2: these random deep
    nets amplify rounding (pxcore against itself with its batch norms folded into affine
    channels, the same function, differs by up to 2e-3 on ResNet101_vd-FPN), while a
    misplaced tensor differs by the order of the values."""
    gaps = _gaps(outputs, expected)
    worst = sorted(((k, f"{v:.3g}") for k, v in gaps.items() if v > tolerance), key=lambda kv: kv[1])
    assert not worst, f"{what} (relative gaps over {tolerance:g}: {worst[:4]})"


def _check_anchors(arch: str, static_anchors: dict, model_cells: list, strides: list[int],
                   order: list[int] | None) -> tuple[float, float]:
    """The static program's anchors at the first cell of each level are ours under the
    permutation ``from_static`` assumes: each of ours is nearest (in log width and
    height) to the one it names. Returns the largest relative size difference and the
    largest centre shift in strides."""
    worst = shift = 0.0
    for level, (cells, stride) in enumerate(zip(model_cells, strides, strict=True)):
        theirs = static_anchors[f"anchors.{level}"]
        tw, th = theirs[:, 2] - theirs[:, 0] + 1, theirs[:, 3] - theirs[:, 1] + 1  # Paddle 1.x's +1
        ow, oh = cells[:, 2] - cells[:, 0], cells[:, 3] - cells[:, 1]
        distance = np.abs(np.log(ow[:, None] / tw[None])) + np.abs(np.log(oh[:, None] / th[None]))
        nearest = distance.argmin(axis=1).tolist()
        assert nearest == (order or list(range(len(cells)))), (
            f"{arch}: level {level}: the static anchors are not in the order from_static assumes: "
            f"{nearest} != {order}")
        worst = max(worst, float(np.max(np.abs(np.stack([tw[nearest] / ow, th[nearest] / oh]) - 1))))
        centres = (theirs[:, :2] + theirs[:, 2:]) / 2 - (cells[:, :2] + cells[:, 2:]) / 2
        shift = max(shift, float(np.abs(centres).max()) / stride)
    return worst, shift


def verify(arch: str, row: Row, ppdet: str, static_roots: dict[str, str], tool: str) -> dict:
    built = run_in_child(build, arch, row, ppdet)
    manifest, net, notes = built["manifest"], built["net"], built["notes"]
    _check(built["ours_26"], built["expected_26"], f"{arch}: PaddleDetection 2.6 differs from pxcore")
    _check(built["by_26_alias"], built["expected_26"], f"{arch}: 2.x names misplace tensors")

    by_static = run_in_child(load_static, arch, built["archive"], built["inputs"])
    _check(by_static, built["ours_static"], f"{arch}: from_static misplaces tensors")

    hrnet = net.backbone == "HRNet"
    # HRNet's upsampling in 0.x / PaddleX differs from pxcore's (measured below): the
    # equality is checked with pxcore's resizing in the static program
    semantics = "pxcore" if hrnet else "fluid"
    static = run_in_child(run_static, row.static, static_roots[row.static], row, net,
                          semantics, built["archive"], built["inputs"], env=LEGACY_STATIC)
    published = (run_in_child(run_static, row.static, static_roots[row.static], row, net,
                              "fluid", built["archive"], built["inputs"], env=LEGACY_STATIC)
                 if hrnet else static)
    shapes = {name: manifest["pdparams"][key] for name, key in manifest["legacy"].items()}
    shapes.update(manifest["legacy_converted"])  # the archive's shapes, before conversion
    same_names(static["variables"], shapes, f"{arch}: the static program's variables", "the legacy names")
    as_ours = _static_as_ours(static["outputs"], built["order"])
    _check(as_ours, built["ours_static"], f"{arch}: the static program, given the archive by name, "
           "differs from pxcore", tolerance=1e-2)
    size_gap, shift = _check_anchors(arch, static["anchors"], built["cells"], built["strides"],
                                     built["order"])
    notes.append(f"the static RPN was trained on Paddle 1.x's anchor_generator's anchors: centred "
                 f"(stride - 1) / 2 px off a cell's corner (up to {shift:.3g} strides from pxcore's "
                 f"and 2.x's) and with rounded sizes (up to {size_gap:.1%} apart)")
    if hrnet:
        gap = _gap(_static_as_ours(published["outputs"], built["order"]), built["ours_static"])
        where = ("HRFPN's resize_bilinear (align_corners=True)" if row.static == "paddlex" else
                 "HRNet's fuse-layer resize_nearest at scales 4 and 8 and HRFPN's resize_bilinear "
                 "(both align_corners=True)")
        notes.append(f"the static program upsamples as Paddle 1.x did in {where}, pxcore as "
                     f"PaddleDetection 2.x does: with the same weights the outputs differ by up "
                     f"to {gap:.3g} relative; the check above used pxcore's resizing there")

    static_source = PADDLEX_STATIC if row.static == "paddlex" else PPDET_STATIC
    manifest["source"] = (
        "pdparams: pxcore's state-dict keys and shapes. legacy: the variables of the static "
        f"program, {static_source} as {row.static_config} builds it (norm_type "
        f"{'affine_channel' if row.affine_channel else 'bn'}; backbone, neck, RPN head, box "
        "head and predictor, mask head), run in Paddle 3.3's legacy static mode: exactly these "
        "names, and the shapes of pxcore's tensors except legacy_converted's (background first, "
        "C4 anchors ratio-major), which pxcore_rcnn.legacy_names.from_static converts. "
        f"paddledet_2x: the state-dict keys of {PPDET_26} ppdet/modeling as "
        f"{row.dygraph_config or 'its modules compose for this row (no 2.6 config has it)'} "
        "builds it, held as backbone/neck/rpn_head/bbox_head/mask_head: exactly these keys "
        "and shapes. Random weights set by variable name into the static program, by key "
        "into 2.6, by key, through from_static + fit_state and through weight_aliases() "
        f"into pxcore give the same raw outputs ({SIZE} px images, {ROIS} RoIs). "
        f"Written by {tool}.")
    manifest["notes"] = notes
    order = ("model", "num_classes", "source", "notes", "pdparams", "legacy", "legacy_affine_channel",
             "legacy_converted", "paddledet_2x")
    report = [f"{arch}: {len(manifest['pdparams'])} tensors, "
              f"{sum(int(np.prod(s)) for s in manifest['pdparams'].values()):,} values",
              f"  static program ({row.static}) by variable name == pxcore through from_static "
              f"(largest relative gap {_gap(as_ours, built['ours_static']):.2g})",
              "  PaddleDetection 2.6 by key == pxcore by key == pxcore through the 2.x names "
              f"(largest relative gap {_gap(built['expected_26'], built['by_26_alias']):.2g})",
              *(f"  note: {n}" for n in notes)]
    return {"manifest": {k: manifest[k] for k in order}, "report": report}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ppdet", required=True, help="PaddleDetection 2.6.0's root (holding ppdet/)")
    parser.add_argument("--ppdet-static", dest="ppdet_static", required=True,
                        help=f"a tree of {PPDET_STATIC} holding ppdet/modeling/")
    parser.add_argument("--paddlex-static", dest="paddlex_static", required=True,
                        help=f"a tree of {PADDLEX_STATIC} holding paddlex/cv/nets/")
    manifests.add_out_argument(parser, "rcnn")
    parser.add_argument("rows", nargs="*", default=list(ROWS))
    args = parser.parse_args(argv)
    roots = {"ppdet": args.ppdet_static, "paddlex": args.paddlex_static}
    for arch in args.rows:
        result = verify(arch, ROWS[arch], args.ppdet, roots, tool="plugins/rcnn/tools/make_layouts.py")
        manifests.publish(args.out, arch, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
