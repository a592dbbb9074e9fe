"""The composition matrix: every registered backbone under every head that takes one.

A *head* is a model preset that builds its backbone from a ``backbone`` argument
(YOLOv3, Faster/Mask R-CNN in their layouts, DeepLabv3+, a classifier over pxcore's
``ImageClassifier``). Presets that differ only in their backbone are one head, so the
matrix grows by one row per new backbone and one column per new head, with no new
test code::

    import pytest
    from pxcore.testing.composition import check_composition, composition_params

    @pytest.mark.parametrize("head, backbone", composition_params())
    def test_composes(head, backbone):
        reason = check_composition(head, backbone)
        if reason:
            pytest.skip(reason)

A pair that cannot compose (the head needs a stride the backbone does not report, or
an ability it lacks) is not a failure: ``check_composition`` returns the reason from
the error. Anything else that goes wrong is one.
"""

from __future__ import annotations

from typing import Any

from ..errors import IncompatiblePartsError
from ..names import natural_key
from ..plugins import get_registry
from ..specs import ModelSpec

# Preset arguments that say which backbone, not what the head is.
_BACKBONE_ARGUMENTS = ("backbone", "backbone_args", "num_classes")


def _head_key(spec: ModelSpec) -> tuple:
    rest = {k: v for k, v in spec.defaults.items() if k not in _BACKBONE_ARGUMENTS}
    return spec.factory, spec.task, repr(sorted(rest.items(), key=lambda kv: kv[0]))


def head_presets() -> list[ModelSpec]:
    """One preset per distinct head among the registered presets that take a backbone
    by name: of each, the one with the fewest arguments for its own backbone (they are
    dropped for another family anyway), then the first in natural name order."""
    heads: dict[tuple, ModelSpec] = {}
    specs = sorted(get_registry().specs("model"), key=lambda s: (
        len(s.defaults.get("backbone_args") or {}), natural_key(s.name)))
    for spec in specs:
        if isinstance(spec.defaults.get("backbone"), str):
            heads.setdefault(_head_key(spec), spec)
    return list(heads.values())


def backbone_names() -> list[str]:
    return sorted(get_registry().names("backbone"), key=natural_key)


def composition_params() -> list:
    """``pytest.param(head, backbone)`` for every head preset and every backbone."""
    import pytest

    return [pytest.param(head.name, backbone, id=f"{head.name}[{backbone}]")
            for head in head_presets() for backbone in backbone_names()]


def check_composition(head: str, backbone: str, **overrides: Any) -> str | None:
    """Build preset ``head`` on ``backbone`` and run one forward pass with the checks its
    task's outputs must pass. Returns None when it composed, or the reason it cannot
    (an :class:`IncompatiblePartsError`'s message); other errors propagate.

    The network class's ``smoke_arguments`` (a mapping, if it has one: narrower layers,
    fewer boxes) apply under ``overrides``: the wiring is what is tested, and a full
    width head on every backbone would cost minutes."""
    from ..api import create_model
    from . import TEST_NUM_CLASSES, check_model_outputs

    spec = get_registry().get("model", head)
    try:
        args = {**getattr(spec.load(), "smoke_arguments", {}), **overrides}
        model = create_model(head, num_classes=TEST_NUM_CLASSES, backbone=backbone, **args)
    except IncompatiblePartsError as exc:
        return f"{backbone} under {head}: {exc}"
    check_model_outputs(model, spec, f"{head} on {backbone}")
    return None
