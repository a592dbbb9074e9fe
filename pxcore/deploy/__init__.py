"""Deployment, the paddle side: ``export`` writes a self-describing inference directory
(the static program, written by paddle, and deploy.yml); ``paddle_inference`` is the
core's runtime on Paddle Inference; ``bench`` measures deployed latency (``px bench``).

Running an export needs none of this: ``Predictor``, deploy.yml reading and runtime
selection live in ``pxcore.inference``, which imports no paddle; their names are
re-exported here so that ``pxcore.deploy.Predictor`` and friends keep working.
Importing this package does not import paddle either: ``export_model`` is loaded on
first use.
"""

from __future__ import annotations

import importlib

from ..inference import (
    DEPLOY_FILE,
    Predictor,
    Runtime,
    RuntimeUnavailable,
    read_deploy_info,
    runtime_report,
    select_runtime,
)

_LAZY = {"export_model": "pxcore.deploy.export"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pxcore.deploy' has no attribute {name!r}")


__all__ = ["DEPLOY_FILE", "Predictor", "Runtime", "RuntimeUnavailable", "export_model",
           "read_deploy_info", "runtime_report", "select_runtime"]
