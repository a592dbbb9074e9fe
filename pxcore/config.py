"""Building parts from config dicts and YAML files with ``type:`` keys (mmengine style).

``build({"type": "ResNet50_vd", "num_classes": 10})`` builds a model;
``build({"type": "TinyNet", "out_indices": [1, 2]}, "backbone")`` a backbone. A factory
that takes parts (a classifier taking a backbone) calls ``build`` on its arguments, so
nested configs build from the inside, each with the context it needs (a head gets the
backbone's feature shapes).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .specs import KINDS

_YAML_SUFFIXES = (".yml", ".yaml")


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML config file into a dict."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: a config must be a mapping of keys, got {type(data).__name__}")
    return dict(data)


def _is_config_path(value: Any) -> bool:
    return isinstance(value, os.PathLike) or (
        isinstance(value, str) and value.lower().endswith(_YAML_SUFFIXES))


def build(cfg: Any, kind: str = "model", **defaults: Any) -> Any:
    """Build ``cfg`` as a part of ``kind``.

    ``cfg`` is a registered name, a mapping with a ``type`` key and the factory's
    arguments, a YAML file holding such a mapping, or an already-built object (returned
    as it is). ``defaults`` are arguments the caller supplies unless the config sets them.
    Models are built with ``create_model`` and backbones with ``create_backbone``.
    """
    if kind not in KINDS:
        raise ConfigError(f"cannot build a {kind!r}; the kinds are {', '.join(KINDS)}")
    if _is_config_path(cfg):
        cfg = load_config(cfg)
    if isinstance(cfg, str):
        name, args = cfg, {}
    elif isinstance(cfg, Mapping):
        if "type" not in cfg:
            raise ConfigError(
                f"a {kind} config needs a 'type' key naming a registered {kind}; got keys "
                f"{sorted(cfg)}"
            )
        args = dict(cfg)
        name = args.pop("type")
        if not isinstance(name, str):
            raise ConfigError(f"'type' of a {kind} config must be a name, got {name!r}")
    else:
        return cfg  # already built
    args = {**defaults, **args}

    from .api import create_backbone, create_model
    from .plugins import get_registry

    if kind == "model":
        return create_model(name, **args)
    if kind == "backbone":
        return create_backbone(name, **args)
    return get_registry().get(kind, name).build(**args)
