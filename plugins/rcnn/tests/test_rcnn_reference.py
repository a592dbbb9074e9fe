"""Faster and Mask R-CNN against the reference code, end to end: PaddleX 1.3's static
network (paddlex/cv/nets: ResNet, FPN, FPNRPNHead / RPNHead, FPNRoIAlign / RoIAlign,
BBoxHead, MaskHead, as its faster_rcnn.py and mask_rcnn.py compose them at test time,
through reference/fluid.py's ``paddle.fluid`` stand-in, its parts built as
tools/make_layouts.py builds them) with Paddle's own 1.x operators doing what fluid's
layers did (anchor_generator, generate_proposals, collect/distribute_fpn_proposals,
roi_align, box_coder, box_clip, multiclass_nms), given random weights by variable name; Mask R-CNN's masks pasted into the image by PaddleX
1.3's own ``mask2out`` (models/utils/detection_eval.py), as its ``predict`` does.

pxcore loads the same tensors as a user loads the zoo's archive (a per-variable
directory through ``create_model(row, pretrained=...)``, which picks the row's
``legacy_args``: pixel boxes, rounded anchors, unaligned RoIAlign, the padded mask
paste) and must give the same proposals, detections (class, score, box in the original
image's pixels) and masks, for FPN and C4 rows, at scale 1 and for an image resized by
1.6 (short side 80 -> 128, as the rows' eval transforms take 500 -> 800) and padded to
a multiple of 32: PaddleDetection 0.x decoded, clipped and suppressed the final boxes
at the original image's scale (``im_info``'s scale; ``im_shape``), and clipped
proposals to the resized image, not the padding. Built with the preset's defaults
(PaddleDetection 2.x's conventions) it must not agree.

Tolerance: max |difference| relative to the largest value < 1e-4 on proposals, boxes,
scores and mask probabilities. The two sides run the same float32 network with other
summation orders (static program against dygraph); the post-processing is exact
comparisons and float32 arithmetic on the same values. Pasted masks are binary: the
paste rule must give exactly ``mask2out``'s masks from the reference's own boxes and
probabilities, except pixels whose resized probability lies within 1e-5 of the 0.5
threshold (OpenCV's bilinear coefficients round differently from pxcore's, by up to
2e-6); end to end (pxcore's boxes and probabilities, 1e-4 apart) at most 0.1% of each
mask's pixels may differ, where a box edge sits within 1e-4 of a whole pixel and is
cut to the other one. Random weights are scaled so that classes score above the 0.05
threshold (a handful of detections rather than none).

Needs PaddleX 1.3.11's code: ``python -m reference.install paddlex`` (skips, saying so,
without it). Each network runs in its own process: the static program needs
FLAGS_enable_pir_api=0 set before Paddle starts.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from pxcore.testing import pytest_plugin as kit
from reference import fluid
from reference.harness import TOLERANCE, relative_difference
from reference.tools import LEGACY_STATIC, run_in_child
from reference.tools import tool as reference_tool

pytestmark = [pytest.mark.reference, pytest.mark.slow]

IMAGE = (1, 3, 128, 192)  # non-square: a swapped height and width would show
# (row, original image (height, width) or None: the input itself). 80 x 110 scaled by
# 1.6 is 128 x 176, padded to 192 wide: the network's input is IMAGE either way.
RESIZED = (80, 110)
SCALE = 1.6
CASES = [("FasterRCNN-ResNet18-FPN", None), ("FasterRCNN-ResNet50", None),
         ("MaskRCNN-ResNet18-FPN", None), ("MaskRCNN-ResNet50", None),
         ("MaskRCNN-ResNet18-FPN", RESIZED)]  # boxes and masks: one resized case covers both
# Random weights rescaled to a trained network's ranges: objectness and box deltas of a
# few units at most (not boxes flung to the image's edges, with tied scores), class
# scores peaked enough that a handful pass the 0.05 threshold.
SCALES = {"rpn_head.score.weight": 0.05, "rpn_head.score.bias": 0.05,
          "rpn_head.delta.weight": 0.01, "rpn_head.delta.bias": 0.01,
          "predictor.bbox_delta.weight": 0.05, "predictor.bbox_delta.bias": 0.05,
          "predictor.bbox_score.weight": 2.0,
          # mask logits of a few units: probabilities spread over (0, 1), not saturated
          "mask_head.mask_logits.weight": 0.3}


def _tool():
    """plugins/rcnn/tools/make_layouts.py: the rows' mapping onto the reference code."""
    return reference_tool("rcnn")


