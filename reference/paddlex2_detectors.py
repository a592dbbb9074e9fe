"""PaddleX 2.1's own detector classes, saved by its own ``save_model``, against what
``pxcore.load_model`` makes of the directory (``pxcore.migrate.detectors``).

In a fresh process, ``paddlex/cv/models/detector.py`` (2.1.0) runs as it is: its
``FasterRCNN`` / ``MaskRCNN`` / ``PPYOLO`` constructors build the network from its
bundled ppdet, random weights (batch norms calibrated on the input) are set, and
``BaseModel.save_model`` writes model.yml and model.pdparams. What Paddle 3.3 cannot
import is replaced by empty placeholders: the training, slim, metric and transform
modules the file imports (PaddleSlim, pycocotools, ...) and ``paddle.fluid``, which
ppdet's ``ops.py`` imports for its box operators (the proposal, RoIAlign and NMS
operators, so the whole detection graph does not run; the parts compared below use
none of them). ppdet's package ``__init__`` imports every model, so ``ppdet.modeling``
resolves a class name from the modules that define the networks built here.

Compared (``harness.relative_difference``): R-CNN: the anchors of each level, the
backbone / FPN features, the RPN head's objectness and deltas, the box head's class
scores and deltas on given RoI features, the mask head's logits (the layout of
``plugins/rcnn/tools/make_layouts.py``); PP-YOLO: the three raw head maps.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from pathlib import Path

import numpy as np

from .harness import relative_difference
from .tools import run_in_child, tool

# Modules detector.py and base.py import for training, pruning, metrics and data; none of
# them runs when a network is built and saved.
PLACEHOLDERS = ("paddleslim", "paddle.fluid", "pycocotools", "cv2", "shapely", "sklearn",
                "paddlex.cv.transforms", "paddlex.utils", "paddlex.cv.models.slim",
                "paddlex.cv.models.utils.det_metrics", "paddlex.ppdet.optimizer",
                "paddlex.ppdet.modeling.transformers")
# ppdet modules that define what detector.py asks ``ppdet.modeling`` for
NETWORK_MODULES = ("architectures.faster_rcnn", "architectures.mask_rcnn", "architectures.yolo",
                   "backbones.resnet", "backbones.hrnet", "necks.fpn", "necks.hrfpn",
                   "necks.yolo_fpn", "proposal_generator.rpn_head", "heads.bbox_head",
                   "heads.mask_head", "heads.yolo_head", "post_process", "layers",
                   "losses.yolo_loss", "losses.iou_loss", "losses.iou_aware_loss")
SIZE = 128  # input pixels: P6 is 2x2, and PP-YOLO's DropBlock (block 3) needs 3x3 at stride 32
ROIS = 3


def _placeholder(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in PLACEHOLDERS)


class _Placeholder(types.ModuleType):
    """A module whose every public attribute is an empty class."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = type(name, (), {"__init__": lambda self, *args, **kwargs: None})
        setattr(self, name, value)
        return value


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        return importlib.machinery.ModuleSpec(name, self, is_package=True) if _placeholder(name) else None

    def create_module(self, spec):
        module = _Placeholder(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


def _paddlex_detector_module(root: Path):
    """paddlex/cv/models/detector.py, with package ``__init__``s skipped (each package
    an empty module over its folder) and the placeholders above."""
    sys.meta_path.insert(0, _Finder())
    six = types.ModuleType("six")  # ppdet's layers.py's one use
    six.moves = types.SimpleNamespace(range=range)
    sys.modules.setdefault("six", six)
    for folder in [root / "paddlex", *sorted((root / "paddlex").rglob("*"))]:
        name = ".".join(folder.relative_to(root).parts)
        if folder.is_dir() and folder.name.isidentifier() and not _placeholder(name):
            module = types.ModuleType(name)
            module.__path__ = [str(folder)]
            sys.modules[name] = module
            parent, _, child = name.rpartition(".")
            if parent:
                setattr(sys.modules[parent], child, module)
    paddlex = sys.modules["paddlex"]
    paddlex.__version__ = "2.1.0"
    paddlex.env_info = {"place": "cpu", "num": 1}  # PaddleX's own: a single-card CPU run
    modeling = sys.modules["paddlex.ppdet.modeling"]

    def network_class(name):
        if not name[:1].isupper():  # submodules import as themselves
            raise AttributeError(name)
        for source in NETWORK_MODULES:
            module = importlib.import_module(f"paddlex.ppdet.modeling.{source}")
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(name)

    modeling.__getattr__ = network_class
    for arch in ("FasterRCNN", "MaskRCNN", "YOLOv3"):  # build_net reads modeling.__dict__
        setattr(modeling, arch, network_class(arch))
    return importlib.import_module("paddlex.cv.models.detector")


def _rcnn_outputs(net, inputs) -> dict[str, np.ndarray]:
    """PaddleX's network's parts, keyed as make_layouts' ``_pxcore_outputs`` keys pxcore's."""
    import paddle
    import paddle.nn.functional as F

    out = {}
    with paddle.no_grad():
        features = net.backbone({"image": paddle.to_tensor(inputs["image"])})
        if net.neck is not None:
            features = net.neck(features)
        for i, feature in enumerate(net.rpn_head.rpn_feat(features)):
            out[f"feature.{i}"] = features[i]
            out[f"rpn_score.{i}"] = net.rpn_head.rpn_rois_score(feature)
            out[f"rpn_delta.{i}"] = net.rpn_head.rpn_rois_delta(feature)
        head = net.bbox_head.head(paddle.to_tensor(inputs["box_roi"]))
        vector = paddle.squeeze(F.adaptive_avg_pool2d(head, 1), axis=[2, 3]) if net.bbox_head.with_pool else head
        out["cls_score"] = net.bbox_head.bbox_score(vector)
        out["bbox_pred"] = net.bbox_head.bbox_delta(vector)
        if hasattr(net, "mask_head"):
            source = paddle.to_tensor(inputs["mask_roi"]) if net.neck is not None else head
            out["mask_logits"] = net.mask_head.mask_fcn_logits(net.mask_head.head(source))
    return {k: v.numpy() for k, v in out.items()}


def _yolo_outputs(net, inputs) -> list[np.ndarray]:
    """The head's raw maps (its ``forward`` at eval blends the IoU branch in)."""
    import paddle

    with paddle.no_grad():
        features = net.neck(net.backbone({"image": paddle.to_tensor(inputs["image"])}))
        return [net.yolo_head.yolo_outputs[i](f).numpy() for i, f in enumerate(features)]


def build(cls: str, params: dict, root: str, save_dir: str) -> dict:
    """Runs in its own process: PaddleX 2.1's ``cls(**params)`` with calibrated random
    weights, saved by its ``save_model`` into ``save_dir``; returns the inputs, its
    outputs and (R-CNN) its cell anchors and strides."""
    import paddle

    from .harness import calibrated_state

    detector = _paddlex_detector_module(Path(root))
    model = getattr(detector, cls)(**params)
    net = model.net
    rng = np.random.default_rng(0)
    inputs = {"image": rng.standard_normal((1, 3, SIZE, SIZE)).astype("float32")}
    rcnn = cls != "PPYOLO"
    if rcnn:
        channels = net.backbone.out_shape[0].channels if net.neck is None else 256  # C4: C4's
        roi = 14 if net.neck is None else 7
        inputs["box_roi"] = rng.standard_normal((ROIS, channels, roi, roi)).astype("float32")
        if hasattr(net, "mask_head") and net.neck is not None:
            inputs["mask_roi"] = rng.standard_normal((ROIS, 256, 14, 14)).astype("float32")

    def forward(net, image):  # every batch norm sees data: backbone, neck, C4's Res5Head
        features = net.backbone({"image": paddle.to_tensor(image)})
        if rcnn and net.neck is None:
            net.bbox_head.head(paddle.to_tensor(inputs["box_roi"]))
        elif not rcnn:
            net.neck(features)

    state = calibrated_state(net, inputs["image"], forward=forward)
    net.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    net.eval()
    model.labels = [f"class{i}" for i in range(model.num_classes)]
    model.optimizer = paddle.optimizer.SGD(parameters=net.parameters())  # save_model saves its state
    model.save_model(save_dir)
    if not rcnn:
        return {"inputs": inputs, "outputs": _yolo_outputs(net, inputs)}
    generator = net.rpn_head.anchor_generator
    return {"inputs": inputs, "outputs": _rcnn_outputs(net, inputs),
            "cells": [c.numpy() for c in generator.cell_anchors], "strides": list(generator.strides)}


def check(cls: str, params: dict, save_dir: str | Path) -> dict[str, float]:
    """PaddleX 2.1's ``cls(**params)``, saved into ``save_dir`` and loaded by
    ``pxcore.load_model``: the largest relative difference of each compared part
    (``anchors`` for R-CNN, ``outputs``), and the loaded model's name."""
    import paddle

    import pxcore as px

    from . import require

    built = run_in_child(build, cls, params, str(require("paddlex2")), str(save_dir))
    model = px.load_model(save_dir)
    net, inputs, theirs = model.net, built["inputs"], built["outputs"]
    result = {"name": model.name}
    if cls == "PPYOLO":
        with paddle.no_grad():
            ours = [o.numpy() for o in net(paddle.to_tensor(inputs["image"]))]
        result["outputs"] = max(relative_difference(a, b) for a, b in zip(ours, theirs, strict=True))
        return result
    assert [float(s) for s in net.anchor_generator.strides] == [float(s) for s in built["strides"]]
    cells = [np.asarray(c) for c in net.anchor_generator.cells]
    assert len(cells) == len(built["cells"]), "another number of anchor levels"
    result["anchors"] = max(relative_difference(a, b) for a, b in zip(cells, built["cells"], strict=True))
    ours = tool("rcnn")._pxcore_outputs(net, None, inputs)
    assert ours.keys() == theirs.keys(), (sorted(ours), sorted(theirs))
    result["outputs"] = max(relative_difference(ours[k], theirs[k]) for k in theirs)
    return result
