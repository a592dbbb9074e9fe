"""The names PaddleDetection gave Faster / Mask R-CNN's tensors, made from the network.

Two layouts besides pxcore's own state dict:

**Static** (PaddleDetection 0.x and PaddleX 1.x on Paddle 1.x: the zoo's per-variable
``.tar`` archives, or ``fluid.save``'s ``.pdparams`` keyed by variable name):

- the backbone's names are those of the ImageNet archives it was initialised from
  (``backbone.weight_aliases()``, the classifier's own left out): ``res2a_branch2a_weights``,
  ``bn2a_branch2a_scale``... for ResNet, ``st2_1_layer_1_2_bn_mean``... for HRNet. The C4
  rows' box head (``ResNetC5``) is the backbone's stage 5 under the backbone's names.
  A ResNet built with ``norm_type: affine_channel`` (most of the zoo's ResNet rows) has
  only ``<bn>_scale`` / ``_offset``, no statistics;
- FPN (``backbones/fpn.py``): the lateral 1x1 conv of the deepest level
  ``fpn_inner_res5_sum_w`` / ``_b``, of the others ``fpn_inner_res<n>_sum_lateral_w``; the
  3x3 outputs ``fpn_res<n>_sum_w``. HRFPN (``backbones/hrfpn.py``, no biases):
  ``hrfpn_reduction_weights`` and ``shared_fpn_conv_<i>_weights``;
- RPN (``anchor_heads/rpn_head.py``): ``conv_rpn_w``, ``rpn_cls_logits_w``,
  ``rpn_bbox_pred_w`` (and ``_b``); FPN shares its head under the lowest level's names
  ``conv_rpn_fpn2_w``, ``rpn_cls_logits_fpn2_w``, ``rpn_bbox_pred_fpn2_w``;
- box head (``roi_heads/bbox_head.py``): ``fc6_w``, ``fc7_w`` (FPN), then ``cls_score_w``
  and ``bbox_pred_w``;
- mask head (``roi_heads/mask_head.py``): ``mask_inter_feat_<1..4>_w`` (FPN),
  ``conv5_mask_w`` (the 2x transposed conv), ``mask_fcn_logits_w``.

Some of these are not pxcore's tensors under another name and need a conversion
(``from_static``):

- 0.x counts the background as class 0: ``cls_score`` has C + 1 columns with the
  background *first* (pxcore and PaddleDetection 2.x: last); ``bbox_pred`` has 4 (C + 1)
  columns, the first four the background's (pxcore: 4 C); ``mask_fcn_logits`` has C + 1
  maps, the first the background's (pxcore: C);
- the C4 RPN's 15 anchors per cell are ratio-major in 0.x (Paddle 1.x's
  ``anchor_generator`` loops over the aspect ratios outside the sizes), size-major in
  pxcore and 2.x: ``rpn_cls_logits`` and ``rpn_bbox_pred`` rows are permuted (FPN has one
  size per level: the same order);
- an affine-channel backbone gets, for every batch norm, mean 0 and variance 1 - eps,
  which makes pxcore's batch norm exactly ``x * scale + offset``.

These names are left out of ``weight_aliases()``: loaded as they are they would place
the classes wrongly (``cls_score_w`` has the shape of ours), so an unconverted 0.x archive
fails to load, naming them, instead.

**Dygraph** (PaddleDetection 2.x ``.pdparams``): the architecture holds ``backbone``,
``neck``, ``rpn_head``, ``bbox_head`` and ``mask_head``. Every tensor is a rename, the
background already last: ``backbone.res2.res2a.branch2a.conv.weight`` /
``.norm._mean``..., ``backbone.conv1.conv1_1...`` (HRNet: ``backbone.st2.stage_st2_1.
fuse_func.residual_st2_1_layer_1_2.norm.weight``...), ``neck.fpn_inner_res5_sum.weight``
(HRFPN: ``neck.reduction.weight``, ``neck.fpn_conv_<i>.weight``),
``rpn_head.rpn_feat.rpn_conv``, ``rpn_head.rpn_rois_score``, ``rpn_head.rpn_rois_delta``,
``bbox_head.head.fc6`` / ``fc7``, ``bbox_head.bbox_score`` / ``bbox_delta``,
``mask_head.head.upsample.mask_inter_feat_<i>`` / ``conv5_mask``,
``mask_head.mask_fcn_logits``. The C4 rows' stage 5 is ``bbox_head.head.res5.*``
(``Res5Head``), which 2.6 builds as variant "b" whatever the backbone's: its first block's
shortcut is a stride-2 1x1 conv, also for ResNet50_vd, where pxcore (and 0.x) average
pool before a stride-1 one. The weights are the same tensors; the computation differs.

``tools/make_layouts.py`` checks both against the reference code, by running it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import numpy as np
from paddle import nn

from pxcore.nn.legacy import merge_aliases, ppdet_resnet_key

_CONV = {"_w": "weight", "_b": "bias"}


# --- PaddleDetection 0.x ----------------------------------------------------------------

def _backbone_static(backbone: nn.Layer) -> dict[str, str]:
    """The backbone's static names (keys without the ``backbone.`` prefix), its
    classifier's left out."""
    if not hasattr(backbone, "weight_aliases"):
        return {}  # a backbone of another family: its own names, if any, are its business
    ours = backbone.state_dict()
    return {legacy: key for legacy, key in backbone.weight_aliases().items() if key in ours}


