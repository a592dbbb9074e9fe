"""Which networks are the same graph at another depth or width, so that the slowest
per-model checks (export, then parity in every runtime) run once per distinct graph.

A net's *layer configurations* are, for each of its sublayers, the layer's class with
its settings: every scalar attribute (kernel, stride, padding, dilation, groups as
plain/grouped/depthwise, pooling and ceil modes, activation slopes, dropout mode, block
switches such as ``variant``, ``pool_stride`` or ``config``) except those that only
size it (channels, depth, width, class count), name it (names, Paddle 1.x name scopes)
and Paddle's bookkeeping. A net whose set lies inside another's stacks the same layers
with the same settings, only fewer or narrower: its exported program has no operator,
and no operator setting, that the other's lacks (ResNet101's set is ResNet50's; ResNet50
and ResNet50_vd differ in the vd stem and average-pool shortcuts).
"""

from __future__ import annotations

import re

# Attributes that size or name a layer, or are Paddle's bookkeeping: left out of its
# configuration.
_SIZES = re.compile(r"channel|feature|num_|depth|width|scale$|^_?half$|_level_|_stage|^_?name$|scope|"
                    r"_full_name|dtype|^training$|^_built$|_init_in_dynamic_mode|"
                    r"_cast_to_low_precision|out_indices|_groups$")
_SCALARS = (bool, int, float, str)


def layer_configurations(net, include_self: bool = True) -> frozenset:
    """The set of (layer class, settings) over ``net``'s sublayers (and ``net`` itself
    with ``include_self``). Building the net under ``paddle.LazyGuard`` is enough."""
    configurations = set()
    for layer in net.sublayers(include_self=include_self):
        settings = {key: repr(value) for key, value in vars(layer).items()
                    if not _SIZES.search(key) and (
                        value is None or isinstance(value, _SCALARS)
                        or (isinstance(value, tuple | list) and all(isinstance(v, _SCALARS) for v in value)))}
        if hasattr(layer, "_groups") and hasattr(layer, "_in_channels"):
            settings["groups"] = ("plain" if layer._groups == 1 else
                                  "depthwise" if layer._groups == layer._in_channels else "grouped")
        kind = type(layer)
        configurations.add((f"{kind.__module__}.{kind.__qualname__}", tuple(sorted(settings.items()))))
    return frozenset(configurations)