# --- pxcore's side --------------------------------------------------------------------

def build_archive(arch: str, seed: int = 0) -> dict:
    """Random weights (batch norms calibrated on the image) as a Paddle 1.x archive of
    the row, written as the reference names and lays out its tensors, and the image."""
    import pxcore
    from pxcore.testing.random_weights import random_tensor
    from pxcore_rcnn.legacy_names import _anchor_permutation, static_names

    tool = _tool()
    model = pxcore.create_model(arch, num_classes=80).net
    rng = np.random.default_rng(seed)
    net = tool._describe(arch)
    channels = 256 if net.fpn else net.c4_channels
    resolution = 7 if net.fpn else 14
    inputs = {"image": rng.standard_normal(IMAGE).astype("float32"),
              "box_roi": rng.standard_normal((8, channels, resolution, resolution)).astype("float32")}
    shapes = {k: [int(d) for d in v.shape] for k, v in model.state_dict().items()}
    state = {k: random_tensor(rng, k, s) for k, s in shapes.items()}
    state = tool._calibrate(model, state, inputs)
    for key, scale in SCALES.items():
        if key in state:
            state[key] = state[key] * np.float32(scale)
    archive = tool._make_archive(model, state, static_names(model), _anchor_permutation(model), rng)
    return {"archive": archive, "image": inputs["image"]}


def image_info(image: np.ndarray, original: tuple[int, int] | None) -> dict:
    """The input's im_info (resized height, width, scale: Paddle 1.x's) and the
    original image's (height, width)."""
    if original is None:
        height, width = image.shape[2:4]
        return {"im_info": np.array([[height, width, 1.0]], np.float32), "original": (height, width)}
    height, width = (round(d * SCALE) for d in original)
    return {"im_info": np.array([[height, width, SCALE]], np.float32), "original": tuple(original)}


def pxcore_detect(arch: str, folder: str, image: np.ndarray, original, overrides: dict) -> dict:
    """The row built from the per-variable directory ``folder``: its build arguments,
    proposals, and detections (and masks) in the original image as ``model.predict``
    gives them: the network's outputs through its post-processing."""
    import paddle

    import pxcore
    from pxcore.inference.detection import image_info as predicts_info
    from pxcore_rcnn.pipeline import propose

    info = image_info(image, original)
    # what model.predict and evaluate give the network for such a resize
    resized = info["im_info"][0, :2]
    sample = {"im_shape": resized, "scale_factor": resized / np.asarray(info["original"], np.float32)}
    np.testing.assert_array_equal(predicts_info([sample], [info["original"]]), info["im_info"])
    model = pxcore.create_model(arch, num_classes=80, pretrained=folder, **overrides)
    net = model.net
    net.eval()
    with paddle.no_grad():
        outputs = [o.numpy() for o in net(paddle.to_tensor(image), im_info=info["im_info"])]
        # what pxcore computed before it took im_info (the same, unresized)
        plain = [o.numpy() for o in net(paddle.to_tensor(image))] if original else outputs
    scale = info["im_info"][:, 2:3].repeat(2, axis=1)
    found = net.postprocess(outputs, scale, [info["original"]])[0]
    rows, masks = found if net.with_mask else (found, None)
    without = net.postprocess(plain, scale, [info["original"]])[0]
    without = without[0] if net.with_mask else without
    pipeline = net.pipeline
    graphs = net.run_graph("rpn", [image])
    count, levels = len(pipeline.roi_strides), len(pipeline.rpn_strides)
    scores = [s[0] for s in graphs[count:count + levels]]
    deltas = [d[0] for d in graphs[count + levels:count + 2 * levels]]
    anchors = [pipeline.anchors(k, s.shape[1], s.shape[2]) for k, s in enumerate(scores)]
    rois = propose(scores, deltas, anchors, tuple(int(v) for v in info["im_info"][0, :2]),
                   pipeline.pre_nms_top_n, pipeline.post_nms_top_n, pipeline.rpn_nms_thresh,
                   pipeline.min_size, pipeline.box_convention)
    probs = None
    if net.with_mask:  # each detection's probabilities, in the order of ``rows``
        order = np.argsort(-outputs[0][:, 1], kind="stable")
        probs = outputs[2][order]
    return {"build_args": dict(model.build_args), "rois": rois, "bbox": rows, "masks": masks,
            "mask_probs": probs, "without_im_info": without}


