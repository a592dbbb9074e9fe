"""A PaddleX model.yml, read without running anything it names.

PaddleX 2.x (``paddlex/cv/models/base.py``, ``BaseModel.get_model_info``) and 1.x
(the same method in 1.3) write ``yaml.dump(model_info)`` with the keys ``version``,
``Model`` (the class name), ``_Attributes`` (``model_type``, ``num_classes``,
``labels``, ``fixed_input_shape``, ``eval_metrics``), ``_init_params`` (the class's
constructor arguments), ``Transforms`` (the evaluation transforms, a list of
``{ClassName: attributes}``), ``completed_epochs`` and ``status``; 1.x adds
``TransformsMode`` (RGB or BGR). PyYAML's default dumper writes a tuple (2.x's
``Resize.target_size``) as ``!!python/tuple``, which PaddleX reads back with the unsafe
loader; here only that tag is added to the safe loader, as a list.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs
import yaml

from ..errors import PxError

MODEL_FILE = "model.yml"
MODEL_TYPES = ("classifier", "detector", "segmenter")


class _Loader(yaml.SafeLoader):
    """The safe loader, plus PyYAML's tuple tag (read as a list)."""


_Loader.add_constructor("tag:yaml.org,2002:python/tuple",
                        lambda loader, node: loader.construct_sequence(node, deep=True))


@attrs.frozen
class PaddleXInfo:
    """What a PaddleX model.yml says, checked."""

    path: Path                      # the model.yml
    version: str                    # PaddleX's version, e.g. "2.1.0" or "1.3.11"
    model: str                      # the class, e.g. "ResNet50", "YOLOv3", "DeepLabv3p"
    model_type: str                 # classifier, detector or segmenter
    init_params: dict[str, Any]
    num_classes: int | None
    labels: list[str] | None
    transforms: list[dict[str, Any]] | None
    status: str
    transforms_mode: str = "RGB"
    fixed_input_shape: list | None = None

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def directory(self) -> Path:
        return self.path.parent


def _load(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.constructor.ConstructorError as exc:
        raise PxError(f"{path}: holds a YAML tag pxcore does not read ({exc.problem}); PaddleX "
                      "writes plain values and tuples only, so this file was not written by "
                      "PaddleX's save_model") from None
    except yaml.YAMLError as exc:
        raise PxError(f"{path}: not valid YAML ({exc})") from None


def is_paddlex_dir(model_dir: str | os.PathLike) -> bool:
    """Whether ``model_dir`` holds a model.yml written by PaddleX (it has ``Model``;
    pxcore's own has ``model``)."""
    path = Path(model_dir) / MODEL_FILE
    if not path.is_file():
        return False
    info = _load(path)
    return isinstance(info, dict) and "Model" in info


def read_paddlex_info(model_dir: str | os.PathLike) -> PaddleXInfo:
    """The checked content of a PaddleX model directory's model.yml."""
    path = Path(model_dir) / MODEL_FILE
    if not path.is_file():
        raise PxError(f"{str(model_dir)!r} holds no {MODEL_FILE}, so it is not a model PaddleX saved")
    info = _load(path)
    if not isinstance(info, dict) or "Model" not in info:
        raise PxError(f"{path}: has no 'Model' key, so PaddleX did not write it "
                      "(a pxcore model directory loads with pxcore.load_model as it is)")
    attributes = info.get("_Attributes") or {}
    params = info.get("_init_params") or {}
    if not isinstance(attributes, dict) or not isinstance(params, dict):
        raise PxError(f"{path}: '_Attributes' and '_init_params' must be mappings, as PaddleX "
                      "writes them")
    model_type = attributes.get("model_type")
    if model_type not in MODEL_TYPES:
        raise PxError(f"{path}: _Attributes.model_type is {model_type!r}, not one of "
                      f"{', '.join(MODEL_TYPES)}")
    version = str(info.get("version") or "")
    if not version[:1].isdigit():
        raise PxError(f"{path}: 'version' is {info.get('version')!r}; PaddleX writes its own "
                      "version there (e.g. 2.1.0 or 1.3.11)")
    num_classes = attributes.get("num_classes", params.get("num_classes"))
    labels = attributes.get("labels")
    if labels is not None and not (isinstance(labels, list) and all(isinstance(x, str) for x in labels)):
        raise PxError(f"{path}: _Attributes.labels must be a list of class names, got {labels!r}")
    transforms = info.get("Transforms")
    if transforms is not None and not (
            isinstance(transforms, list)
            and all(isinstance(t, dict) and len(t) == 1 for t in transforms)):
        raise PxError(f"{path}: 'Transforms' must be a list of {{ClassName: arguments}}, as "
                      "PaddleX writes it")
    return PaddleXInfo(
        path=path, version=version, model=str(info["Model"]), model_type=model_type,
        init_params=dict(params), num_classes=num_classes, labels=labels,
        transforms=transforms, status=str(info.get("status", info.get("save_method", "Normal"))),
        transforms_mode=str(info.get("TransformsMode", "RGB")),
        fixed_input_shape=attributes.get("fixed_input_shape"))
