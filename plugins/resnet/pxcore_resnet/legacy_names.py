"""Paddle 1.x variable names of the ImageNet ResNets, made by the rules that named them.

The zoo's legacy ``.tar`` archives were saved by the static-graph PaddleClas code
(branch ``release/static``, ``ppcls/modeling/architectures/resnet.py`` and
``resnet_vd.py``), one file per variable, named through ``ParamAttr(name=...)``; PaddleX
1.x (``paddlex/cv/nets/resnet.py`` with ``backbone_utils.NameAdapter``) names them the
same way to load them. The rules:

- every conv has a name; its weight is ``<conv>_weights``. Its BatchNorm is named "bn"
  plus the conv's name without its first three letters (``res2a_branch2a`` ->
  ``bn2a_branch2a``, and so ``conv1_1`` -> ``bnv1_1``), except ``conv1``, whose
  BatchNorm is ``bn_conv1``. A BatchNorm has ``_scale``, ``_offset``, ``_mean`` and
  ``_variance``.
- the stem is ``conv1`` (7x7), or ``conv1_1``, ``conv1_2``, ``conv1_3`` in the vd variant.
- block ``i`` of stage ``s`` (2..5) is ``res<s>`` plus a letter (a, b, c, ...); a stage of
  more than ten blocks (stage 4 of ResNet101 and deeper) numbers them instead:
  ``res4a``, ``res4b1``, ..., ``res4b22``.
- in a block, ``_branch2a``, ``_branch2b`` (and ``_branch2c`` in a bottleneck) are the
  convs in order, and ``_branch1`` is the projection shortcut.
- the classifier is the program's first fc: ``fc_0.w_0`` and ``fc_0.b_0``.

``tools/make_layouts.py`` checks these rules against the reference code; the tests check
them against the manifests it wrote.
"""

from __future__ import annotations

from collections.abc import Sequence

# Paddle 1.x BatchNorm variable suffix -> the BatchNorm2D state-dict attribute.
_BN_TENSORS = (("scale", "weight"), ("offset", "bias"), ("mean", "_mean"), ("variance", "_variance"))


def conv_bn_names(legacy_conv: str, key_prefix: str) -> dict[str, str]:
    """The five variables of one conv + BatchNorm pair, mapped to our state-dict keys."""
    bn = "bn_conv1" if legacy_conv == "conv1" else "bn" + legacy_conv[3:]
    names = {f"{legacy_conv}_weights": f"{key_prefix}.conv.weight"}
    for legacy_suffix, attribute in _BN_TENSORS:
        names[f"{bn}_{legacy_suffix}"] = f"{key_prefix}.bn.{attribute}"
    return names


def block_name(stage: int, index: int, count: int) -> str:
    """``res2a``...: block ``index`` of stage ``stage`` (0 = the stride-4 stage) of ``count``."""
    prefix = f"res{stage + 2}"
    if stage == 2 and count > 10:
        return prefix + ("a" if index == 0 else f"b{index}")
    return prefix + chr(ord("a") + index)


def legacy_weight_names(block_kind: str, stage_depths: Sequence[int], variant: str,
                        classifier: bool = True) -> dict[str, str]:
    """``{Paddle 1.x variable name: state-dict key}`` for a ResNet of ``block_kind``
    ("basic" or "bottleneck") with ``stage_depths`` blocks per stage, in ``variant``
    "b" or "vd"; with ``classifier`` the fc too. The first block of every stage has a
    projection shortcut, as in the reference nets."""
    names: dict[str, str] = {}
    stem = ("conv1",) if variant == "b" else ("conv1_1", "conv1_2", "conv1_3")
    for position, conv in enumerate(stem):
        names.update(conv_bn_names(conv, f"stem.{position}"))
    branches = ("branch2a", "branch2b", "branch2c") if block_kind == "bottleneck" else ("branch2a", "branch2b")
    flat_index = 0
    for stage, count in enumerate(stage_depths):
        for index in range(count):
            block = block_name(stage, index, count)
            for position, branch in enumerate(branches):
                names.update(conv_bn_names(f"{block}_{branch}", f"blocks.{flat_index}.conv{position}"))
            if index == 0:
                names.update(conv_bn_names(f"{block}_branch1", f"blocks.{flat_index}.short"))
            flat_index += 1
    if classifier:
        names["fc_0.w_0"] = "fc.weight"
        names["fc_0.b_0"] = "fc.bias"
    return names


# PaddleSeg 2.x's ConvBNLayer leaves -> ours
_PADDLESEG_LEAVES = (("_conv.weight", "conv.weight"), ("_batch_norm.weight", "bn.weight"),
                     ("_batch_norm.bias", "bn.bias"), ("_batch_norm._mean", "bn._mean"),
                     ("_batch_norm._variance", "bn._variance"))


def paddleseg_names(block_kind: str, stage_depths: Sequence[int]) -> dict[str, str]:
    """``{PaddleSeg 2.x key: state-dict key}`` of its ``ResNet_vd``
    (``paddleseg/models/backbones/resnet_vd.py``): the stem ``conv1_1``..``conv1_3``, block
    ``i`` of stage ``s`` (0 = C2) ``bb_<s>_<i>`` with ``conv0``.. and ``short``, each a
    conv (``_conv``) and a BatchNorm (``_batch_norm``); no classifier."""
    pairs = [(f"conv1_{k + 1}", f"stem.{k}") for k in range(3)]
    convs = 3 if block_kind == "bottleneck" else 2
    flat_index = 0
    for stage, count in enumerate(stage_depths):
        for index in range(count):
            ours = f"blocks.{flat_index}"
            pairs += [(f"bb_{stage}_{index}.conv{c}", f"{ours}.conv{c}") for c in range(convs)]
            if index == 0:
                pairs.append((f"bb_{stage}_{index}.short", f"{ours}.short"))
            flat_index += 1
    return {f"{theirs}.{leaf}": f"{ours}.{key}" for theirs, ours in pairs
            for leaf, key in _PADDLESEG_LEAVES}