# --- the reference's side -------------------------------------------------------------

def _install_postprocess_layers() -> None:
    """fluid's detection layers as PaddleX 1.3 calls them, each appending Paddle's own
    1.x operator with the arguments fluid gave it. Paddle 1.x chained RoIs between
    operators through LoD; with one image the counts are passed as well (each RoI
    variable carries its count as ``rois_num``), and ``multiclass_nms3`` (the same
    kernel, taking the count) stands for ``multiclass_nms``."""
    import paddle
    import paddle.nn.functional as F
    from paddle.base.layer_helper import LayerHelper

    layers = paddle.fluid.layers

    def op(op_type, inputs, outputs, attrs, dtypes=None):
        helper = LayerHelper(op_type)
        made = {}
        for key, count in outputs.items():
            dtype = (dtypes or {}).get(key, "float32")
            made[key] = ([helper.create_variable_for_type_inference(dtype) for _ in range(count)]
                         if count > 1 or key.startswith("Multi") else
                         helper.create_variable_for_type_inference(dtype))
        helper.append_op(type=op_type, inputs=inputs, outputs=made, attrs=attrs)
        return made

    def generate_proposals(scores, bbox_deltas, im_info, anchors, variances, pre_nms_top_n=6000,
                           post_nms_top_n=1000, nms_thresh=0.5, min_size=0.1, eta=1.0, name=None):
        out = op("generate_proposals",
                 {"Scores": scores, "BboxDeltas": bbox_deltas, "ImInfo": im_info,
                  "Anchors": anchors, "Variances": variances},
                 {"RpnRois": 1, "RpnRoiProbs": 1, "RpnRoisNum": 1},
                 {"pre_nms_topN": pre_nms_top_n, "post_nms_topN": post_nms_top_n,
                  "nms_thresh": nms_thresh, "min_size": min_size, "eta": eta},
                 {"RpnRoisNum": "int32"})
        out["RpnRois"].rois_num = out["RpnRoisNum"]
        out["RpnRoiProbs"].rois_num = out["RpnRoisNum"]
        return out["RpnRois"], out["RpnRoiProbs"]

    def collect_fpn_proposals(multi_rois, multi_scores, min_level, max_level, post_nms_top_n,
                              name=None):
        levels = max_level - min_level + 1
        out = op("collect_fpn_proposals",
                 {"MultiLevelRois": multi_rois[:levels], "MultiLevelScores": multi_scores[:levels],
                  "MultiLevelRoIsNum": [r.rois_num for r in multi_rois[:levels]]},
                 {"FpnRois": 1, "RoisNum": 1}, {"post_nms_topN": post_nms_top_n},
                 {"RoisNum": "int32"})
        out["FpnRois"].rois_num = out["RoisNum"]
        return out["FpnRois"]

    def distribute_fpn_proposals(fpn_rois, min_level, max_level, refer_level, refer_scale,
                                 name=None):
        levels = max_level - min_level + 1
        helper = LayerHelper("distribute_fpn_proposals")
        multi = [helper.create_variable_for_type_inference("float32") for _ in range(levels)]
        nums = [helper.create_variable_for_type_inference("int32") for _ in range(levels)]
        restore = helper.create_variable_for_type_inference("int32")
        # Paddle 1.x's operator measured RoIs as pixel boxes (its later pixel_offset=True).
        helper.append_op(type="distribute_fpn_proposals",
                         inputs={"FpnRois": fpn_rois, "RoisNum": fpn_rois.rois_num},
                         outputs={"MultiFpnRois": multi, "RestoreIndex": restore,
                                  "MultiLevelRoIsNum": nums},
                         attrs={"min_level": min_level, "max_level": max_level,
                                "refer_level": refer_level, "refer_scale": refer_scale,
                                "pixel_offset": True})
        for rois, num in zip(multi, nums, strict=True):
            rois.rois_num = num
        return multi, restore

    def roi_align(input, rois, pooled_height=1, pooled_width=1, spatial_scale=1.0,
                  sampling_ratio=-1, name=None):
        # Paddle 1.x's roi_align had no ``aligned``: it is the later aligned=False.
        return op("roi_align", {"X": input, "ROIs": rois, "RoisNum": rois.rois_num}, {"Out": 1},
                  {"pooled_height": pooled_height, "pooled_width": pooled_width,
                   "spatial_scale": spatial_scale, "sampling_ratio": sampling_ratio,
                   "aligned": False})["Out"]

    def box_coder(prior_box, prior_box_var, target_box, code_type="encode_center_size",
                  box_normalized=True, name=None, axis=0):
        return op("box_coder", {"PriorBox": prior_box, "TargetBox": target_box}, {"OutputBox": 1},
                  {"code_type": code_type, "box_normalized": box_normalized, "axis": axis,
                   "variance": [float(v) for v in prior_box_var]})["OutputBox"]

    def box_clip(input, im_info, name=None):
        return op("box_clip", {"Input": input, "ImInfo": im_info}, {"Output": 1}, {})["Output"]

    layers.generate_proposals = generate_proposals
    layers.collect_fpn_proposals = collect_fpn_proposals
    layers.distribute_fpn_proposals = distribute_fpn_proposals
    layers.roi_align = roi_align
    layers.box_coder = box_coder
    layers.box_clip = box_clip
    layers.sequence_expand = lambda x, y, ref_level=-1, name=None: x  # one image: broadcast
    layers.lod_reset = lambda x, y=None, target_lod=None: x
    layers.gather = lambda input, index, overwrite=True: paddle.gather(input, index.reshape([-1]))
    layers.softmax = lambda input, use_cudnn=False, name=None, axis=-1: F.softmax(input, axis=axis)
    layers.reshape = lambda x, shape, actual_shape=None, act=None, inplace=False, name=None: \
        paddle.reshape(x, list(shape))
    layers.transpose = lambda x, perm, name=None: paddle.transpose(x, perm)
    layers.sigmoid = lambda x, name=None: op("sigmoid", {"X": x}, {"Out": 1}, {})["Out"]


