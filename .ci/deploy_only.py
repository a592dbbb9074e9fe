"""A deploy-only machine runs an export made on a training machine (issue 20).

    .venv/bin/python .ci/deploy_only.py export DIR         # with paddle: export, predict
    .venv-deploy/bin/python .ci/deploy_only.py check DIR   # no paddle: Predictor, px predict

``export`` writes one model of each task (classification, YOLO detection, semantic
segmentation; untrained and seeded, see ``_vary``) with the
ONNX runtime's plugin installed, so each export carries its ONNX file, plus a few
generated images and what ``model.predict`` (eager paddle) gives on them.

``check`` runs where paddle is not installed (it fails if paddle can be imported):
``Predictor(runtime="auto")`` must pick ONNX Runtime, run each export, and give what
``model.predict`` gave within the float tolerances of ``pxcore.testing`` (two runtimes
add in other orders; see numerics.py and detections.py there); ``px predict`` must run
each export too.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

# (zoo name, create_model arguments): one per task the Predictor serves.
MODELS = {
    "classification": ("MobileNetV3_small", {"num_classes": 5}),
    "detection": ("YOLOv3-MobileNetV1", {"num_classes": 3}),
    "semantic_segmentation": ("Fast-SCNN", {"num_classes": 3}),
}
LABELS = {"classification": list("abcde"), "detection": ["box", "disc", "ring"],
          "semantic_segmentation": ["background", "blob", "line"]}
PREDICT_ARGS = {"classification": {"topk": 3}, "semantic_segmentation": {"score_map": True}}
IMAGE_SIZES = ((120, 160), (97, 131), (64, 64))
# Segmentation probabilities: a softmax of logits that move by float rounding between
# runtimes (about 1e-5 on Fast-SCNN's, numerics.py) moves by at most a quarter of that.
SCORE_MAP_ATOL = 1e-4
# The default label maps (the export's own argmax output): a pixel whose two best logits
# are closer than that rounding may flip.
LABEL_AGREEMENT = 0.999


def _images(folder: Path) -> list[str]:
    """Photos stand-ins: smooth colour gradients, noise and a filled shape, as PNG."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for index, (height, width) in enumerate(IMAGE_SIZES):
        y, x = np.mgrid[0:height, 0:width]
        image = np.stack([x / width * 255, y / height * 255, (x + y) / (height + width) * 255], -1)
        image = np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
        cv2.circle(image, (width // 2, height // 2), min(height, width) // 4, (250, 30, 30), -1)
        path = folder / f"image{index}.png"
        cv2.imwrite(str(path), image)
        paths.append(str(path))
    return paths


def _vary(net, seed: int = 0) -> None:
    """An untrained network's output is degenerate (equal class scores, no box above the
    threshold), which would make the comparison empty. Shifting every trainable 1-D
    parameter (biases, BatchNorm scales and shifts) by seeded noise makes scores depend
    on the image and the detector find boxes; running statistics stay valid."""
    rng = np.random.default_rng(seed)
    for param in net.parameters():
        value = param.numpy()
        if value.ndim == 1 and not param.stop_gradient:
            param.set_value((value + rng.normal(0, 0.5, value.shape)).astype(value.dtype))


def export(root: Path) -> None:
    import warnings

    import paddle

    warnings.filterwarnings("ignore", message="Tensor do not have 'place'")

    import pxcore

    images = _images(root / "images")
    for task, (name, args) in MODELS.items():
        paddle.seed(0)
        model = pxcore.create_model(name, **args)
        model.labels = LABELS[task]
        _vary(model.net)
        out = model.export(root / task)
        if not list((out / "onnx").glob("model-*.onnx")):
            raise SystemExit(f"the export of {name} carries no ONNX file: is pxcore-runtime-onnx installed?")
        expected = model.predict(images, **PREDICT_ARGS.get(task, {}))
        if task == "detection" and not all(expected):
            raise SystemExit(f"{name} found no boxes on some image: the comparison would be empty")
        if task == "semantic_segmentation":
            labels = model.predict(images)  # the default: label maps alone
            np.savez(root / f"{task}.npz", **{f"score_map{i}": r["score_map"] for i, r in enumerate(expected)},
                     **{f"label_map{i}": r["label_map"] for i, r in enumerate(labels)})
        else:
            (root / f"{task}.json").write_text(json.dumps(expected), encoding="utf-8")
        print(f"exported {name} to {out}", flush=True)
    (root / "images.json").write_text(json.dumps(images), encoding="utf-8")


def check(root: Path) -> None:
    if importlib.util.find_spec("paddle") is not None:
        raise SystemExit("paddle is importable here: this check must run without it")
    from pxcore.inference import Predictor
    from pxcore.testing.detections import assert_same_detection_lists
    from pxcore.testing.numerics import assert_same_classifications

    images = json.loads((root / "images.json").read_text(encoding="utf-8"))
    for task in MODELS:
        predictor = Predictor(root / task)
        if predictor.runtime != "onnxruntime":
            raise SystemExit(f"runtime='auto' chose {predictor.runtime} for {task}, not onnxruntime")
        got = predictor.predict(images, **PREDICT_ARGS.get(task, {}))
        if task == "classification":
            expected = json.loads((root / f"{task}.json").read_text(encoding="utf-8"))
            assert_same_classifications(got, expected)
        elif task == "detection":
            expected = json.loads((root / f"{task}.json").read_text(encoding="utf-8"))
            assert_same_detection_lists(got, expected)
        else:
            expected = np.load(root / f"{task}.npz")
            for i, (result, labels) in enumerate(zip(got, predictor.predict(images), strict=True)):
                np.testing.assert_allclose(result["score_map"], expected[f"score_map{i}"],
                                           atol=SCORE_MAP_ATOL, err_msg=f"{task}, image {i}")
                agreement = float(np.mean(labels["label_map"] == expected[f"label_map{i}"]))
                if agreement < LABEL_AGREEMENT:
                    raise SystemExit(f"{task}, image {i}: the label map agrees with model.predict's "
                                     f"on {agreement:.2%} of pixels (needs {LABEL_AGREEMENT:.1%})")
        # the command line too, as a deploy-only user runs it
        cli = subprocess.run([str(Path(sys.executable).with_name("px")), "predict", str(root / task),
                              *images, "--save-dir", str(root / "predict" / task)],
                             capture_output=True, text=True)
        if cli.returncode != 0:
            raise SystemExit(f"px predict failed on {task}:\n{cli.stderr[-2000:]}")
        lines = [json.loads(line) for line in cli.stdout.splitlines() if line.startswith("{")]
        if len(lines) != len(images) or any(line["by"] != "runtime onnxruntime" for line in lines):
            raise SystemExit(f"px predict on {task} printed:\n{cli.stdout[-2000:]}")
        print(f"{task}: {len(images)} images agree with model.predict (ONNX Runtime, no paddle)")
    leaked = sorted(m for m in sys.modules if m == "paddle" or m.startswith(("paddle.", "paddle2onnx")))
    if leaked:
        raise SystemExit(f"the deploy-only run imported {', '.join(leaked[:5])}")


if __name__ == "__main__":
    command, folder = sys.argv[1:3]
    {"export": export, "check": check}[command](Path(folder))
