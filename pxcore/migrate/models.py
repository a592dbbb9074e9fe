"""A model directory PaddleX 2.x or 1.x saved, as a pxcore model: ``load_paddlex_dir``.

What PaddleX's ``save_model`` writes (``paddlex/cv/models/base.py`` in 2.1 and 1.3):
model.yml (see ``model_yml``) and the weights. 2.x: ``model.pdparams``, the dygraph
network's ``state_dict()`` (PaddleClas / PaddleDetection / PaddleSeg 2.x names),
written by ``paddle.save``. 1.x: ``fluid.save(program, "model")``, a ``model.pdparams``
pickle of the static variables by name (the names the zoo's ``.tar`` archives use);
older PaddleX and ``fluid.io.save_persistables`` left one file per variable instead,
which is read too. Each plugin's ``weight_aliases`` maps those names onto its network.

The class and ``_init_params`` pick the zoo model (``pxcore.paddlex``'s selectors:
``backbone``, ``width``) and the rest of the constructor's arguments become build
arguments where pxcore's network takes them under the same meaning; arguments that
only shape training (a loss option) are dropped; anything else is refused by name.

PaddleX 2.1's segmenters store only ``num_classes`` and ``use_mixed_loss`` (its
``BaseSegmenter`` records ``locals()`` before its subclasses' arguments, and
``get_model_info`` deletes ``params``), and its classifiers only ``num_classes`` (a
``MobileNetV3_large(scale=0.5)`` comes back as ``scale=1.0`` in PaddleX too): what PaddleX
itself rebuilds from such a file is what is built here (``segmenters``: but a segmenter's
``use_deconv``, ``width`` and DeepLabV3P's ``backbone``, which change tensor shapes, are
read from its tensors).
"""

from __future__ import annotations

import inspect
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PxError
from . import detectors, segmenters
from .model_yml import PaddleXInfo, read_paddlex_info
from .transforms import map_transforms

logger = logging.getLogger("pxcore")

GROUPS = {"classifier": "cls", "detector": "det", "segmenter": "seg"}

# Constructor arguments that shape only training (losses, learning rates, PaddleX's
# multi-scale training): nothing of the network a trained model runs.
TRAINING_ONLY = frozenset({
    "use_mixed_loss", "class_weight", "ignore_index", "use_bce_loss", "use_dice_loss",
    "lr_mult_list", "train_random_shapes", "label_smooth", "ignore_threshold",
})

# PaddleX's detector backbones under pxcore's zoo names, per major version.
YOLO_BACKBONES = {
    2: {"MobileNetV1": "MobileNetV1", "MobileNetV1_ssld": "MobileNetV1",
        "MobileNetV3": "MobileNetV3_large", "MobileNetV3_ssld": "MobileNetV3_large",
        "DarkNet53": "DarkNet53", "ResNet34": "ResNet34"},
    1: {"MobileNetV1": "MobileNetV1", "MobileNetV3_large": "MobileNetV3_large",
        "DarkNet53": "DarkNet53", "ResNet34": "ResNet34"},
}

# PaddleX's YOLOv3 NMS arguments -> pxcore's multiclass NMS options (both versions).
YOLO_NMS = {"nms_score_threshold": "score_threshold", "nms_topk": "nms_top_k",
            "nms_keep_topk": "keep_top_k", "nms_iou_threshold": "nms_threshold"}

# PaddleX 2.x classes whose network is not the zoo model of the same name.
V2_OTHER_NETWORKS = {
    name: (f"PaddleX 2.x's {name} is PaddleClas's original Xception (ppcls model_zoo/xception.py), "
           f"while pxcore's {name} is the DeepLab variant PaddleX 1.x built and the zoo's weights "
           "hold (PaddleClas's xception_deeplab)")
    for name in ("Xception41", "Xception65", "Xception71")
}