def _paste_like_paddlex(root: str, rows: np.ndarray, probs: np.ndarray, original) -> np.ndarray:
    """PaddleX 1.3's MaskRCNN._postprocess's masks: ``mask2out`` on the network's
    ``bbox`` [K, 6] and ``mask`` [K, C + 1, M, M], decoded from its RLEs."""
    import pycocotools.mask as mask_util

    from reference.loader import import_module

    evaluation = import_module("paddlex", "paddlex.cv.models.utils.detection_eval",
                               {"matplotlib": {"use": lambda *a, **k: None},
                                "paddlex.utils.logging": {}})
    result = {"bbox": (rows, [[len(rows)]]), "mask": (probs, [[len(rows)]]),
              "im_id": (np.array([[0]], np.int32), []),
              "im_shape": (np.array([[*original, 1.0]], np.float32), [])}
    found = evaluation.mask2out([result], {i: i for i in range(probs.shape[1])}, probs.shape[-1])
    return np.stack([mask_util.decode(f["segmentation"]) for f in found]).astype(np.uint8)


def reference_detect(root: str, arch: str, archive: dict, image: np.ndarray, original) -> dict:
    """In a process with FLAGS_enable_pir_api=0: PaddleX 1.3's test-time network with
    ``archive`` set by variable name; its proposals, detections in the original image
    and, for Mask R-CNN, the masks its ``predict`` gives (``mask2out``)."""
    import paddle

    paddle.enable_static()
    tool = _tool()
    fluid.install(resize="fluid")
    _install_postprocess_layers()
    modules = tool._stub_paddlex_13(Path(root))
    extractors = importlib.import_module("paddlex.cv.nets.detection.roi_extractor")
    net = tool._describe(arch)
    kind = "mask_rcnn.py" if net.mask else "faster_rcnn.py"
    row = tool.Row("paddlex", f"paddlex/cv/models/{kind}", False, None)
    backbone, neck, rpn, bbox, mask_head = tool._static_parts("paddlex", modules, row, net)
    settings = {"score_threshold": 0.05, "nms_top_k": -1, "keep_top_k": 100, "nms_threshold": 0.5,
                "normalized": False, "nms_eta": 1.0, "background_label": 0, **bbox.nms.__dict__}
    fetched = {}

    def nms(bboxes, scores):  # bbox_head.py's MultiClassNMS, on one image's RoIs
        helper = __import__("paddle.base.layer_helper", fromlist=["LayerHelper"]).LayerHelper("nms")
        out = helper.create_variable_for_type_inference("float32")
        index = helper.create_variable_for_type_inference("int32")
        count = helper.create_variable_for_type_inference("int32")
        helper.append_op(type="multiclass_nms3",
                         inputs={"BBoxes": bboxes, "Scores": scores, "RoisNum": fetched["rois"].rois_num},
                         outputs={"Out": out, "Index": index, "NmsRoisNum": count},
                         attrs={k: settings[k] for k in ("score_threshold", "nms_top_k", "keep_top_k",
                                                          "nms_threshold", "normalized", "nms_eta",
                                                          "background_label")})
        out.rois_num = count
        return out

    bbox.nms = nms
    main, startup = paddle.static.Program(), paddle.static.Program()
    with paddle.static.program_guard(main, startup):
        x = paddle.static.data("image", list(image.shape), "float32")
        im_info = paddle.static.data("im_info", [1, 3], "float32")
        im_shape = paddle.static.data("im_shape", [1, 3], "float32")
        body = backbone(x)
        spatial_scale = None
        if neck is not None:
            body, spatial_scale = neck.get_output(body)
        rois = rpn.get_proposals(body, im_info, mode="test")
        fetched["rois"] = rois
        # faster_rcnn.py / mask_rcnn.py: FPNRoIAlign(sampling_ratio=2), else RoIAlign(14, 1/16)
        if neck is not None:
            extractor = extractors.FPNRoIAlign(sampling_ratio=2)
            roi_feat = extractor(body, rois, spatial_scale)
        else:
            extractor = extractors.RoIAlign(resolution=14, spatial_scale=1.0 / 16)
            roi_feat = extractor(list(body.values())[-1], rois)
        pred = bbox.get_prediction(roi_feat, rois, im_info, im_shape)["bbox"]
        fetch = [rois, pred]
        if mask_head is not None:  # mask_rcnn.py's _eval, with detections (its Switch's default)
            boxes = paddle.slice(pred, [1], [2], [6])
            mask_rois = boxes * paddle.slice(im_info, [1], [2], [3])
            mask_rois.rois_num = pred.rois_num
            if neck is not None:
                mask_feat = extractor(body, mask_rois, spatial_scale, is_mask=True)
            else:
                mask_feat = bbox.get_head_feat(extractor(list(body.values())[-1], mask_rois))
            fetch.append(mask_head.get_prediction(mask_feat, boxes))
    info = image_info(image, original)
    shape = np.array([[*info["original"], 1.0]], np.float32)
    variables = fluid.variables(main)
    got = fluid.run(main, startup, archive, {"image": image, "im_info": info["im_info"], "im_shape": shape},
                    fetch)
    out = {"unset": sorted(set(variables) - set(archive)), "rois": got[0], "bbox": got[1],
           "masks": None, "mask_probs": None}
    if mask_head is not None:
        rows, probs = got[1], got[2]
        out["masks"] = _paste_like_paddlex(root, rows, probs, info["original"])
        out["mask_probs"] = probs[np.arange(len(rows)), rows[:, 0].astype(np.int64)]
    return out


