"""Which installed classifiers are the same network at another depth or width, so that
the slowest per-model checks (export, then parity in every runtime) run once per
distinct network instead of once per zoo row.

A net's *layer configurations* (``pxcore.testing.families.layer_configurations``) are,
for each of its sublayers, the layer's class with its settings but those that only size
or name it. A net whose set lies inside another's stacks the same layers with the same
settings, only fewer or narrower: its exported program has no operator, and no operator
setting, that the other's lacks. ResNet34's set is ResNet18's, ResNet101's is ResNet50's, DenseNet161's
and 201's are DenseNet121's, Xception65's is Xception41's, an _ssld row's is its base
network's; MobileNetV3 large and small differ (``config``), as do ResNet50 and
ResNet50_vd (the vd stem and average-pool shortcuts).

``representatives()`` keeps the nets no other net covers (of equal sets, the one with
the fewest parameters) and says which rows each stands for. Building the nets under
``paddle.LazyGuard`` takes about two seconds for all of them.
"""

from __future__ import annotations

import functools

import paddle

import pxcore
from pxcore.testing.families import layer_configurations


def installed_classifiers() -> list[str]:
    """Installed classification presets, leaving out composers that need a backbone."""
    from pxcore.api import resolve_model

    return [n for n in pxcore.list_models(task="classification", installed=True)
            if not resolve_model(n)[1].metadata.get("composer")]


@functools.cache
def _survey() -> dict[str, tuple[frozenset, int, type]]:
    """name -> (layer configurations, parameter count, network class), every installed
    classifier. Resets the plugins before and after (collection runs before the tests'
    isolation fixture: this sees every installed plugin)."""
    pxcore.plugins.reset()
    try:
        survey = {}
        for name in installed_classifiers():
            with paddle.LazyGuard():  # shapes only: skip initialising the values
                model = pxcore.create_model(name, num_classes=7)
            survey[name] = (layer_configurations(model.net), model.num_parameters(), type(model.net))
        return survey
    finally:
        pxcore.plugins.reset()


def representatives() -> dict[str, list[str]]:
    """{representative: [the rows it stands for]}, in the zoo's order. A row stands
    behind the net whose configurations include its own, preferring a strictly larger
    set, then fewer parameters, then the name."""
    survey = _survey()

    def dominates(a: str, b: str) -> bool:  # a covers b and is preferred to it
        (sa, pa, _), (sb, pb, _) = survey[a], survey[b]
        return sb <= sa and (sb < sa or (pa, a) < (pb, b))

    kept = [n for n in survey if not any(dominates(o, n) for o in survey if o != n)]
    chosen: dict[str, list[str]] = {n: [] for n in kept}
    for name in survey:
        if name not in chosen:
            # domination is transitive, so some kept net covers every other row
            cover = min((k for k in kept if survey[name][0] <= survey[k][0]),
                        key=lambda k: (survey[k][1], k))
            chosen[cover].append(name)
    return chosen


def network_class(name: str) -> type:
    return _survey()[name][2]