def _is_hrfpn(neck: nn.Layer) -> bool:
    return hasattr(neck, "reduction")


def _level_names(net: nn.Layer) -> list[str]:
    """0.x's name of each backbone level the FPN reads: ``res2_sum``... (C2 -> res2)."""
    return [f"res{f.name[1:]}_sum" for f in net.backbone.out_features]


def _neck_static(net: nn.Layer) -> dict[str, str]:
    names = {}
    if _is_hrfpn(net.neck):
        names["hrfpn_reduction_weights"] = "neck.reduction.weight"
        for i in range(len(net.neck.fpn_convs)):
            names[f"shared_fpn_conv_{i}_weights"] = f"neck.fpn_convs.{i}.weight"
        return names
    levels = _level_names(net)
    for i, level in enumerate(levels):
        lateral = f"fpn_inner_{level}" + ("" if i == len(levels) - 1 else "_lateral")
        for suffix, leaf in _CONV.items():
            names[lateral + suffix] = f"neck.lateral_convs.{i}.{leaf}"
            names[f"fpn_{level}{suffix}"] = f"neck.output_convs.{i}.{leaf}"
    return names


def _head_static(net: nn.Layer) -> dict[str, str]:
    """RPN, box head, predictor and mask head."""
    level = "_fpn2" if net.fpn else ""
    stems = {f"conv_rpn{level}": "rpn_head.conv",
             f"rpn_cls_logits{level}": "rpn_head.score",
             f"rpn_bbox_pred{level}": "rpn_head.delta",
             "cls_score": "predictor.bbox_score", "bbox_pred": "predictor.bbox_delta"}
    if net.fpn:
        stems.update(fc6="box_head.fc6", fc7="box_head.fc7")
    if net.with_mask:
        convs = [i for i, layer in enumerate(net.mask_head.convs) if isinstance(layer, nn.Conv2D)]
        for n, index in enumerate(convs, start=1):
            stems[f"mask_inter_feat_{n}"] = f"mask_head.convs.{index}"
        stems.update(conv5_mask="mask_head.upsample", mask_fcn_logits="mask_head.mask_logits")
    return {stem + suffix: f"{path}.{leaf}" for stem, path in stems.items()
            for suffix, leaf in _CONV.items()}


def static_names(net: nn.Layer, affine_channel: bool = False) -> dict[str, str]:
    """``{PaddleDetection 0.x variable name: our key}`` for an R-CNN ``net``: every
    variable of the 0.x program, the ones ``from_static`` converts included. With
    ``affine_channel`` the backbone's batch norms are affine channels (scale and offset,
    no statistics), as most of the zoo's ResNet rows were trained."""
    names = {legacy: f"backbone.{key}" for legacy, key in _backbone_static(net.backbone).items()
             if not (affine_channel and key.endswith(("._mean", "._variance")))}
    if net.neck is not None:
        names.update(_neck_static(net))
    names.update(_head_static(net))
    return names


def static_converted(net: nn.Layer) -> set[str]:
    """The static names ``from_static`` converts rather than renames (left out of
    ``weight_aliases()``)."""
    return set(_converters(net))


