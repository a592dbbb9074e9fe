"""PaddleX 1.x spellings, generated from the zoo catalog and the registry.

``pxcore.cls.ResNet50(num_classes=10)``, ``pxcore.det.YOLOv3(80, backbone="DarkNet53")``,
``pxcore.det.FasterRCNN(81, backbone="ResNet50_vd", with_fpn=True)`` and
``pxcore.seg.DeepLabv3p(2, backbone="MobileNetV2_x1.0")`` build the model PaddleX's
class builds with those arguments: a zoo row, or a preset where a zoo row's network is
not what PaddleX's class builds (the DeepLabv3 MobileNetV2 rows are what their archives
hold, without ASPP and decoder; their description says ``encoder_with_aspp=False,
enable_decoder=False``). Every zoo row and every registered preset carries a ``paddlex``
description (its PaddleX class and the arguments that select it), so nothing here lists
models by hand. An argument a description does not state is left to the preset's
factory: it reaches it as an override.

PaddleX counted the background class in R-CNN's ``num_classes`` and not in YOLO's;
pxcore counts foreground classes everywhere, so the R-CNN spellings subtract one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from . import zoo
from .errors import PxError, UnknownNameError
from .names import closest, natural_key

GROUPS = {
    "cls": ("classification",),
    "det": ("detection", "instance_segmentation"),
    "seg": ("semantic_segmentation",),
}

# PaddleX 1.x's constructor defaults for the arguments that pick a zoo model (every
# argument a description states; paddlex/cv/models/*.py in paddlex 1.3.11).
PADDLEX_DEFAULTS: dict[str, dict[str, Any]] = {
    "YOLOv3": {"backbone": "MobileNetV1"},
    "PPYOLO": {"backbone": "ResNet50_vd_ssld"},
    "FasterRCNN": {"backbone": "ResNet50", "with_fpn": True},
    "MaskRCNN": {"backbone": "ResNet50", "with_fpn": True},
    # paddlex/cv/models/deeplabv3p.py, DeepLabv3p.__init__
    "DeepLabv3p": {"backbone": "MobileNetV2_x1.0", "encoder_with_aspp": True, "enable_decoder": True},
    "HRNet": {"width": 18},
}
BACKGROUND_COUNTED = frozenset({"FasterRCNN", "MaskRCNN"})


def _candidates(group: str) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(model name, task, paddlex description) for every zoo row and registered preset."""
    from .plugins import get_registry

    tasks = GROUPS[group]
    out, seen = [], set()
    for entry in zoo.catalog():
        if entry.task in tasks and entry.model not in seen:  # a name may have two rows
            out.append((entry.name, entry.task, entry.paddlex or {"class": entry.name}))
            seen.add(entry.model)
    for spec in get_registry().specs("model"):
        if spec.task in tasks and spec.name not in seen:
            out.append((spec.name, spec.task, spec.paddlex or {"class": spec.name}))
    return out


def class_names(group: str) -> list[str]:
    names = {desc.get("class") for _, _, desc in _candidates(group)}
    if group == "cls":  # the zoo names work as class names too
        names |= {name for name, _, _ in _candidates(group)}
    return sorted(filter(None, names), key=natural_key)


def _stated(description: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in description.items() if k != "class"}


def _select(group: str, cls: str, selectors: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """The zoo row or preset PaddleX's ``cls`` with ``selectors`` builds: one whose every
    stated argument equals the one asked (PaddleX's default where not given). Where
    several fit, the one stating the most of the asked arguments, then the first (zoo
    rows before other presets). Returns its name, its task and the selectors it does not
    state (overrides for its factory)."""
    rows = [(n, t, d) for n, t, d in _candidates(group)
            if d.get("class") == cls or (group == "cls" and n == cls)]
    chosen = {**PADDLEX_DEFAULTS.get(cls, {}), **selectors}
    fits = []
    for index, (name, task, description) in enumerate(rows):
        stated = _stated(description)
        asked = set(stated) & set(chosen)
        if all(stated[k] == chosen[k] for k in asked):
            fits.append((-len(asked), index, name, task, stated))
    if not fits:
        options = [f"{n} ({', '.join(f'{k}={v!r}' for k, v in _stated(d).items())})"
                   for n, _, d in rows]
        raise UnknownNameError(
            f"pxcore.{group}.{cls}: no zoo model or preset has "
            f"{', '.join(f'{k}={v!r}' for k, v in chosen.items())}; the options are "
            f"{', '.join(options)}",
            name=cls, kind="model")
    _, _, name, task, stated = min(fits, key=lambda fit: fit[:2])
    return name, task, {k: v for k, v in selectors.items() if k not in stated}


def constructor(group: str, cls: str) -> Callable[..., Any]:
    """A PaddleX-style constructor: ``cls(num_classes, **selectors_and_overrides)``."""
    from .api import create_model

    selector_keys = {k for _, _, d in _candidates(group)
                     if d.get("class") == cls for k in d if k != "class"}

    def build(num_classes: int | None = None, **kwargs: Any):
        selectors = {k: kwargs.pop(k) for k in list(kwargs) if k in selector_keys}
        name, task, unstated = _select(group, cls, selectors)
        kwargs.update(unstated)
        if num_classes is not None and cls in BACKGROUND_COUNTED:
            if num_classes < 2:
                raise PxError(f"pxcore.{group}.{cls}: num_classes counts the background "
                              f"class as PaddleX did, so it must be at least 2, got {num_classes}")
            num_classes -= 1
        return create_model(name, num_classes=num_classes, task=task, **kwargs)

    build.__name__ = build.__qualname__ = cls
    build.__doc__ = (f"PaddleX 1.x's {group}.{cls}: builds the pxcore zoo model or preset "
                     "that is the network PaddleX's class builds with these arguments.")
    return build


def namespace(group: str):
    """``__getattr__`` and ``__dir__`` for the module ``pxcore.<group>``."""

    def __getattr__(attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        names = class_names(group)
        if attr not in names:
            suggestions = closest(attr, names)
            hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
            raise AttributeError(f"pxcore.{group} has no model {attr!r}{hint}")
        return constructor(group, attr)

    def __dir__():
        return class_names(group)

    return __getattr__, __dir__
