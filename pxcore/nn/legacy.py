"""Naming a network's tensors as Paddle 1.x did, for the zoo's legacy .tar archives.

A family states its naming as rules; these helpers turn the rules into the
``weight_aliases()`` map (``{Paddle 1.x variable name: state-dict key}``) and check that
the rules name every tensor exactly once, so a layer added without a rule fails loudly
instead of leaving pretrained weights silently unloaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

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
