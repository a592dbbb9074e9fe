"""Composing a model from parts: the backbone a head is given (a registered name, a
config, or a built Backbone), and which of a preset's backbone arguments survive when
the caller puts another backbone under the preset's head.

A preset such as ``YOLOv3-DarkNet53`` carries arguments for *its* backbone
(``backbone_args={"act": "leaky_relu"}``). Those belong to DarkNet, not to whatever
replaces it: when the caller names another backbone, they carry over only to one of
the same family that declares them; the rest are dropped and the log says which.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Mapping
from typing import Any

from .errors import PxError
from .names import normalize

logger = logging.getLogger("pxcore")


def _backbone_name(backbone: Any) -> str | None:
    if isinstance(backbone, str):
        return backbone
    if isinstance(backbone, Mapping) and isinstance(backbone.get("type"), str):
        return backbone["type"]
    return None


def _factory(backbone: Any) -> str | None:
    name = _backbone_name(backbone)
    if name is None:
        return None
    from .plugins import get_registry

    spec = get_registry().find("backbone", name)
    return None if spec is None else spec.factory


def declared_arguments(backbone: Any) -> set[str] | None:
    """The keyword arguments ``backbone`` can be built with: its factory's parameters and
    its spec's defaults; None when it takes any (``**kwargs``) or is not registered;
    empty for a built layer."""
    name = _backbone_name(backbone)
    if name is None:
        return set()  # a built backbone takes no arguments
    from .plugins import get_registry

    spec = get_registry().find("backbone", name)
    if spec is None:
        return None  # unknown: create_backbone raises its error with suggestions
    params = inspect.signature(spec.load()).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params} | set(spec.defaults)


def substitute_backbone(preset_defaults: Mapping[str, Any],
                        overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides`` with ``backbone_args`` settled.

    - The preset's own backbone: the caller's ``backbone_args`` update the preset's.
    - Another backbone with ``backbone_args``: those are the new backbone's, whole.
    - Another backbone without: the preset's arguments carry over only to a backbone
      of the same family (the same factory, e.g. ResNet50_vd's ``dcn_stages`` to
      ResNet18) and only those it declares; the rest are dropped, and the log says so.
      An argument of the same name means something else in another family (DarkNet's
      ``act="leaky_relu"`` is not one of ShuffleNet's activations).
    """
    out = dict(overrides)
    preset_args = dict(preset_defaults.get("backbone_args") or {})
    caller_args = out.get("backbone_args")
    preset_backbone = _backbone_name(preset_defaults.get("backbone"))
    wanted = out.get("backbone", preset_backbone)
    wanted_name = _backbone_name(wanted)
    same = (wanted_name is not None and preset_backbone is not None
            and normalize(wanted_name) == normalize(preset_backbone))
    if same or not preset_args:
        if preset_args and caller_args is not None:
            out["backbone_args"] = {**preset_args, **dict(caller_args)}
        return out
    if caller_args is not None:
        kept: dict[str, Any] = {}
    elif _factory(wanted) == _factory(preset_backbone):
        accepted = declared_arguments(wanted)
        kept = {k: v for k, v in preset_args.items() if accepted is None or k in accepted}
    else:
        kept = {}
    dropped = [k for k in preset_args if k not in kept]
    if dropped:
        logger.info("backbone %s replaces %s: the preset's arguments for %s are dropped: %s "
                    "(backbone_args={...} passes arguments to the new backbone)",
                    wanted_name or type(wanted).__name__, preset_backbone, preset_backbone,
                    ", ".join(f"{k}={preset_args[k]!r}" for k in dropped))
    out["backbone_args"] = {**kept, **dict(caller_args or {})}
    return out


def build_backbone(backbone: Any, backbone_args: Mapping[str, Any] | None = None, *,
                   consumer: str):
    """A :class:`pxcore.nn.Backbone` reporting every level it has, from a registered
    name, a ``{"type": ...}`` config or YAML file (built with ``backbone_args``), or a
    built Backbone (returned as it is). The consumer then picks its levels with
    ``select_strides``."""
    from .config import build
    from .nn.backbone import Backbone

    if isinstance(backbone, str | Mapping | os.PathLike):
        net = build(backbone, "backbone", **dict(backbone_args or {}))
    else:
        if backbone_args:
            raise PxError(f"{consumer}: backbone_args {dict(backbone_args)} cannot apply to an "
                          f"already built {type(backbone).__name__}; build it with them, or "
                          "pass its registered name")
        net = backbone
    if not isinstance(net, Backbone):
        raise PxError(f"{consumer}: the backbone must be a registered backbone name, a "
                      "{'type': ...} config, or a pxcore.nn.Backbone (a layer whose "
                      f"feature_info reports its levels); got {type(net).__name__}")
    return net
