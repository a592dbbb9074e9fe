"""The inference layer: what running an exported model needs, and nothing more.

    deploy_file   reading deploy.yml (inputs, outputs, labels, pre/post-processing)
    runtime       the Runtime interface, the registered runtimes and which can run a model
    runtime_choice
                  select_runtime: by name, or "auto", the fastest here, measured once
    choice_cache  the measured choices on disk and what their key holds
    cache         atomic cache files for runtimes' conversions (ONNX, Lite, TensorRT)
    graphs        exports of several graphs with numpy between them (R-CNN): one
                  runtime per graph under the pipeline deploy.yml names
    shapes        shape ranges for engines compiled per range (TensorRT)
    predictor     Predictor: deploy.yml + a runtime + the pre/post-processing
    classification, detection, segmentation
                  each task's pre- and post-processing on numpy/OpenCV: top-k,
                  decoding/NMS glue and mask pasting (through the decoder deploy.yml
                  names), segmentation's restore and tiling

It imports neither paddle nor the training side (``pxcore.tasks``, ``pxcore.engine``,
``pxcore.api``, ``pxcore.model``): ``pip install pxcore pxcore-runtime-onnx`` runs an
export without paddle. ``model.predict`` in ``pxcore.tasks`` calls the same
``predict_images`` functions with an eager-paddle ``run``, so there is one
implementation. What needs paddle stays in ``pxcore.deploy``: ``export`` (writing the
static graph), the Paddle Inference runtime, and ``px bench`` (which exports).
"""

from .deploy_file import DEPLOY_FILE, FORMAT, read_deploy_info
from .predictor import Predictor
from .runtime import Runtime, RuntimeUnavailable, runtime_report
from .runtime_choice import select_runtime

__all__ = ["DEPLOY_FILE", "FORMAT", "Predictor", "Runtime", "RuntimeUnavailable",
           "read_deploy_info", "runtime_report", "select_runtime"]