def _anchor_permutation(net: nn.Layer) -> list[int] | None:
    """For each of our anchors (size-major) the index of the same anchor in 0.x's
    ratio-major order; None when both orders agree (one size or one ratio per level)."""
    # (read from the generator's settings: Paddle 1.x's rounded anchors of one size
    # differ in area from ratio to ratio)
    sizes = len(net.anchor_generator.sizes[0])
    ratios = len(net.anchor_generator.ratios)
    if sizes == 1 or ratios == 1:
        return None
    # ours: anchor s * R + r; 0.x: r * S + s
    return [(j % ratios) * sizes + j // ratios for j in range(sizes * ratios)]


def _background_last(value: np.ndarray) -> np.ndarray:
    return np.concatenate([value[..., 1:], value[..., :1]], axis=-1)


def _converters(net: nn.Layer) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    converters: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "cls_score_w": _background_last, "cls_score_b": _background_last,
        "bbox_pred_w": lambda v: v[..., 4:], "bbox_pred_b": lambda v: v[..., 4:]}
    if net.with_mask:
        converters["mask_fcn_logits_w"] = converters["mask_fcn_logits_b"] = lambda v: v[1:]
    order = _anchor_permutation(net)
    level = "_fpn2" if net.fpn else ""
    if order is not None:
        def per_anchor(value: np.ndarray) -> np.ndarray:
            return value[order]

        def per_anchor_box(value: np.ndarray) -> np.ndarray:
            grouped = value.reshape(len(order), 4, *value.shape[1:])
            return grouped[order].reshape(value.shape)

        for suffix in ("_w", "_b"):
            converters[f"rpn_cls_logits{level}{suffix}"] = per_anchor
            converters[f"rpn_bbox_pred{level}{suffix}"] = per_anchor_box
    return converters


