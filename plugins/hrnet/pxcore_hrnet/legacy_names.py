"""Paddle 1.x variable names of the HRNet-C classifiers, made by the rules that named them.

The zoo's ``HRNet_W18_C_pretrained.tar`` was saved by PaddleClas's static-graph HRNet
(first commit 9f39da88, ``ppcls/modeling/architectures/hrnet.py``), one file per
variable, named through ``ParamAttr(name=...)``; PaddleClas release/2.0's dygraph HRNet
and PaddleX 1.x (``paddlex/cv/nets/hrnet.py``) set the same names. Every conv is
followed by a BatchNorm and has a name stem; its variables are ``<stem>_weights`` and
``<stem>_bn_scale``, ``_bn_offset``, ``_bn_mean``, ``_bn_variance``. The stems, all
counted from 1:

- the stem convs ``layer1_1``, ``layer1_2``; the four bottlenecks after them
  ``layer2_<n>_conv1``, ``_conv2``, ``_conv3`` and ``_downsample`` (the projection);
- the transitions: ``tr1_layer_1`` and ``tr1_layer_2`` split the stem into two
  branches, ``tr2_layer_3`` and ``tr3_layer_4`` add the third and fourth;
- in module m of stage s (2..4), block j of branch b: ``st<s>_<m>_branch_layer_<b>_<j>_conv1``
  and ``_conv2``; the fusion into branch i: ``st<s>_<m>_layer_<i>_<j>`` for the 1x1 conv
  from a coarser branch j, ``st<s>_<m>_layer_<i>_<j>_<k>`` for step k of the stride-2
  convs from a finer one;
- the classifier's head: ``cls_headconv_<n>_conv1`` ... ``_downsample`` (the bottleneck
  on branch n), ``cls_head_add<n>`` (the stride-2 convs), ``cls_head_last_conv``, and
  the fc's ``fc_weights`` and ``fc_offset``.

The segmentation network (PaddleX 1.x ``nets/segmentation/hrnet.py``, PaddleSeg's legacy
``hrnet.py``, whose program saved the zoo's ``hrnet_w18_bn_cityscapes``) has the same body
names and a head of its own: the 1x1 conv + BatchNorm ``conv-2`` and the bias-free
classifier conv ``conv-1_weights``.

PaddleSeg 2.x's HRNet (``paddleseg/models/backbones/hrnet.py``) names its layers from the
same stems (``la1.bb_layer2_1.conv1``, ``tr1.transition_tr1_layer_1``,
``st2.stage_st2_1.branches_func.bb_st2_1_branch_layer_1_1.conv1``,
``st2.stage_st2_1.fuse_func.residual_st2_1_layer_1_2``), each a ``_conv`` and a
``_batch_norm``; its FCN head is ``head.conv_1`` and ``head.cls`` (``paddleseg_stem_path``).

None of it depends on the width. ``tools/make_layouts.py`` checks these rules against
the reference code; the tests check them against the manifest it wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from paddle import nn

from .hrnet import (
    BRANCH_BLOCKS,
    HEAD_DOWNSAMPLE_CHANNELS,
    STAGE_MODULES,
    STEM_BLOCKS,
    fuse_plan,
)

# Paddle 1.x suffix -> our key below a ConvBN, and below the fc.
_CONV_BN = (("_weights", "conv.weight"), ("_bn_scale", "bn.weight"), ("_bn_offset", "bn.bias"),
            ("_bn_mean", "bn._mean"), ("_bn_variance", "bn._variance"))
_FC = (("_weights", "weight"), ("_offset", "bias"))


def _bottleneck(path: str, stem: str) -> Iterator[tuple[str, str]]:
    for conv in ("conv1", "conv2", "conv3"):
        yield f"{path}.{conv}", f"{stem}_{conv}"
    yield f"{path}.conv_down", f"{stem}_downsample"


def body_stems() -> Iterator[tuple[str, str]]:
    """``(ConvBN path, Paddle 1.x stem)`` of every conv of the backbone, in order."""
    yield "conv_layer1_1", "layer1_1"
    yield "conv_layer1_2", "layer1_2"
    for n in range(1, STEM_BLOCKS + 1):
        for path, stem in _bottleneck(f"layer1.{n - 1}", f"layer2_{n}"):
            # only the first bottleneck projects its shortcut
            if n == 1 or not path.endswith("conv_down"):
                yield path, stem
    yield "conv_tr1_1", "tr1_layer_1"
    yield "conv_tr1_2", "tr1_layer_2"
    yield "conv_tr2", "tr2_layer_3"
    yield "conv_tr3", "tr3_layer_4"
    for s, modules in enumerate(STAGE_MODULES, start=2):
        branches = s  # stage s works on s branches
        for m in range(1, modules + 1):
            path, stem = f"st{s}.stage_func_list.{m - 1}", f"st{s}_{m}"
            for b in range(1, branches + 1):
                for j in range(1, BRANCH_BLOCKS + 1):
                    for conv in ("conv1", "conv2"):
                        yield (f"{path}.basic_block_list.{b - 1}.{j - 1}.{conv}",
                               f"{stem}_branch_layer_{b}_{j}_{conv}")
            index = 0
            for i, sources in enumerate(fuse_plan(branches)):
                for j, steps in sources:
                    for k in range(steps):
                        step = f"_{k + 1}" if j < i else ""
                        yield (f"{path}.fuse_func.residual_func_list.{index}",
                               f"{stem}_layer_{i + 1}_{j + 1}{step}")
                        index += 1


def head_stems() -> Iterator[tuple[str, str]]:
    """``(ConvBN path, Paddle 1.x stem)`` of every conv the classifier adds."""
    for n in range(1, len(STAGE_MODULES) + 2):
        yield from _bottleneck(f"last_cls.func_list.{n - 1}", f"cls_headconv_{n}")
    for n in range(1, len(HEAD_DOWNSAMPLE_CHANNELS) + 1):
        yield f"cls_head_conv_list.{n - 1}", f"cls_head_add{n}"
    yield "conv_last", "cls_head_last_conv"


def legacy_weight_names() -> dict[str, str]:
    """``{Paddle 1.x variable name: state-dict key}`` of the whole classifier."""
    names: dict[str, str] = {}
    for path, stem in (*body_stems(), *head_stems()):
        for suffix, leaf in _CONV_BN:
            names[stem + suffix] = f"{path}.{leaf}"
    for suffix, leaf in _FC:
        names["fc" + suffix] = f"fc.{leaf}"
    return names


def checked_aliases(net: nn.Layer) -> dict[str, str]:
    """The names for ``net``, a backbone or a classifier: every tensor of it must be
    named once, and a name for a tensor it lacks must be under its ``unused_prefixes``
    (the classifier's part, which a backbone drops when it loads the classifier's
    archive). Anything else is an error: a layer cannot be forgotten silently."""
    names = legacy_weight_names()
    if len(set(names.values())) != len(names):
        raise ValueError(f"{type(net).__name__}: the legacy name rules name a tensor twice")
    keys = set(net.state_dict())
    unnamed = keys - set(names.values())
    strays = [k for k in names.values()
              if k not in keys and not k.startswith(tuple(net.unused_prefixes))]
    if unnamed or strays:
        raise ValueError(f"{type(net).__name__}: no legacy name rule covers {sorted(unnamed)[:5]}; "
                         f"rules name tensors it does not have: {sorted(strays)[:5]}")
    return names


# The segmentation head: (Paddle 1.x stem, our ConvBN path), and the bias-free 1x1
# classifier conv (Paddle 1.x name, our key).
SEG_HEAD_CONV = ("conv-2", "last_conv")
SEG_CLASSIFIER = ("conv-1_weights", "cls.weight")


def segmentation_weight_names(prefix: str = "backbone.") -> dict[str, str]:
    """``{Paddle 1.x variable name: state-dict key}`` of the segmentation network, its
    body under ``prefix``."""
    names: dict[str, str] = {}
    for path, stem in body_stems():
        for suffix, leaf in _CONV_BN:
            names[stem + suffix] = f"{prefix}{path}.{leaf}"
    stem, path = SEG_HEAD_CONV
    for suffix, leaf in _CONV_BN:
        names[stem + suffix] = f"{path}.{leaf}"
    names[SEG_CLASSIFIER[0]] = SEG_CLASSIFIER[1]
    return names


def checked_segmentation_aliases(net: nn.Layer) -> dict[str, str]:
    """The names for the segmentation network ``net``: every tensor of it named exactly
    once, and nothing else."""
    names = segmentation_weight_names()
    keys = set(net.state_dict())
    if len(set(names.values())) != len(names) or set(names.values()) != keys:
        raise ValueError(f"{type(net).__name__}: the legacy name rules do not name its tensors "
                         f"one to one: unnamed {sorted(keys - set(names.values()))[:5]}, "
                         f"strays {sorted(set(names.values()) - keys)[:5]}")
    return names


# PaddleSeg 2.x's ConvBN leaves -> ours, and its FCN head -> ours.
_PADDLESEG_CONV_BN = (("_conv.weight", "conv.weight"), ("_batch_norm.weight", "bn.weight"),
                      ("_batch_norm.bias", "bn.bias"), ("_batch_norm._mean", "bn._mean"),
                      ("_batch_norm._variance", "bn._variance"))
_PADDLESEG_PATHS = (
    (r"layer1_(\d)", r"conv_layer1_\1"),
    (r"layer2_(\d+)_downsample", r"la1.bb_layer2_\1.conv_down"),
    (r"layer2_(\d+)_(conv\d)", r"la1.bb_layer2_\1.\2"),
    (r"tr(\d)_layer_(\d)", r"tr\1.transition_tr\1_layer_\2"),
    (r"st(\d)_(\d+)_branch_layer_(\d+_\d+)_(conv\d)",
     r"st\1.stage_st\1_\2.branches_func.bb_st\1_\2_branch_layer_\3.\4"),
    (r"st(\d)_(\d+)_layer_([\d_]+)", r"st\1.stage_st\1_\2.fuse_func.residual_st\1_\2_layer_\3"),
)


def paddleseg_stem_path(stem: str) -> str:
    """PaddleSeg 2.x's module path of the conv whose Paddle 1.x stem is ``stem``."""
    for pattern, path in _PADDLESEG_PATHS:
        if re.fullmatch(pattern, stem):
            return re.sub(pattern, path, stem)
    raise ValueError(f"no PaddleSeg 2.x name rule for the HRNet stem {stem!r}")


def paddleseg_segmentation_names(prefix: str = "backbone.") -> dict[str, str]:
    """``{PaddleSeg 2.x FCN-HRNet state-dict key: our key}`` of the segmentation network
    built with ``conv_bias`` (the head's convs carry biases there)."""
    names: dict[str, str] = {}
    for path, stem in body_stems():
        theirs = paddleseg_stem_path(stem)
        for leaf, ours in _PADDLESEG_CONV_BN:
            names[f"{prefix}{theirs}.{leaf}"] = f"{prefix}{path}.{ours}"
    for leaf, ours in (*_PADDLESEG_CONV_BN, ("_conv.bias", "conv.bias")):
        names[f"head.conv_1.{leaf}"] = f"{SEG_HEAD_CONV[1]}.{ours}"
    names.update({f"head.cls.{k}": f"cls.{k}" for k in ("weight", "bias")})
    return names
