"""Deployment: ``export`` writes a self-describing inference directory; ``Predictor``
runs it through any registered runtime (Paddle Inference in the core; ONNX Runtime,
TensorRT and Paddle Lite from plugins) with the same pre- and post-processing as
``model.predict``, read from the directory as data."""

from .export import DEPLOY_FILE, export_model, read_deploy_info
from .predictor import Predictor
from .runtime import Runtime, RuntimeUnavailable, runtime_report, select_runtime

__all__ = ["DEPLOY_FILE", "Predictor", "Runtime", "RuntimeUnavailable", "export_model",
           "read_deploy_info", "runtime_report", "select_runtime"]
