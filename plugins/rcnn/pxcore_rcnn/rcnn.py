"""Faster R-CNN (Ren et al., 2015) and Mask R-CNN (He et al., 2017) on any backbone,
C4 or FPN: one class, and the zoo's sixteen rows are presets of it.

- **C4**: the RPN and RoIAlign read the backbone's stride-16 level; the backbone's
  last stage is the box head, run on each 14x14 RoI; the mask head upsamples that
  stage's 7x7 output once (14x14 masks).
- **FPN**: a pyramid over every level the backbone reports, one anchor size per level,
  RoIAlign from the level each RoI's size picks, two fully connected layers as the box
  head, four convs and an upsampling for 28x28 masks.

In training, ``forward`` stops after the RPN and ``loss`` does the rest (targets are
labels built in numpy). In evaluation the detector is three graphs with numpy between
them (``pipeline.py``): ``rpn_graph`` (backbone, pyramid, RPN head), ``box_graph``
(RoIAlign and the box head) and ``mask_graph``; ``forward`` runs them eagerly through
the same ``RCNNPipeline`` an export runs in any runtime, and returns ``bbox [N, 6]``
(class, score, x1, y1, x2, y2 in input pixels), ``bbox_num [B]`` and, with masks,
``mask [N, M, M]`` (the probability map of each box's class); ``postprocess`` (numpy)
scales them back to the image and pastes the masks. ``deploy_graphs`` and
``deploy_pipeline`` are what ``export`` writes.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

from pxcore.compose import build_backbone
from pxcore.errors import IncompatiblePartsError, PxError

from .boxes import check_conventions
from .fpn import FPN
from .heads import BoxPredictor, MaskHead, Res5Head, TwoFCHead
from .hrfpn import HRFPN
from .pipeline import BOX_WEIGHTS, RCNNPipeline
from .postprocess import RCNNPostprocess
from .roi import RoIExtractor
from .rpn import AnchorGenerator, ProposalSettings, RPNHead, anchors_numpy, propose
from .targets import mask_targets, rpn_targets, sample_rois, valid_gt

NECKS = {"FPN": FPN, "HRFPN": HRFPN}
FPN_ANCHOR_SIZES = ((32,), (64,), (128,), (256,), (512,))
C4_ANCHOR_SIZES = ((32, 64, 128, 256, 512),)
# PaddleDetection's proposal counts: (pre-NMS per level, post-NMS per image).
FPN_PROPOSALS = {"train": (2000, 1000), "test": (1000, 1000)}
C4_PROPOSALS = {"train": (12000, 2000), "test": (6000, 1000)}


def _numpy(value):
    return None if value is None else (value.numpy() if hasattr(value, "numpy") else np.asarray(value))


# The strides each layout reads: the pyramid's four inputs (it adds P6 itself), or C4.
FPN_STRIDES = (4, 8, 16, 32)
C4_STRIDES = (16,)


def _build_backbone(backbone: Any, backbone_args: Mapping[str, Any] | None, fpn: bool):
    """Any backbone (a registered name, a config or a built pxcore Backbone) giving the
    levels its layout reads. C4 also runs the backbone's last stage as its box head
    (``stage_blocks``: ResNet has it)."""
    net = build_backbone(backbone, backbone_args, consumer="R-CNN")
    net.select_strides(FPN_STRIDES if fpn else C4_STRIDES, "R-CNN " + ("FPN" if fpn else "C4"))
    if not fpn and not hasattr(net, "stage_blocks"):
        raise IncompatiblePartsError(f"R-CNN C4 (fpn=False) runs the backbone's last stage as its box head: "
                      f"it needs a backbone with stage_blocks(), like ResNet; "
                      f"{type(net).__name__} has not. Use fpn=True")
    return net


def _build_neck(neck: str, levels, channels: int, neck_args: Mapping[str, Any] | None):
    """The pyramid ``neck`` names, given ``neck_args`` besides the levels and channels
    (HRFPN's ``upsample``: the zoo's HRNet archives need Paddle 1.x's)."""
    if neck not in NECKS:
        raise PxError(f"R-CNN: neck {neck!r} is not one of {', '.join(NECKS)}")
    args = dict(neck_args or {})
    try:
        inspect.signature(NECKS[neck]).bind(levels, channels, **args)
    except TypeError as error:
        raise PxError(f"R-CNN: neck_args {args} do not fit the {neck} neck ({error}); "
                      f"see pxcore_rcnn.{NECKS[neck].__module__.rsplit('.', 1)[-1]}."
                      f"{NECKS[neck].__name__}'s arguments") from None
    return NECKS[neck](levels, channels, **args)


class RCNN(nn.Layer):
    """Faster R-CNN, or Mask R-CNN with ``with_mask``. ``fpn`` picks the pyramid layout
    (its ``neck``: FPN, or HRFPN for HRNet) or C4; the rest are PaddleDetection's defaults, exposed for small data and CPUs
    (``fpn_channels``, ``box_head_hidden``, proposal counts, sample sizes).

    Conventions (defaults: PaddleDetection 2.x's). The zoo's archives were trained by
    PaddleDetection 0.x / PaddleX 1.x, which computed with ``box_convention="pixel"``
    (a box covers x2 - x1 + 1 pixels in its coding, area, IoU and clipping),
    ``anchor_convention="rounded"`` (Paddle 1.x's anchor generator),
    ``roi_align_aligned=False`` and ``roi_align_sampling_ratio=2`` with FPN (0 in C4),
    and pasted masks by ``mask_paste="padded"`` (``pxcore.ops.paste_masks``):
    the zoo rows name these (``legacy_args``) and ``create_model(row, pretrained=archive)``
    builds with them; an argument given to ``create_model`` overrides that choice."""

    export_batch_size = 1  # the pipeline runs the graphs on one image at a time
    # Where only the wiring is tested (pxcore.testing.composition): narrow layers and few
    # boxes, so the mask head does not run on 100 detections of an untrained net.
    smoke_arguments = {"fpn_channels": 32, "box_head_hidden": 64, "mask_head_channels": 16,
                       "test_proposals": (200, 50), "keep_top_k": 10}

    def __init__(self, num_classes: int = 80, backbone: Any = "ResNet50",
                 backbone_args: Mapping[str, Any] | None = None, fpn: bool = True,
                 neck: str = "FPN", neck_args: Mapping[str, Any] | None = None,
                 with_mask: bool = False, fpn_channels: int = 256,
                 anchor_sizes: Sequence[Sequence[float]] | None = None,
                 anchor_ratios: Sequence[float] = (0.5, 1.0, 2.0),
                 train_proposals: Sequence[int] | None = None,
                 test_proposals: Sequence[int] | None = None, rpn_nms_thresh: float = 0.7,
                 rpn_batch_size: int = 256, roi_batch_size: int = 512,
                 roi_fg_fraction: float = 0.25, box_head_hidden: int = 1024,
                 mask_head_channels: int = 256, score_threshold: float = 0.05,
                 nms_threshold: float = 0.5, keep_top_k: int = 100,
                 mask_threshold: float = 0.5, box_convention: str = "corner",
                 anchor_convention: str = "exact", roi_align_aligned: bool = True,
                 roi_align_sampling_ratio: int = 0, mask_paste: str = "sample") -> None:
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 1:
            raise PxError(f"R-CNN: num_classes must be a positive integer, got {num_classes!r}")
        check_conventions(box_convention, anchor_convention)
        if not isinstance(roi_align_sampling_ratio, int) or roi_align_sampling_ratio < 0:
            raise PxError("R-CNN: roi_align_sampling_ratio must be an integer >= 0 (0: adaptive), "
                          f"got {roi_align_sampling_ratio!r}")
        self.box_convention = box_convention
        self.num_classes = num_classes
        self.fpn = fpn
        self.with_mask = with_mask
        self.backbone = _build_backbone(backbone, backbone_args, fpn)
        levels = self.backbone.out_features
        if not fpn and neck_args:
            raise PxError(f"R-CNN: neck_args {dict(neck_args)} apply to the pyramid's neck; "
                          "C4 (fpn=False) has none: leave them out")
        if fpn:
            self.neck = _build_neck(neck, levels, fpn_channels, neck_args)
            rpn_levels = self.neck.out_features
            roi_levels = rpn_levels[:-1]  # P6 only proposes
            counts = FPN_PROPOSALS
        else:
            self.neck = None
            rpn_levels = roi_levels = levels[-1:]
            counts = C4_PROPOSALS
        sizes = anchor_sizes or (FPN_ANCHOR_SIZES[:len(rpn_levels)] if fpn else C4_ANCHOR_SIZES)
        self.anchor_generator = AnchorGenerator(sizes, anchor_ratios, [f.stride for f in rpn_levels],
                                                anchor_convention)
        self.rpn_head = RPNHead(rpn_levels[0].channels, self.anchor_generator.num_anchors)
        self.train_proposals = ProposalSettings(*(train_proposals or counts["train"]),
                                                nms_thresh=rpn_nms_thresh)
        self.test_proposals = ProposalSettings(*(test_proposals or counts["test"]),
                                               nms_thresh=rpn_nms_thresh)
        self.rpn_batch_size = rpn_batch_size
        self.roi_batch_size = roi_batch_size
        self.roi_fg_fraction = roi_fg_fraction
        self._roi_levels = len(roi_levels)
        self._roi_features = list(roi_levels)
        align = {"sampling_ratio": roi_align_sampling_ratio, "aligned": bool(roi_align_aligned),
                 "pixel_offset": box_convention == "pixel"}
        if fpn:
            self.box_roi = RoIExtractor(roi_levels, 7, **align)
            self.box_head = TwoFCHead(fpn_channels, 7, box_head_hidden)
        else:
            self.box_roi = RoIExtractor(roi_levels, 14, **align)
            c5 = self.backbone.stage_blocks(3)
            self.box_head = Res5Head(c5, roi_levels[0].channels * 2)
        self.predictor = BoxPredictor(self.box_head.out_channels, num_classes)
        if with_mask:
            if fpn:
                self.mask_roi = RoIExtractor(roi_levels, 14, **align)
                self.mask_head = MaskHead(fpn_channels, num_classes, 4, mask_head_channels)
                self.mask_resolution = 28
            else:
                self.mask_head = MaskHead(self.box_head.out_channels, num_classes, 0,
                                          mask_head_channels)
                self.mask_resolution = 14
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.keep_top_k = keep_top_k
        self.postprocess = RCNNPostprocess(with_mask=with_mask, mask_threshold=mask_threshold,
                                           mask_paste=mask_paste, box_convention=box_convention)

    # A checkpoint for another class count leaves these freshly initialised.
    head_prefixes = ("predictor.", "mask_head.mask_logits.")

    def weight_aliases(self) -> dict[str, str]:
        """PaddleDetection's names -> our keys: 2.x checkpoints' keys, and the 0.x / PaddleX
        1.x archives' variable names that are plain renames (``legacy_names``; the
        class-score, box-delta and mask-logit tensors of 0.x need ``from_static``)."""
        from .legacy_names import weight_aliases

        return weight_aliases(self)

    def convert_weights(self, state):
        """Before the renames: a PaddleDetection 0.x / PaddleX 1.x archive's tensors
        that differ by more than names (background class first, C4 anchors ratio-major,
        affine-channel backbones) in our layout; other layouts pass unchanged."""
        from .legacy_names import from_static

        return from_static(self, state)

    # deploy.yml's outputs: what the pipeline of graphs gives, as one graph did.
    @property
    def output_names(self) -> list[str]:
        return ["bbox", "bbox_num", "mask"] if self.with_mask else ["bbox", "bbox_num"]

    @property
    def loss_fields(self) -> tuple[str, ...]:
        masks = ("gt_mask",) if self.with_mask else ()
        return ("gt_bbox", "gt_class", "gt_score", *masks)

    # Measured: Paddle 3.3's pre-PIR static mode (FLAGS_enable_pir_api=0), the only one
    # that writes what Paddle Lite reads, fails on this graph's ops.
    legacy_export_refusal = ("Paddle 3.3's pre-PIR static mode fails on R-CNN's graph at the "
                             "RPN's proposal step (measured)")

    # --- the export: three graphs and the numpy pipeline between them ---------------

    # RoIAlign with aligned=True is ONNX's RoiAlign in its opset-16 form
    # (coordinate_transformation_mode "half_pixel"); opset 13's shifts every sample.
    # Unaligned (Paddle 1.x's) is opset 13's: paddle2onnx writes opset 16's RoiAlign
    # without the mode, which then defaults to half_pixel (measured with paddle2onnx).
    ONNX_OPSET = 16
    UNALIGNED_ONNX_OPSET = 13

    @property
    def onnx_opset(self) -> int:
        return self.ONNX_OPSET if self.box_roi.aligned else self.UNALIGNED_ONNX_OPSET

    def pipeline_config(self) -> dict[str, Any]:
        settings = self.test_proposals
        return {"num_classes": self.num_classes,
                "anchor_sizes": [list(s) for s in self.anchor_generator.sizes],
                "anchor_ratios": list(self.anchor_generator.ratios),
                "rpn_strides": list(self.anchor_generator.strides),
                "roi_strides": list(self.box_roi.strides),
                "pre_nms_top_n": settings.pre_nms_top_n, "post_nms_top_n": settings.post_nms_top_n,
                "rpn_nms_thresh": settings.nms_thresh, "min_size": settings.min_size,
                "box_weights": list(BOX_WEIGHTS), "score_threshold": self.score_threshold,
                "nms_threshold": self.nms_threshold, "keep_top_k": self.keep_top_k,
                "with_mask": self.with_mask,
                "mask_resolution": getattr(self, "mask_resolution", 28),
                "box_convention": self.box_convention,
                "anchor_convention": self.anchor_generator.convention}

    @property
    def pipeline(self) -> RCNNPipeline:
        """The numpy stages, as the current settings (thresholds, proposal counts) say."""
        config = self.pipeline_config()
        if getattr(self, "_pipeline", None) is None or self._pipeline.to_config() != config:
            self._pipeline = RCNNPipeline(**config)
        return self._pipeline

    def deploy_pipeline(self) -> dict[str, Any]:
        """deploy.yml's ``pipeline``: the numpy runner between the graphs."""
        return {"runner": f"{RCNNPipeline.__module__}:{RCNNPipeline.__name__}",
                "args": self.pipeline.to_config()}

    def deploy_graphs(self, image_shape: Sequence[int | None]) -> dict[str, dict[str, Any]]:
        """The graphs an export writes, each ``{"layer", "inputs" (InputSpecs), "outputs"
        (names), "onnx_opset"}``, for an input of ``image_shape`` [1, 3, H, W]."""
        count = self._roi_levels
        channels = [f.channels for f in self._roi_features]
        features = [paddle.static.InputSpec([1, c, None, None], "float32", f"feature{i}")
                    for i, c in enumerate(channels)]
        # Shape rules for engines built per range of shapes (TensorRT): a feature map is
        # the image divided by its stride; a level gets up to all the RoIs (one at
        # least: an empty level gets a placeholder row).
        settings = self.test_proposals
        strides = {f"feature{i}": {"stride": int(f.stride)} for i, f in enumerate(self._roi_features)}

        def boxes(name):
            return [paddle.static.InputSpec([None, 4], "float32", f"{name}{i}") for i in range(count)]

        def most(name, limit):
            return {f"{name}{i}": {"max_count": max(1, int(limit))} for i in range(count)}

        levels = len(self.anchor_generator.strides)
        box_parts = [self.box_roi_layers(), self.box_head, self.predictor]
        graphs = {
            "rpn": {"layer": _Graph(self.rpn_graph, [self.backbone, self.neck, self.rpn_head]),
                    "inputs": [paddle.static.InputSpec(list(image_shape), "float32", "image")],
                    "outputs": [f"feature{i}" for i in range(count)]
                    + [f"score{i}" for i in range(levels)] + [f"delta{i}" for i in range(levels)]},
            "box": {"layer": _Graph(self.box_graph, box_parts), "inputs": features + boxes("rois"),
                    "outputs": ["probs", "deltas"], "onnx_opset": self.onnx_opset,
                    "shape_rules": {**strides, **most("rois", settings.post_nms_top_n)}},
        }
        if self.with_mask:
            parts = [self.mask_head] + ([] if self.fpn else [self.box_roi_layers()])
            graphs["mask"] = {"layer": _Graph(self.mask_graph, parts),
                              "inputs": features + boxes("boxes"), "outputs": ["mask_logits"],
                              "onnx_opset": self.onnx_opset,
                              "shape_rules": {**strides, **most("boxes", self.keep_top_k)}}
        return graphs

    def box_roi_layers(self) -> nn.Layer:
        """The layers the box head runs that it does not own (C4: the backbone's last
        stage), so that a graph holding them saves their weights."""
        return nn.LayerList(list(getattr(self.box_head, "_blocks", [])))

    # --- the network ---------------------------------------------------------------

    def _features(self, image):
        features = self.backbone(image)
        return self.neck(features) if self.neck is not None else features

    def forward(self, image, im_info=None):
        """Evaluation: the detections (``pipeline.py``); ``im_info`` [B, 3] gives each
        image's resized height and width before padding and its resize factor."""
        if not self.training:
            outputs = self.pipeline(self.run_graph, image.numpy(), _numpy(im_info))
            return [paddle.to_tensor(o) for o in outputs]
        features = self._features(image)
        scores, deltas = self.rpn_head(features)
        anchors = self.anchor_generator(features)
        image_hw = paddle.shape(image)[2:4].astype("float32").reshape([1, 2])
        return {"features": features, "scores": scores, "deltas": deltas,
                "anchors": anchors, "image_hw": image_hw}

    def run_graph(self, name: str, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """One of the graphs, eagerly, on numpy arrays (the pipeline's ``run``)."""
        graph = {"rpn": self.rpn_graph, "box": self.box_graph, "mask": self.mask_graph}[name]
        with paddle.no_grad():
            return [o.numpy() for o in graph(*[paddle.to_tensor(a) for a in inputs])]

    def rpn_graph(self, image):
        """The feature maps RoIAlign reads, then per RPN level objectness and deltas."""
        features = self._features(image)
        scores, deltas = self.rpn_head(features)
        return [*features[:self._roi_levels], *scores, *deltas]

    def box_graph(self, *inputs):
        """The roi levels' feature maps, then each level's RoIs [R_l, 4] -> class
        probabilities [R, C + 1] and per-class deltas [R, 4C], RoIs in level order."""
        count = self._roi_levels
        vector, _ = self.box_head(self.box_roi.pool_levels(list(inputs[:count]), list(inputs[count:])))
        logits, deltas = self.predictor(vector)
        return [F.softmax(logits, axis=-1), deltas]

    def mask_graph(self, *inputs):
        """The roi levels' feature maps, then each level's boxes -> mask logits [K, C, M, M]."""
        count = self._roi_levels
        features, boxes = list(inputs[:count]), list(inputs[count:])
        if self.fpn:
            return [self.mask_head(self.mask_roi.pool_levels(features, boxes))]
        _, c5_map = self.box_head(self.box_roi.pool_levels(features, boxes))
        return [self.mask_head(c5_map)]

    # --- training ------------------------------------------------------------------

    def loss(self, outputs, gt_bbox, gt_class, gt_score=None, gt_mask=None) -> dict:
        """Losses for a batch from ``forward``'s training outputs: ``gt_bbox [B, M, 4]``
        (x1, y1, x2, y2 in input pixels; zero rows pad), ``gt_class [B, M]``, and for
        Mask R-CNN ``gt_mask [B, M, H, W]`` (each instance's mask at input size)."""
        if not isinstance(outputs, dict):
            raise PxError("R-CNN's loss takes forward's training outputs; put the network in "
                          "training mode (net.train()) before the forward")
        if self.with_mask and gt_mask is None:
            raise PxError("Mask R-CNN trains on instance masks: the data set gives none "
                          "(use COCO annotations with polygon segmentations)")
        boxes_all, classes_all = _numpy(gt_bbox), _numpy(gt_class).astype(np.int64)
        masks_all = _numpy(gt_mask) if self.with_mask else None
        batch = boxes_all.shape[0]
        rng = np.random.default_rng(np.random.randint(0, 2 ** 31 - 1))
        gts = []
        for i in range(batch):
            keep = valid_gt(boxes_all[i], classes_all[i])
            gts.append((boxes_all[i][keep].astype(np.float32), classes_all[i][keep], keep))
        losses = self._rpn_loss(outputs, gts, rng)
        with paddle.no_grad():
            rois, rois_num = propose([s.detach() for s in outputs["scores"]],
                                     [d.detach() for d in outputs["deltas"]],
                                     outputs["anchors"], outputs["image_hw"], self.train_proposals,
                                     len(gts), pixel_offset=self.box_convention == "pixel")
        losses.update(self._head_loss(outputs["features"], rois.numpy(), rois_num.numpy(),
                                      gts, masks_all, rng))
        losses["loss"] = paddle.add_n([v for k, v in losses.items()])
        return losses

    def _rpn_loss(self, outputs, gts, rng) -> dict:
        anchors = anchors_numpy(outputs["anchors"])
        batch = outputs["scores"][0].shape[0]
        scores = paddle.concat([s.transpose([0, 2, 3, 1]).reshape([batch, -1])
                                for s in outputs["scores"]], axis=1)
        deltas = paddle.concat([d.transpose([0, 2, 3, 1]).reshape([batch, -1, 4])
                                for d in outputs["deltas"]], axis=1)
        picked_scores, labels, picked_deltas, targets = [], [], [], []
        for i, (boxes, _, _) in enumerate(gts):
            index, label, target = rpn_targets(anchors, boxes, rng, self.rpn_batch_size,
                                               box_convention=self.box_convention)
            picked_scores.append(paddle.gather(scores[i], paddle.to_tensor(index)))
            labels.append(label)
            positives = index[:len(target)]
            if len(positives):
                picked_deltas.append(paddle.gather(deltas[i], paddle.to_tensor(positives)))
                targets.append(target)
        sampled = sum(len(label) for label in labels)
        cls_loss = F.binary_cross_entropy_with_logits(
            paddle.concat(picked_scores), paddle.to_tensor(np.concatenate(labels)), reduction="sum")
        if picked_deltas:
            reg = paddle.abs(paddle.concat(picked_deltas) - paddle.to_tensor(np.concatenate(targets))).sum()
        else:
            reg = deltas.sum() * 0.0
        return {"loss_rpn_cls": cls_loss / max(sampled, 1), "loss_rpn_reg": reg / max(sampled, 1)}

    def _head_loss(self, features, rois, rois_num, gts, masks_all, rng) -> dict:
        sampled, starts = [], np.concatenate([[0], np.cumsum(rois_num)])
        for i, (boxes, classes, _) in enumerate(gts):
            sampled.append(sample_rois(rois[starts[i]:starts[i + 1]], boxes, classes,
                                       self.num_classes, rng, self.roi_batch_size,
                                       self.roi_fg_fraction, weights=BOX_WEIGHTS,
                                       box_convention=self.box_convention))
        roi_boxes = np.concatenate([s[0] for s in sampled])
        labels = np.concatenate([s[1] for s in sampled])
        targets = np.concatenate([s[2] for s in sampled])
        counts = paddle.to_tensor(np.array([len(s[0]) for s in sampled], np.int32))
        roi_features = features[:self._roi_levels]
        roi_tensor = paddle.to_tensor(roi_boxes)
        vector, c5_map = self.box_head(self.box_roi(roi_features, roi_tensor, counts))
        logits, deltas = self.predictor(vector)
        losses = {"loss_bbox_cls": F.cross_entropy(logits, paddle.to_tensor(labels))}
        fg = np.flatnonzero(labels < self.num_classes)
        if len(fg):
            columns = (labels[fg, None] * 4 + np.arange(4)[None]).reshape(-1)
            rows = np.repeat(fg, 4)
            picked = paddle.gather_nd(deltas, paddle.to_tensor(np.stack([rows, columns], 1)))
            reg = paddle.abs(picked - paddle.to_tensor(targets[fg].reshape(-1))).sum()
        else:
            reg = deltas.sum() * 0.0
        losses["loss_bbox_reg"] = reg / len(labels)
        if self.with_mask:
            losses["loss_mask"] = self._mask_loss(roi_features, sampled, gts, masks_all, c5_map, fg)
        return losses

    def _mask_loss(self, roi_features, sampled, gts, masks_all, c5_map, fg):
        fg_rois, fg_targets, fg_labels, counts = [], [], [], []
        for i, (rois, labels, _, gt_index) in enumerate(sampled):
            mine = np.flatnonzero(labels < self.num_classes)
            counts.append(len(mine))
            if len(mine) == 0:
                continue
            instance_masks = masks_all[i][gts[i][2]]
            fg_rois.append(rois[mine])
            fg_labels.append(labels[mine])
            fg_targets.append(mask_targets(instance_masks, rois[mine], gt_index[mine],
                                           self.mask_resolution))
        if not fg_rois:
            return sum(p.sum() for p in self.mask_head.parameters()) * 0.0
        labels = paddle.to_tensor(np.concatenate(fg_labels))
        if self.fpn:
            logits = self.mask_head(self.mask_roi(roi_features, paddle.to_tensor(np.concatenate(fg_rois)),
                                                  paddle.to_tensor(np.array(counts, np.int32))))
        else:
            logits = self.mask_head(paddle.gather(c5_map, paddle.to_tensor(fg)))
        pick = F.one_hot(labels, self.num_classes).unsqueeze([2, 3])
        return F.binary_cross_entropy_with_logits(
            (logits * pick).sum(axis=1), paddle.to_tensor(np.concatenate(fg_targets)))


class _Graph(nn.Layer):
    """One graph of the export: ``forward`` is one of RCNN's ``*_graph`` methods, and it
    holds the layers that method reads, so that its saved parameters are theirs. Its
    inputs come as one list (``to_static`` takes no ``*args``); the program's inputs are
    that list's items, in order."""

    def __init__(self, method, parts) -> None:
        super().__init__()
        self._method = method
        self.parts = nn.LayerList([p for p in parts if p is not None])

    def forward(self, inputs):
        return self._method(*inputs)
