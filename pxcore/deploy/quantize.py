"""``px quantize``: an export made int8 after training, calibrated on the user's images.

    quantize_export("inference_model", ["a.jpg", ...], "inference_int8")

The calibration images go through the model's own pre-processing (the export's
deploy.yml, run by a Predictor) and the network inputs that gives are handed to the
quantizer of a runtime that has one (a runtime spec's metadata ``quantizer``, a
``"module:function"`` string; pxcore-runtime-openvino's uses NNCF's post-training
quantization). The new export is a copy of the old one plus the runtime's int8 model;
its deploy.yml says ``precision: int8``, which runtime runs it and how it was
calibrated, so ``Predictor(save_dir)`` runs int8 without being told.

A quantizer is ``quantize(model_dir, info, samples, save_dir) -> dict``: it reads the
export in ``model_dir`` (``info`` its deploy.yml), calibrates on ``samples`` (a list of
lists of network input arrays, one per image) and writes its files under ``save_dir``;
it returns deploy.yml's ``files["int8"]`` entry (paths relative to ``save_dir``) and may
add ``"method"`` (how it quantized) to it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..errors import PxError
from ..inference.deploy_file import DEPLOY_FILE, read_deploy_info

DEFAULT_IMAGES = 300  # PaddleSlim's and NNCF's usual calibration subset


def quantizers() -> dict[str, Any]:
    """Registered runtimes that can quantize, by name."""
    from ..plugins import get_registry

    return {spec.name: spec for spec in get_registry().specs("runtime") if spec.metadata.get("quantizer")}


def read_image_list(path: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> list[str]:
    """Images of a file list (PaddleX's: the first field of each line is an image path,
    relative to ``data_dir``, by default the list's folder; labels after it are ignored;
    read as the data sets read lists, so blank and ``#`` lines are skipped)."""
    path = Path(path)
    if not path.is_file():
        raise PxError(f"calibration list {str(path)!r} does not exist; give a file list whose lines "
                      "start with image paths (train_list.txt works)")
    from ..datasets.base import file_list_entries

    root = Path(data_dir) if data_dir else path.parent
    images = [str(root / line.split()[0]) for line, _ in file_list_entries(path)]
    missing = [image for image in images if not Path(image).is_file()]
    if not images or missing:
        raise PxError(f"calibration list {str(path)!r} "
                      + (f"names images that do not exist under {root}: {missing[:3]}; give "
                         "--data-dir, the folder its paths are relative to" if missing else "lists no images"))
    return images


def calibration_samples(model_dir: str | os.PathLike, images: list, runtime: str = "auto") -> list:
    """The network inputs the export's own pre-processing makes of each image: the
    Predictor predicts each image alone and its runtime call is recorded."""
    from ..inference.predictor import Predictor

    predictor = Predictor(model_dir, runtime=runtime, precision="fp32")
    samples = []
    run = predictor.run

    def record(batch):
        samples.append([batch.copy()])
        return run(batch)

    predictor.run = record
    predictor.predict(list(images), batch_size=1)
    return samples


def quantize_export(model_dir: str | os.PathLike, images: list, save_dir: str | os.PathLike,
                    num_images: int = DEFAULT_IMAGES, runtime: str | None = None,
                    calibration_list: str | None = None) -> Path:
    """Write ``save_dir``: the export in ``model_dir`` with an int8 model for ``runtime``
    (default: the one registered quantizer), calibrated on the first ``num_images`` of
    ``images`` (paths or RGB arrays)."""
    from ..engine.checkpoint import replace_dir
    from ..plugins import get_registry
    from ..specs import resolve

    model_dir, save_dir = Path(model_dir), Path(save_dir)
    info = read_deploy_info(model_dir)
    if info.get("precision", "fp32") != "fp32":
        raise PxError(f"{model_dir} is already {info['precision']}; quantize the fp32 export it came from")
    if model_dir.resolve() == save_dir.resolve():
        raise PxError("px quantize writes a new export; give a --save-dir other than the model's")
    available = quantizers()
    if runtime is None:
        if not available:
            raise PxError("no installed runtime can quantize: pip install pxcore-runtime-openvino[quantize]")
        runtime = next(iter(available))
    spec = available.get(runtime)
    if spec is None:
        known = get_registry().find("runtime", runtime)
        raise PxError(f"runtime {runtime!r} " + ("has no quantizer" if known else "is not registered")
                      + f"; runtimes that quantize: {', '.join(available) or 'none installed'} "
                      "(pip install pxcore-runtime-openvino[quantize])")
    reason = spec.unavailable_reason()
    if reason:
        raise PxError(f"runtime {runtime!r} cannot quantize here: {reason}")
    if num_images < 1:
        raise PxError(f"num_images must be at least 1, got {num_images}")
    chosen = list(images)[:num_images]
    if not chosen:
        raise PxError("no calibration images given")
    samples = calibration_samples(model_dir, chosen)
    quantize = resolve(spec.metadata["quantizer"])
    save_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{save_dir.name}.", dir=save_dir.parent))
    try:
        shutil.copytree(model_dir, tmp, dirs_exist_ok=True)
        entry = dict(quantize(tmp, info, samples, tmp))
        method = entry.pop("method", spec.summary)
        info = {**info, "precision": "int8",
                "files": {**info["files"], "int8": {"runtime": runtime, **entry}},
                "calibration": {"images": len(samples), "list": calibration_list, "method": method,
                                "quantized_from": str(model_dir)}}
        (tmp / DEPLOY_FILE).write_text(yaml.safe_dump(info, sort_keys=False, allow_unicode=True),
                                       encoding="utf-8")
        replace_dir(tmp, save_dir)  # the old save_dir or the new one, whole
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return save_dir