SUPPORTED = {
    2: {"classifier": "the classifiers of pxcore's zoo (ResNet*, MobileNetV1/V2/V3*, "
                      "DarkNet53, DenseNet*, HRNet_W18_C, ShuffleNetV2, AlexNet)",
        "detector": ("YOLOv3 (backbones " + ", ".join(YOLO_BACKBONES[2]) + "), "
                     + detectors.SUPPORTED_V2),
        "segmenter": segmenters.SUPPORTED_V2},
    1: {"classifier": "the classifiers of pxcore's zoo",
        "detector": "YOLOv3 (backbones " + ", ".join(YOLO_BACKBONES[1]) + ")",
        "segmenter": "DeepLabv3p, UNet, HRNet and FastSCNN"},
}


def load_paddlex_dir(model_dir: str | os.PathLike):
    """The pxcore model for a PaddleX model directory: network, weights, labels and
    evaluation transforms, ready for ``predict`` (``save`` writes a pxcore directory)."""
    from ..api import create_model
    from ..transforms import compose
    from ..weights import load_weights

    info = read_paddlex_info(model_dir)
    _check_status(info)
    state, source = read_paddlex_weights(info)
    name, task, args = model_arguments(info, state)
    transforms = map_transforms(info.transforms, major=info.major, model_type=info.model_type,
                                where=str(info.path))
    model = create_model(name, task=task, **args)
    load_weights(model.net, source, state=state, reinit_head=False)
    model.net.eval()
    model.labels = list(info.labels) if info.labels else None
    if model.labels is not None and len(model.labels) != model.num_classes:
        raise PxError(f"{info.path}: {len(model.labels)} labels for {model.num_classes} classes")
    model.eval_transforms = compose(transforms) if transforms else None
    logger.info("loaded PaddleX %s's %s from %s as pxcore's %s", info.version, info.model,
                info.directory, name)
    return model


def _check_status(info: PaddleXInfo) -> None:
    where = info.directory
    if info.status in ("Infer", "fluid.save_inference_model"):
        what = ("run it with pxcore.Predictor(dir) (Paddle Inference)" if info.major >= 2 else
                "its weights sit in one '__params__' file that only its program can read")
        raise PxError(f"{where} is PaddleX {info.version}'s inference export, not a saved model: "
                      f"{what}; to rebuild the model, load the directory PaddleX trained into "
                      "(the one holding model.pdparams, e.g. output/best_model)")
    if info.status in ("Prune", "Pruned", "Quant", "Quantized"):
        raise PxError(f"{where}: PaddleX {info.status.lower()} this model, which changes its "
                      "network's shapes or ops; pxcore rebuilds unpruned, float models only")
    if info.transforms_mode != "RGB":
        raise PxError(f"{where}: TransformsMode is {info.transforms_mode!r}: the network was "
                      "trained on BGR images, and pxcore feeds RGB; retrain with RGB input")


