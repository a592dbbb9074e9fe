"""A PaddleX 2.x inference export (``model.pdmodel``, ``model.pdiparams``, model.yml with
``status: Infer``) as a Predictor's deploy description, read without paddle.

PaddleX 2.x's ``_export_inference_model`` (``paddlex/cv/models/base.py``) saves
``paddle.jit.to_static(InferNet(net), input_spec)`` with ``paddle.jit.save`` under the
prefix ``model``; its input is ``image`` [N, 3, H, W] (``fixed_input_shape`` fixes H, W).
``InferNet`` (``paddlex/cv/models/utils/infer_nets.py``) appends the softmax to a
classifier (the graph gives probabilities) and, to a segmenter, the argmax (int32 [N,
H, W]) and the softmax as [N, H, W, C]. The Predictor's post-processing takes logits:
the logarithm of the probabilities is such logits (softmax gives the probabilities back,
to rounding), and the graph's argmax is its label map. Its pre-processing is model.yml's
``Transforms`` through ``transforms.map_transforms``; PaddleSeg's networks take any
image size, so nothing is padded (``size_divisor`` 1).

A detector's graph is PaddleDetection 2.x's network itself (``_build_inference_net``
returns ``self.net`` for a detector): inputs ``image``, ``im_shape`` and ``scale_factor``
(``BaseDetector._define_input_spec``), decoding and NMS inside, outputs the final boxes
and per-image counts (and Mask R-CNN's pasted masks). The Predictor runs it through
``pxcore.inference.final_boxes``; a detector class PaddleX 2.1 does not have is refused.
Paddle Inference is the runtime that reads these programs, so "auto" means "paddle"; a
program it cannot load (an operator this paddle does not register) is refused with its
own message (``paddlex_load_refusal``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PxError
from .model_yml import MODEL_FILE, is_paddlex_dir, read_paddlex_info
from .transforms import map_transforms

PROGRAM, PARAMS = "model.pdmodel", "model.pdiparams"
RUNTIME = "paddle"
TASKS = {"classifier": "classification", "segmenter": "semantic_segmentation"}
# paddlex/cv/models/detector.py (2.1.0): every class exports the network with its own NMS
DETECTORS = {"YOLOv3": "detection", "PPYOLO": "detection", "PPYOLOTiny": "detection",
             "PPYOLOv2": "detection", "PicoDet": "detection", "FasterRCNN": "detection",
             "MaskRCNN": "instance_segmentation"}


def is_paddlex_export(model_dir: str | os.PathLike) -> bool:
    """Whether a Predictor should read ``model_dir`` as PaddleX's (no deploy.yml, and a
    model.yml PaddleX wrote); ``paddlex_deploy_info`` then says what it is if not an
    export it runs."""
    folder = Path(model_dir)
    return not (folder / "deploy.yml").is_file() and is_paddlex_dir(folder)


def paddlex_deploy_info(model_dir: str | os.PathLike) -> dict[str, Any]:
    """deploy.yml's content for a PaddleX 2.x inference export (see the module's notes)."""
    info = read_paddlex_info(model_dir)
    folder = info.directory
    if info.status != "Infer":
        raise PxError(f"{folder} is a model PaddleX saved (status {info.status}), not its "
                      "inference export: load it with pxcore.load_model, or convert and export "
                      f"it: px convert-model {folder} DIR && px export DIR --save-dir EXPORT")
    if info.major < 2:
        raise PxError(f"{folder} is PaddleX {info.version}'s inference export, whose weights sit "
                      "in one '__params__' file of a fluid program; Paddle 3 does not run those. "
                      "Convert the directory PaddleX trained into (with model.pdparams): "
                      "px convert-model SRC DIR && px export DIR --save-dir EXPORT")
    if not (folder / PROGRAM).is_file():
        raise PxError(f"{folder} has {PARAMS} but no {PROGRAM}: PaddleX 2.x writes both with "
                      "paddle.jit.save; copy the whole export")
    if info.num_classes is None:
        raise PxError(f"{folder / MODEL_FILE}: gives no num_classes")
    if info.model_type == "detector":
        return _detector_info(info)
    task = TASKS[info.model_type]
    shape = _input_shape(info)
    postprocess: dict[str, Any] = {"type": task}
    outputs = [{"name": "probabilities", "shape": [-1, int(info.num_classes)]}]
    if task == "semantic_segmentation":
        postprocess["size_divisor"] = 1
        outputs = [{"name": "label_map", "shape": [-1, -1, -1], "dtype": "int32"},
                   {"name": "score_map", "shape": [-1, -1, -1, int(info.num_classes)]}]
    inputs = [{"name": "image", "shape": shape, "dtype": "float32", "layout": "NCHW"}]
    return _deploy_info(info, task, inputs, outputs, postprocess)


def _input_shape(info) -> list[int]:
    shape = list(info.fixed_input_shape or [None, 3, None, None])
    return [-1 if d is None or d == -1 else int(d) for d in shape]


def _detector_info(info) -> dict[str, Any]:
    """A PaddleDetection graph with its own NMS (see the module's notes)."""
    from ..inference.final_boxes import deploy_entry

    task = DETECTORS.get(info.model)
    if task is None:
        raise PxError(f"{info.path}: the detector class {info.model!r} is not one PaddleX 2.1 "
                      f"exports ({', '.join(DETECTORS)}), so pxcore does not know the form of "
                      "its graph; convert the directory PaddleX trained into and export that: "
                      "px convert-model SRC DIR && px export DIR --save-dir EXPORT")
    shape = _input_shape(info)
    batch = shape[0]
    inputs = [{"name": "image", "shape": shape, "dtype": "float32", "layout": "NCHW"},
              {"name": "im_shape", "shape": [batch, 2], "dtype": "float32"},
              {"name": "scale_factor", "shape": [batch, 2], "dtype": "float32"}]
    outputs = [{"name": "bbox", "shape": [-1, 6]}, {"name": "bbox_num", "shape": [-1], "dtype": "int32"}]
    if task == "instance_segmentation":
        outputs.append({"name": "mask", "shape": [-1, -1, -1], "dtype": "int32"})
    return _deploy_info(info, task, inputs, outputs, deploy_entry())


def _deploy_info(info, task: str, inputs: list, outputs: list, postprocess: dict) -> dict[str, Any]:
    from ..inference.deploy_file import FORMAT

    shape = inputs[0]["shape"]
    return {
        "format": FORMAT, "model": f"PaddleX {info.version} {info.model}", "zoo_id": None,
        "task": task, "num_classes": int(info.num_classes), "labels": info.labels,
        "inputs": inputs, "outputs": outputs,
        "input_size": shape[2:] if all(d > 0 for d in shape[2:]) else None,
        "transforms": map_transforms(info.transforms, major=info.major,
                                     model_type=info.model_type, where=str(info.path)),
        "postprocess": postprocess,
        "files": {"program": PROGRAM, "params": PARAMS},
        "paddlex_export": True,
    }


def paddlex_runtime(info: dict[str, Any], runtime: str) -> str:
    """The runtime a PaddleX export runs on: Paddle Inference, which reads its program."""
    if runtime not in ("auto", RUNTIME):
        raise PxError(f"a PaddleX inference export runs on Paddle Inference (runtime='paddle'), "
                      f"not {runtime!r}; for the other runtimes convert the model PaddleX saved "
                      "and export it: px convert-model SRC DIR && px export DIR --save-dir EXPORT")
    return RUNTIME


def paddlex_load_refusal(model_dir: str | os.PathLike, exc: Exception) -> PxError:
    """Why Paddle Inference cannot run a PaddleX export (an op this paddle does not
    register, a program it cannot read), with its own words, and the way round it."""
    try:
        from paddle import __version__ as version
    except ImportError:
        version = "not installed"
    return PxError(f"Paddle Inference (paddle {version}) cannot load PaddleX's export {model_dir}: "
                   f"{exc}. Convert the directory PaddleX trained into (model.pdparams) and "
                   "export that: px convert-model SRC DIR && px export DIR --save-dir EXPORT")


def to_pxcore_outputs(task: str, outputs: list[np.ndarray]) -> list[np.ndarray]:
    """InferNet's outputs as the ones pxcore's post-processing reads: log-probabilities
    as logits, and a segmenter's label map second."""
    with np.errstate(divide="ignore"):  # a probability of 0 is a logit of -inf: softmax gives 0
        if task == "classification":
            return [np.log(np.asarray(outputs[0], np.float32))]
        labels = next(o for o in outputs if np.issubdtype(o.dtype, np.integer))
        scores = next(o for o in outputs if o.ndim == 4)
        return [np.log(np.asarray(scores, np.float32)).transpose(0, 3, 1, 2), labels]