def from_static(net: nn.Layer, state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A PaddleDetection 0.x / PaddleX 1.x archive's ``{variable name: array}`` as
    pxcore's ``{key: array}``, converted where a rename is not enough (see the module
    docstring): the background's class score moved last, its box deltas and mask map
    dropped, the C4 RPN's anchors reordered, and for an affine-channel backbone (its
    batch norms' ``_scale`` in the archive, none of their ``_mean`` / ``_variance``) the
    batch norms given mean 0 and variance 1 - eps. Names it does not know are passed
    through unchanged, for ``pxcore.weights.fit_state`` to name (or take: pxcore's and
    2.x's keys pass as they are, so this can run on any file loaded)."""
    names = static_names(net)
    converters = _converters(net)
    out: dict[str, np.ndarray] = {}
    for name, value in state.items():
        key = names.get(name)
        if key is None:
            out[name] = value
        else:
            convert = converters.get(name)
            out[key] = convert(np.asarray(value)) if convert else value
    # affine channels: the archive has the backbone's batch-norm scales by their static
    # names but none of their statistics
    by_key = {key: name for name, key in names.items() if key.startswith("backbone.")}
    norms = [path for path, layer in net.named_sublayers()
             if path.startswith("backbone.") and isinstance(layer, nn.layer.norm._BatchNormBase)]
    scales = [by_key.get(f"{path}.weight") for path in norms]
    statistics = [by_key.get(f"{path}.{leaf}") for path in norms for leaf in ("_mean", "_variance")]
    if any(name in state for name in scales) and not any(name in state for name in statistics):
        layers = dict(net.named_sublayers())
        for path, scale in zip(norms, scales, strict=True):
            if scale in state:  # a layer the archive lacks altogether: fit_state names it
                norm = layers[path]
                channels = norm._mean.shape[0]
                out[f"{path}._mean"] = np.zeros(channels, np.float32)
                out[f"{path}._variance"] = np.full(channels, 1.0 - norm._epsilon, np.float32)
    return out


# --- PaddleDetection 2.x ------------------------------------------------------------------

def _resnet(name: str, backbone: nn.Layer, c4: bool) -> str:
    # PaddleDetection 2.x's ResNet (pxcore.nn.legacy.ppdet_resnet_key); the C4 rows'
    # stage 5 is Res5Head's bbox_head.head.res5, built as variant "b".
    stage, key = ppdet_resnet_key(name, backbone.variant, ("2", "5") if c4 else ("2",))
    return ("bbox_head.head." if c4 and stage == "5" else "backbone.") + key


_HRNET_LEAVES = {"_weights": "conv.weight", "_bn_scale": "norm.weight", "_bn_offset": "norm.bias",
                 "_bn_mean": "norm._mean", "_bn_variance": "norm._variance"}


def _hrnet(name: str, backbone: nn.Layer, c4: bool) -> str:
    # ppdet/modeling/backbones/hrnet.py: conv_layer1_1/2, la1.block_layer2_<n> (conv1..3,
    # conv_down), tr<t>.transition_tr<t>_layer_<i>, st<s>.stage_st<s>_<m> holding
    # branches_func.bb_st<s>_<m>_branch_layer_<b>_<j> (conv1, conv2) and
    # fuse_func.residual_st<s>_<m>_layer_<i>_<j>[_<k>]; ConvNormLayer's conv and norm.
    stem, leaf = re.fullmatch(r"(.+?)(_weights|_bn_scale|_bn_offset|_bn_mean|_bn_variance)", name).groups()
    if match := re.fullmatch(r"layer1_([12])", stem):
        path = f"conv_layer1_{match[1]}"
    elif match := re.fullmatch(r"layer2_(\d+)_(conv[123]|downsample)", stem):
        path = f"la1.block_layer2_{match[1]}.{'conv_down' if match[2] == 'downsample' else match[2]}"
    elif match := re.fullmatch(r"tr(\d)_layer_(\d+)", stem):
        path = f"tr{match[1]}.transition_tr{match[1]}_layer_{match[2]}"
    elif match := re.fullmatch(r"st(\d)_(\d+)_branch_layer_(\d+)_(\d+)_(conv[12])", stem):
        s, m, b, j, conv = match.groups()
        path = f"st{s}.stage_st{s}_{m}.branches_func.bb_st{s}_{m}_branch_layer_{b}_{j}.{conv}"
    else:
        s, m, rest = re.fullmatch(r"st(\d)_(\d+)_(layer_\d+_\d+(?:_\d+)?)", stem).groups()
        path = f"st{s}.stage_st{s}_{m}.fuse_func.residual_st{s}_{m}_{rest}"
    return f"backbone.{path}.{_HRNET_LEAVES[leaf]}"


# Backbone class name -> the translation of its static names to PaddleDetection 2.x keys.
DYGRAPH_BACKBONES: dict[str, Callable[[str, nn.Layer, bool], str]] = {
    "ResNet": _resnet,
    "HRNet": _hrnet,
}


def _neck_dygraph(net: nn.Layer) -> dict[str, str]:
    if _is_hrfpn(net.neck):
        names = {"neck.reduction.weight": "neck.reduction.weight"}
        for i in range(len(net.neck.fpn_convs)):
            names[f"neck.fpn_conv_{i}.weight"] = f"neck.fpn_convs.{i}.weight"
        return names
    # ppdet/modeling/necks/fpn.py: the static stems, as sublayer names
    return {f"neck.{name[:-2]}.{_CONV[name[-2:]]}": key for name, key in _neck_static(net).items()}


def _head_dygraph(net: nn.Layer) -> dict[str, str]:
    layers = {"rpn_head.conv": "rpn_head.rpn_feat.rpn_conv", "rpn_head.score": "rpn_head.rpn_rois_score",
              "rpn_head.delta": "rpn_head.rpn_rois_delta",
              "predictor.bbox_score": "bbox_head.bbox_score",
              "predictor.bbox_delta": "bbox_head.bbox_delta"}
    if net.fpn:
        layers.update({"box_head.fc6": "bbox_head.head.fc6", "box_head.fc7": "bbox_head.head.fc7"})
    if net.with_mask:
        convs = [i for i, layer in enumerate(net.mask_head.convs) if isinstance(layer, nn.Conv2D)]
        for n, index in enumerate(convs, start=1):
            layers[f"mask_head.convs.{index}"] = f"mask_head.head.upsample.mask_inter_feat_{n}"
        layers.update({"mask_head.upsample": "mask_head.head.upsample.conv5_mask",
                       "mask_head.mask_logits": "mask_head.mask_fcn_logits"})
    return {f"{theirs}.{leaf}": f"{ours}.{leaf}" for ours, theirs in layers.items()
            for leaf in ("weight", "bias")}


def dygraph_names(net: nn.Layer) -> dict[str, str]:
    """``{PaddleDetection 2.x state-dict key: our key}`` for an R-CNN ``net``, every
    tensor; the backbone only if its family is in ``DYGRAPH_BACKBONES``."""
    names = {}
    translate = DYGRAPH_BACKBONES.get(type(net.backbone).__name__)
    if translate is not None:
        for legacy, key in _backbone_static(net.backbone).items():
            names[translate(legacy, net.backbone, not net.fpn)] = f"backbone.{key}"
    if net.neck is not None:
        names.update(_neck_dygraph(net))
    names.update(_head_dygraph(net))
    return names


def weight_aliases(net: nn.Layer) -> dict[str, str]:
    """Both layouts' names that differ from ours, for ``pxcore.weights.fit_state``; the
    static names ``from_static`` converts are left out (see the module docstring)."""
    converted = static_converted(net)
    static = {name: key for name, key in static_names(net).items() if name not in converted}
    return merge_aliases(static, dygraph_names(net))