# --- the comparison -------------------------------------------------------------------

def _order(bbox: np.ndarray, background_first: bool) -> tuple[np.ndarray, np.ndarray]:
    """Detections as pxcore numbers classes (the reference's 0 is background), ordered
    by class and score, and that order."""
    rows = np.asarray(bbox, np.float32).reshape(-1, 6).copy()
    if background_first:
        rows[:, 0] -= 1
    order = np.lexsort((-rows[:, 1], rows[:, 0]))
    return rows[order], order


def _case_id(case) -> str:
    arch, original = case
    return arch if original is None else f"{arch}-resized"


@pytest.fixture(scope="module", params=CASES, ids=_case_id)
def runs(request, tmp_path_factory):
    from reference import require

    root = str(require("paddlex"))
    arch, original = request.param
    made = run_in_child(build_archive, arch)
    folder = kit.write_legacy_archive(tmp_path_factory.mktemp(arch.replace("-", "_")),
                                      {name: name for name in made["archive"]}, made["archive"])
    legacy = run_in_child(pxcore_detect, arch, str(folder), made["image"], original, {})
    later = run_in_child(pxcore_detect, arch, str(folder), made["image"], original,
                         {"box_convention": "corner", "anchor_convention": "exact",
                          "roi_align_aligned": True, "roi_align_sampling_ratio": 0})
    reference = run_in_child(reference_detect, root, arch, made["archive"], made["image"], original,
                             env=LEGACY_STATIC)
    return {"arch": arch, "original": original, "legacy": legacy, "later": later,
            "reference": reference}


