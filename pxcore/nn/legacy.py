"""Naming a network's tensors as Paddle 1.x did, for the zoo's legacy .tar archives.

A family states its naming as rules; these helpers turn the rules into the
``weight_aliases()`` map (``{Paddle 1.x variable name: state-dict key}``) and check that
the rules name every tensor exactly once, so a layer added without a rule fails loudly
instead of leaving pretrained weights silently unloaded.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping

from paddle import nn

from ..contract import declared

# PaddleClas's Paddle 1.x convention: "<stem>_weights" / "_offset" for a conv or fc,
# "<stem>_bn_scale", "_bn_offset", "_bn_mean", "_bn_variance" for its batch norm.
PADDLECLAS_SUFFIXES: Mapping[type, Mapping[str, str]] = {
    nn.Conv2D: {"weight": "_weights", "bias": "_offset"},
    nn.Linear: {"weight": "_weights", "bias": "_offset"},
    nn.BatchNorm2D: {"weight": "_bn_scale", "bias": "_bn_offset",
                     "_mean": "_bn_mean", "_variance": "_bn_variance"},
}


def check_coverage(net: nn.Layer, aliases: Mapping[str, str]) -> dict[str, str]:
    """``aliases`` if it names every tensor of ``net`` exactly once; names of tensors the
    network lacks are allowed only under its ``unused_prefixes`` (a backbone naming its
    classifier's head, which a classifier's archive carries)."""
    keys = set(net.state_dict())
    targets = list(aliases.values())
    unnamed = sorted(keys - set(targets))
    unused = tuple(declared(net, "unused_prefixes", ()))
    strays = sorted(k for k in set(targets) - keys if not (unused and k.startswith(unused)))
    twice = sorted({k for k in targets if targets.count(k) > 1})
    if unnamed or strays or twice:
        raise ValueError(f"{type(net).__name__}: the legacy name rules miss {unnamed[:5]}, name "
                         f"tensors it lacks {strays[:5]}, or name {twice[:5]} twice")
    return dict(aliases)


def aliases_by_layer(net: nn.Layer, stems: Iterable[tuple[str, str]],
                     suffixes: Mapping[type, Mapping[str, str]] = PADDLECLAS_SUFFIXES) -> dict[str, str]:
    """From ``(sublayer path, legacy stem)`` pairs: every tensor of a conv, fc or batch
    norm under the sublayer gets the stem plus its suffix for that kind of layer."""
    layers = dict(net.named_sublayers())
    aliases: dict[str, str] = {}
    for path, stem in stems:
        for owner_path, owner in layers[path].named_sublayers(include_self=True):
            table = suffixes.get(type(owner))
            for leaf in owner.state_dict(include_sublayers=False) if table else ():
                legacy = stem + table[leaf]
                if legacy in aliases:
                    raise ValueError(f"{type(net).__name__}: legacy name {legacy} given twice")
                aliases[legacy] = ".".join(filter(None, (path, owner_path, leaf)))
    return aliases


def aliases_by_table(net: nn.Layer, stems: Iterable[tuple[str, str, Mapping[str, str]]]) -> dict[str, str]:
    """From ``(layer path, legacy stem, {tensor path: suffix})`` triples, checked for
    coverage."""
    aliases: dict[str, str] = {}
    for path, stem, tensors in stems:
        for leaf, suffix in tensors.items():
            if stem + suffix in aliases:
                raise ValueError(f"{type(net).__name__}: legacy name {stem + suffix} given twice")
            aliases[stem + suffix] = f"{path}.{leaf}"
    return check_coverage(net, aliases)


# Paddle 1.x's batch norm suffixes -> a dygraph BatchNorm's tensors.
BN_LEAVES: Mapping[str, str] = {"scale": "weight", "offset": "bias", "mean": "_mean", "variance": "_variance"}


def ppdet_resnet_key(name: str, variant: str, unpooled_stages: Collection[str] = ("2",)) -> tuple[str, str]:
    """A Paddle 1.x variable name of PaddleDetection's static ResNet (``conv1_weights``,
    ``bn_conv1_scale``, ``res3a_branch2b_weights``, ``bn4f_branch1_mean``, ...) as its
    stage ("1" for the stem) and its key in PaddleDetection 2.x's ResNet
    (ppdet/modeling/backbones/resnet.py): the stem conv1.<conv1 | conv1_1..3>, blocks
    res<s>.res<s><block> with branch2a/b/c and the projection "short", which is
    "short.conv" behind the vd variant's stride-2 average pool in every stage but
    ``unpooled_stages``; ConvNormLayer's conv and norm."""
    if match := re.fullmatch(r"(conv1(?:_\d)?)_weights", name):
        return "1", f"conv1.{match[1]}.conv.weight"
    if match := re.fullmatch(r"bn(_conv1|v1_\d)_(scale|offset|mean|variance)", name):
        conv = "conv1" if match[1] == "_conv1" else "con" + match[1]
        return "1", f"conv1.{conv}.norm.{BN_LEAVES[match[2]]}"
    if match := re.fullmatch(r"res(\d)(\w+?)_branch(\w+?)_weights", name):
        stage, block, branch = match.groups()
        tensor = "conv.weight"
    else:
        stage, block, branch, leaf = re.fullmatch(
            r"bn(\d)(\w+?)_branch(\w+?)_(scale|offset|mean|variance)", name).groups()
        tensor = f"norm.{BN_LEAVES[leaf]}"
    if branch == "1":
        pooled = variant == "vd" and stage not in unpooled_stages
        return stage, f"res{stage}.res{stage}{block}.short{'.conv' if pooled else ''}.{tensor}"
    return stage, f"res{stage}.res{stage}{block}.branch{branch}.{tensor}"


def merge_aliases(static: Mapping[str, str], dygraph: Mapping[str, str]) -> dict[str, str]:
    """One ``weight_aliases()`` map from a network's Paddle 1.x names (``static``) and its
    PaddleDetection 2.x keys (``dygraph``: those equal to ours need no alias); a name the
    two layouts give to different tensors is refused."""
    aliases = dict(static)
    for name, key in dygraph.items():
        if name != key:
            if aliases.get(name, key) != key:
                raise ValueError(f"{name} names {aliases[name]} statically and {key} in 2.x")
            aliases[name] = key
    return aliases