def model_arguments(info: PaddleXInfo, state: dict[str, np.ndarray] | None = None
                    ) -> tuple[str, str, dict[str, Any]]:
    """(zoo model name, task, create_model's keyword arguments) for ``info``; ``state``,
    the directory's tensors, settles what a PaddleX 2.x segmenter's model.yml omits."""
    from .. import paddlex
    from ..api import resolve_model

    group = GROUPS[info.model_type]
    major = 2 if info.major >= 2 else 1
    where = info.path
    params = dict(info.init_params)
    params.pop("num_classes", None)
    if params.get("input_channel", 3) != 3:
        raise PxError(f"{where}: input_channel={params['input_channel']}; pxcore's networks take "
                      "3-channel images")
    params.pop("input_channel", None)
    unsupported = (f"{where}: PaddleX {info.version}'s {info.model} has no pxcore network; for "
                   f"PaddleX {major}.x {info.model_type}s pxcore takes "
                   f"{SUPPORTED[major][info.model_type]}")
    if info.model_type == "segmenter" and major == 2:
        return segmenters.v2_arguments(info, params, state)
    if major == 2 and info.model in V2_OTHER_NETWORKS:
        raise PxError(f"{where}: {V2_OTHER_NETWORKS[info.model]}; pxcore has no network for it")
    selectors: dict[str, Any] = {}
    if info.model_type == "detector" and major == 2 and info.model != "YOLOv3":
        selectors, params = detectors.v2_arguments(info, params)  # R-CNN, PP-YOLO
    elif info.model_type == "detector" and info.model != "YOLOv3":
        raise PxError(unsupported)
    if info.model == "YOLOv3":
        backbone = params.pop("backbone", "MobileNetV1")  # both versions' default
        if backbone not in YOLO_BACKBONES[major]:
            raise PxError(f"{where}: YOLOv3 on {backbone!r} has no pxcore network; the backbones "
                          f"taken are {', '.join(YOLO_BACKBONES[major])}")
        selectors["backbone"] = YOLO_BACKBONES[major][backbone]
        for key in ("anchors", "anchor_masks"):  # PaddleX 1.x's None: its (COCO) defaults
            if key in params and params[key] is None:
                del params[key]
        nms = {ours: params.pop(theirs) for theirs, ours in YOLO_NMS.items() if theirs in params}
        if nms:
            params["nms"] = {"type": "multiclass", **nms}
        if major == 1:  # whole-pixel boxes: yolo_box clips to width - 1, NMS normalized=False
            params["box_size_offset"] = 1  # and bbox2out reports w = x2 - x1 + 1 (PaddleX 1.3)
    for key in ("backbone", "width"):
        if key in params:
            selectors[key] = params.pop(key)
    try:
        chosen = paddlex._select(group, info.model, selectors)
    except PxError as exc:
        raise PxError(f"{unsupported} ({exc})") from None
    name, task = chosen[0], chosen[1]
    # selectors the chosen preset does not state reach its factory as overrides
    params.update(chosen[2] if len(chosen) > 2 else {})
    _, spec = resolve_model(name, task=task)
    accepted = _factory_arguments(spec)
    args: dict[str, Any] = {}
    refused = []
    for key, value in params.items():
        if key in TRAINING_ONLY:
            continue
        if key in accepted:
            args[key] = list(value) if isinstance(value, tuple) else value
        else:
            refused.append(f"{key}={value!r}")
    if refused:
        raise PxError(f"{where}: {info.model}'s {', '.join(refused)} has no counterpart in "
                      f"pxcore's {name} (which takes {', '.join(sorted(accepted))})")
    if info.num_classes is None:
        raise PxError(f"{where}: gives no num_classes (in _Attributes or _init_params)")
    args["num_classes"] = int(info.num_classes)
    return name, task, args


def _factory_arguments(spec) -> set[str]:
    """The keyword arguments a preset's factory takes (its defaults' keys, and its
    signature's names)."""
    names = set(spec.defaults)
    try:
        signature = inspect.signature(spec.load())
    except (TypeError, ValueError):
        return names
    return names | {p.name for p in signature.parameters.values()
                    if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


# Files PaddleX writes beside the weights, none of them a tensor.
_NOT_TENSORS = {"model.yml", "model.pdopt", "model.pdmodel", "eval_details.json", "prune.yml",
                "quant.yml", "train_state.json"}


def read_paddlex_weights(info: PaddleXInfo) -> tuple[dict[str, np.ndarray], Path]:
    """The tensors of a PaddleX model directory, and the path to name in messages."""
    from ..weights import read_legacy_tensor, read_pdparams

    folder = info.directory
    pdparams = folder / "model.pdparams"
    if pdparams.is_file():
        return read_pdparams(pdparams), pdparams
    if info.major >= 2:
        raise PxError(f"{folder}: PaddleX {info.version} saves the weights as model.pdparams, "
                      "which is missing; copy the whole directory PaddleX wrote")
    state = {}
    for item in sorted(folder.rglob("*")):
        relative = item.relative_to(folder)
        if (item.is_file() and relative.as_posix() not in _NOT_TENSORS
                and not any(part.startswith((".", "__")) for part in relative.parts)):
            state[relative.as_posix()] = read_legacy_tensor(item)
    if not state:
        raise PxError(f"{folder}: holds no weights (neither model.pdparams, which PaddleX 1.3 "
                      "writes, nor one file per variable, which older versions wrote)")
    return state, folder