def test_the_archive_builds_the_legacy_conventions(runs):
    args = runs["legacy"]["build_args"]
    fpn = runs["arch"].endswith("FPN")
    assert (args["box_convention"], args["anchor_convention"]) == ("pixel", "rounded")
    assert (args["roi_align_aligned"], args["roi_align_sampling_ratio"]) == (False, 2 if fpn else 0)
    if runs["arch"].startswith("MaskRCNN"):
        assert args["mask_paste"] == "padded"
    assert runs["reference"]["unset"] == []  # every variable of the program came from the archive


def test_proposals_equal_the_references(runs):
    ours, theirs = runs["legacy"]["rois"], runs["reference"]["rois"]
    assert ours.shape == theirs.shape and len(theirs) > 10
    gap = relative_difference(ours, theirs)
    assert gap < TOLERANCE, f"{runs['arch']}: proposals differ by {gap:.3g} relative"


def test_detections_equal_the_references(runs):
    ours, _ = _order(runs["legacy"]["bbox"], background_first=False)
    theirs, _ = _order(runs["reference"]["bbox"], background_first=True)
    assert len(theirs) >= 3, "too few detections to compare: raise the class scores in SCALES"
    assert ours.shape == theirs.shape, f"{len(ours)} detections, the reference {len(theirs)}"
    np.testing.assert_array_equal(ours[:, 0], theirs[:, 0])
    gap = relative_difference(ours[:, 1:], theirs[:, 1:])
    assert gap < TOLERANCE, f"{runs['arch']}: detections differ by {gap:.3g} relative"


