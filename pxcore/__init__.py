"""pxcore: the PaddleX model zoo as a plugin framework on PaddlePaddle.

Importing pxcore never imports paddle; building or running a model does.

    import pxcore as px
    px.list_models("ResNet*")
    model = px.create_model("MobileNetV3_large_ssld", num_classes=10)
"""

from __future__ import annotations

import importlib
from importlib import metadata as _metadata

from .api import create_backbone, create_model, list_models, load_model, model_info
from .config import build, load_config
from .errors import (
    ConfigError,
    DuplicateNameError,
    IncompatiblePartsError,
    PluginError,
    PluginNotInstalledError,
    PxError,
    SpecError,
    UnknownNameError,
    WeightsError,
)
from .hookspecs import hookimpl
from .model import Model
from .plugins import get_registry, plugin_records, register_plugin
from .specs import (
    BackboneSpec,
    DatasetSpec,
    HeadSpec,
    MetricSpec,
    ModelSpec,
    NeckSpec,
    RuntimeSpec,
    TransformSpec,
)

try:
    __version__ = _metadata.version("pxcore")
except _metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"

# Submodules loaded on first use: the PaddleX namespaces, the conformance checks, the
# network building blocks (which import paddle).
_LAZY_ATTRIBUTES = {"Predictor": "pxcore.inference.predictor"}
_LAZY_SUBMODULES = {"cls", "det", "seg", "testing", "nn", "zoo", "weights", "datasets",
                    "transforms", "metrics", "visualize", "deploy", "inference"}


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
    raise AttributeError(f"module 'pxcore' has no attribute {name!r}")


__all__ = [
    "BackboneSpec", "ConfigError", "DatasetSpec", "DuplicateNameError", "HeadSpec",
    "IncompatiblePartsError",
    "MetricSpec", "Model", "ModelSpec", "NeckSpec", "PluginError", "PluginNotInstalledError",
    "PxError", "RuntimeSpec", "SpecError", "TransformSpec", "UnknownNameError", "WeightsError",
    "build", "create_backbone", "create_model", "get_registry", "hookimpl", "list_models",
    "load_config", "load_model", "model_info", "plugin_records", "register_plugin",
]
