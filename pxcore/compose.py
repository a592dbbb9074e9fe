"""Composing a model from parts: the backbone a head is given (a registered name, a
config, or a built Backbone), and which of a preset's backbone arguments survive when
the caller puts another backbone under the preset's head.

A preset such as ``YOLOv3-DarkNet53`` carries arguments for *its* backbone
(``backbone_args={"act": "leaky_relu"}``). Those belong to DarkNet, not to whatever
replaces it, so when the caller names another backbone only the arguments that
backbone declares are passed on; the rest are dropped and the log says which.
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


def declared_arguments(backbone: Any) -> set[str] | None:
    """The keyword arguments ``backbone`` can be built with: its factory's parameters and
    its spec's defaults; None when it takes any (``**kwargs``); empty for a built layer."""
    name = _backbone_name(backbone)
    if name is None:
        return set()  # a built backbone takes no arguments
    from .plugins import get_registry

    spec = get_registry().find("backbone", name)
    if spec is None:
        return None  # unknown: let create_backbone raise its error with suggestions
    params = inspect.signature(spec.load()).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params} | set(spec.defaults)


def substitute_backbone(preset_defaults: Mapping[str, Any],
                        overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides`` with ``backbone_args`` settled: the caller's on top of the preset's,
    and of the preset's only those the caller's backbone declares when the caller names
    another backbone than the preset's."""
    out = dict(overrides)
    preset_args = dict(preset_defaults.get("backbone_args") or {})
    caller_args = dict(out.get("backbone_args") or {})
    if not preset_args or "backbone" not in out:
        if preset_args and "backbone_args" in out:
            out["backbone_args"] = {**preset_args, **caller_args}
        return out
    preset_backbone = _backbone_name(preset_defaults.get("backbone"))
    wanted = _backbone_name(out["backbone"])
    if wanted is not None and preset_backbone is not None and normalize(wanted) == normalize(preset_backbone):
        out["backbone_args"] = {**preset_args, **caller_args}
        return out
    accepted = declared_arguments(out["backbone"])
    kept = {k: v for k, v in preset_args.items() if accepted is None or k in accepted}
    dropped = sorted(set(preset_args) - set(kept) - set(caller_args))
    if dropped:
        logger.info("backbone %s replaces %s: the preset's arguments for %s that %s does not "
                    "take are dropped: %s (pass backbone_args={...} for the new backbone)",
                    wanted or type(out["backbone"]).__name__, preset_backbone, preset_backbone,
                    wanted or "it", ", ".join(f"{k}={preset_args[k]!r}" for k in dropped))
    out["backbone_args"] = {**kept, **caller_args}
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
