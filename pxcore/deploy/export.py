"""``model.export(save_dir)``: a directory a Predictor runs without the model's code.

    save_dir/model.json, model.pdiparams   the static program (paddle.jit.save, PIR)
    save_dir/legacy/model.pdmodel, ...     the same in the pre-PIR format (legacy=True),
                                           which Paddle Lite's optimizer reads
    save_dir/deploy.yml                    inputs, outputs, labels, and the pre- and
                                           post-processing as data
    save_dir/onnx/model-KEY.onnx           the ONNX conversion, where the ONNX runtime's
                                           plugin is installed (see ``prepare``)

A network that offers ``deploy_graphs(shape)`` and ``deploy_pipeline()`` (R-CNN: its
proposals and NMS convert to no ONNX) is written as several graphs instead,
``NAME.json``/``NAME.pdiparams`` each, with deploy.yml's ``graphs`` and ``pipeline``
saying how they run (pxcore.inference.graphs); every runtime then runs those graphs.

Batch size and image size stay dynamic unless fixed.

This module is the paddle side of deployment (it writes the graph with paddle); reading
deploy.yml and running an export is ``pxcore.inference``, which imports no paddle.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..contract import ExportsGraphs, declared
from ..engine.checkpoint import replace_dir
from ..errors import PxError
from ..inference.deploy_file import DEPLOY_FILE, FORMAT, read_deploy_info

__all__ = ["DEPLOY_FILE", "FORMAT", "PROGRAM", "export_model", "nominal_input_size",
           "read_deploy_info"]

logger = logging.getLogger("pxcore")

PROGRAM = "model"  # paddle.jit.save's prefix: model.json / model.pdmodel, model.pdiparams


def nominal_input_size(transforms, probe: int = 512) -> tuple[int, int] | None:
    """(height, width) the eval transforms give a probe image, or None if that depends
    on the image (no crop or resize to a fixed size)."""
    sizes = set()
    for h, w in ((probe, probe), (probe, probe * 3 // 2)):
        sample = {"image": np.zeros((h, w, 3), np.uint8), "im_shape": np.array([h, w], np.float32),
                  "scale_factor": np.ones(2, np.float32)}
        sample = transforms(sample, np.random.default_rng(0))
        sizes.add(tuple(int(d) for d in np.asarray(sample["image"]).shape[:2]))
    return sizes.pop() if len(sizes) == 1 else None


# Runtimes whose conversion export runs when they are installed and usable here, so that
# the export carries its result: the ONNX file, which a machine without paddle (and so
# without a working paddle2onnx) runs as it is.
PREPARE_AT_EXPORT = ("onnxruntime",)


def export_model(model, save_dir: str | os.PathLike, fixed_input_shape: Any = None,
                 batch_size: int | None = None, legacy: bool = False,
                 prepare: Sequence[str] = PREPARE_AT_EXPORT) -> Path:
    """Write the inference directory for ``model``. ``fixed_input_shape`` is [width,
    height] as in PaddleX; ``batch_size`` fixes the batch; ``legacy`` also writes the
    pre-PIR program (for Paddle Lite). ``prepare``: runtimes whose conversion is done
    now and kept in the export (those registered and usable here that can run the
    model; one whose conversion fails is left out with a warning, the export stands)."""
    import paddle

    if not hasattr(model, "deploy_outputs"):
        raise PxError(f"{model.name} is a {model.task} model, and pxcore cannot export that task yet")
    if model.eval_transforms is None:
        raise PxError(f"{model.name} has no evaluation transforms to export; set model.eval_transforms")
    refusal = declared(model.net, "legacy_export_refusal")
    if legacy and refusal:
        raise PxError(f"{model.name} cannot be written in the pre-PIR program format Paddle "
                      f"Lite reads: {refusal}. Export without legacy=True and run it with "
                      "Paddle Inference (runtime='paddle')")
    height = width = None
    if fixed_input_shape is not None:
        try:
            width, height = (int(v) for v in fixed_input_shape)
        except (TypeError, ValueError):
            raise PxError(f"fixed_input_shape must be [width, height], got {fixed_input_shape!r}") from None
    save_dir = Path(save_dir)
    save_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{save_dir.name}.", dir=save_dir.parent))
    try:
        shape = [batch_size, 3, height, width]
        net = model.net
        was_training = net.training
        net.eval()
        graphs = None
        if isinstance(net, ExportsGraphs):
            graphs = _save_graphs(net, tmp, [1, *shape[1:]])  # the pipeline feeds one image at a time
            files = None
        else:
            spec = [paddle.static.InputSpec(shape, "float32", "image")]
            paddle.jit.save(deploy_layer(model), str(tmp / PROGRAM), input_spec=spec)
            files = {"program": _program_file(tmp), "params": f"{PROGRAM}.pdiparams"}
        if was_training:
            net.train()
        if legacy and files is not None:
            _export_legacy(model, tmp / "legacy", shape)
            files["legacy_program"] = f"legacy/{PROGRAM}.pdmodel"
            files["legacy_params"] = f"legacy/{PROGRAM}.pdiparams"
        info = {
            "format": FORMAT,
            **{k: v for k, v in model.describe().items() if k in
               ("pxcore_version", "model", "zoo_id", "task", "num_classes", "labels")},
            "inputs": [{"name": "image", "shape": [-1 if d is None else d for d in shape],
                        "dtype": "float32", "layout": "NCHW"}],
            "outputs": model.deploy_outputs(),
            "input_size": list(nominal_input_size(model.eval_transforms) or []) or None,
            "transforms": model.eval_transforms.to_config(),
            "postprocess": model.deploy_postprocess(),
        }
        if graphs is None:
            info["files"] = files
        else:
            info["graphs"] = graphs
            info["pipeline"] = net.deploy_pipeline()
        (tmp / DEPLOY_FILE).write_text(yaml.safe_dump(info, sort_keys=False, allow_unicode=True),
                                       encoding="utf-8")
        _prepare_runtimes(tmp, info, prepare)
        replace_dir(tmp, save_dir)  # a kill leaves the old export or the new one, whole
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return save_dir


def deploy_layer(model):
    """The layer an export saves: the model's ``deploy_layer()`` where it has one (its
    network with extra outputs), else its network."""
    return model.deploy_layer() if hasattr(model, "deploy_layer") else model.net


def _prepare_runtimes(folder: Path, info: dict[str, Any], names: Sequence[str]) -> None:
    """Build each named runtime once on the export being written, so that it converts
    (and caches, in the export) what it needs. Runtimes are found through the registry:
    the core never imports a runtime plugin."""
    from ..inference.graphs import build_runtime
    from ..inference.runtime import unsupported_ops
    from ..plugins import get_registry

    for name in names:
        spec = get_registry().find("runtime", name)
        if spec is None or spec.unavailable_reason() is not None or unsupported_ops(spec, info):
            continue  # not installed, not usable here, or cannot run this graph: nothing to keep
        try:
            build_runtime(spec, model_dir=folder, info=info, device="cpu", precision="fp32",
                          threads=1)
        except Exception as exc:  # an optional head start: never worth failing the export
            logger.warning("export: the %s runtime's conversion failed, so the export carries "
                           "none (it will be tried again where the model runs): %s", name, exc)


def _program_file(folder: Path, prefix: str = PROGRAM) -> str:
    for name in (f"{prefix}.json", f"{prefix}.pdmodel"):
        if (folder / name).is_file():
            return name
    raise PxError(f"paddle.jit.save wrote no program file in {folder}")


def _save_graphs(net, folder: Path, image_shape: list) -> dict[str, dict[str, Any]]:
    """Each of ``net.deploy_graphs(image_shape)`` (``{"layer", "inputs", "outputs"[,
    "onnx_opset", "shape_rules"]}``, the layer's forward taking the inputs as one list)
    as its own program and weights, and its deploy.yml entry (pxcore.inference.graphs;
    ``shape_rules``: {input name: {"stride": s} or {"max_count": n}}, written into that
    input's entry for ``shapes.derived_range``)."""
    import paddle

    entries = {}
    for name, graph in net.deploy_graphs(image_shape).items():
        # the layer takes its inputs as one list: the program's inputs are its items
        paddle.jit.save(graph["layer"], str(folder / name), input_spec=[list(graph["inputs"])])
        entries[name] = {
            "program": _program_file(folder, name), "params": f"{name}.pdiparams",
            "inputs": [{"name": spec.name, "shape": [-1 if d is None else int(d) for d in spec.shape],
                        "dtype": str(spec.dtype).replace("paddle.", ""),
                        **graph.get("shape_rules", {}).get(spec.name, {})} for spec in graph["inputs"]],
            "outputs": [{"name": output} for output in graph["outputs"]],
            **({"onnx_opset": int(graph["onnx_opset"])} if graph.get("onnx_opset") else {}),
        }
    return entries


# Paddle writes the pre-PIR format only when FLAGS_enable_pir_api=0 is set before it
# starts, so a child process rebuilds the model from a saved copy and writes it.
_LEGACY_SCRIPT = """
import sys, paddle, pxcore
from pxcore.deploy.export import deploy_layer
model = pxcore.load_model(sys.argv[1])
shape = [None if d == "None" else int(d) for d in sys.argv[3].split(",")]
spec = [paddle.static.InputSpec(shape, "float32", "image")]
paddle.jit.save(deploy_layer(model), sys.argv[2], input_spec=spec)
"""


def _export_legacy(model, folder: Path, shape: list) -> None:
    with tempfile.TemporaryDirectory(prefix="pxcore-legacy-") as saved:
        model.save(saved)
        env = {**os.environ, "FLAGS_enable_pir_api": "0"}
        result = subprocess.run(
            [sys.executable, "-c", _LEGACY_SCRIPT, saved, str(folder / PROGRAM),
             ",".join(str(d) for d in shape)], env=env, capture_output=True, text=True)
    if result.returncode != 0 or not (folder / f"{PROGRAM}.pdmodel").is_file():
        raise PxError(f"writing the legacy program format failed:\n{result.stderr[-2000:]}")