def _masks(run: dict, background_first: bool) -> tuple[np.ndarray, np.ndarray]:
    _, order = _order(run["bbox"], background_first)
    return run["mask_probs"][order], run["masks"][order]


def test_mask_probabilities_equal_the_references(runs):
    if runs["reference"]["masks"] is None:
        pytest.skip("Faster R-CNN: no masks")
    ours, _ = _masks(runs["legacy"], False)
    theirs, _ = _masks(runs["reference"], True)
    assert ours.shape == theirs.shape
    gap = relative_difference(ours, theirs)
    assert gap < TOLERANCE, f"{runs['arch']}: mask probabilities differ by {gap:.3g} relative"
    # not saturated: the pasted masks below compare something
    assert 0.05 < float((theirs > 0.5).mean()) < 0.95


def test_the_paste_rule_is_paddlex_13s(runs):
    """pxcore's ``"padded"`` rule on the reference's own boxes and probabilities gives
    mask2out's masks."""
    import cv2

    from pxcore.ops import paste_masks

    if runs["reference"]["masks"] is None:
        pytest.skip("Faster R-CNN: no masks")
    rows, order = _order(runs["reference"]["bbox"], True)
    probs, expected = _masks(runs["reference"], True)
    height, width = expected.shape[1:]
    got = paste_masks(probs, rows[:, 2:6], height, width, rule="padded")
    assert expected.any(axis=(1, 2)).all()
    wrong = np.argwhere(got != expected)
    for k, y, x in wrong:  # only pixels at the threshold, within OpenCV's rounding
        m = probs.shape[-1]
        box = rows[k, 2:6]
        half = (box[2:] - box[:2]) * np.float32(0.5) * np.float32((m + 2.0) / m)
        centre = (box[2:] + box[:2]) * np.float32(0.5)
        x1, y1 = (centre - half).astype(np.int32)
        x2, y2 = (centre + half).astype(np.int32)
        padded = np.pad(probs[k], 1)
        value = cv2.resize(padded, (int(x2 - x1 + 1), int(y2 - y1 + 1)))[y - y1, x - x1]
        assert abs(float(value) - 0.5) < 1e-5, f"mask {k} pixel {(y, x)}: {value}"
    # PaddleDetection 2.x's rule pastes other masks: the check above tells them apart
    later = paste_masks(probs, rows[:, 2:6], height, width, rule="sample")
    assert (later != expected).sum() > 100 * max(len(wrong), 1)


def test_masks_equal_the_references(runs):
    if runs["reference"]["masks"] is None:
        pytest.skip("Faster R-CNN: no masks")
    _, ours = _masks(runs["legacy"], False)
    _, theirs = _masks(runs["reference"], True)
    assert ours.shape == theirs.shape, f"masks {ours.shape}, the reference's {theirs.shape}"
    differ = (ours != theirs).reshape(len(ours), -1).mean(axis=1)
    assert differ.max() <= 1e-3, f"{runs['arch']}: up to {differ.max():.2%} of a mask's pixels differ"


def test_the_later_conventions_compute_something_else(runs):
    # Otherwise the checks above would pass with either convention.
    ours, theirs = runs["later"]["rois"], runs["reference"]["rois"]
    assert ours.shape != theirs.shape or relative_difference(ours, theirs) > 100 * TOLERANCE


def test_without_im_info_a_resized_image_differs(runs):
    """What pxcore computed before it took im_info (the final boxes at the input's scale,
    proposals clipped to the padding): not the reference's, so the checks above see
    the original-scale rule."""
    if runs["original"] is None:
        pytest.skip("scale 1, no padding: im_info changes nothing")
    ours, _ = _order(runs["legacy"]["without_im_info"], background_first=False)
    theirs, _ = _order(runs["reference"]["bbox"], background_first=True)
    assert ours.shape != theirs.shape or relative_difference(ours, theirs) > 100 * TOLERANCE
