"""PaddleX's own evaluation transforms against what ``pxcore.migrate.transforms`` makes of
them: each PaddleX op is built from arguments, its ``__dict__`` is what model.yml holds
(``BaseModel.get_model_info`` writes ``{op class name: op.__dict__}``), that is mapped to
pxcore's transforms, and both run on the same images.

PaddleX 1.3.11 comes from the reference code (``python -m reference.install paddlex``);
its transform modules import in this process through ``reference.loader`` with its
logger stubbed. PaddleX 2.1.0 is not among the reference packages, so its check runs only
where it is unpacked (the skip names the command), in a child process: both are
``paddlex``, and one process can hold one tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pxcore.migrate.transforms import map_transforms
from pxcore.transforms import compose

pytestmark = pytest.mark.reference

# After Normalize both sides are float32 computed in another order ((x - min) * (1 / range)
# against x * scale - shift): a few float32 ulps of values up to about 3.
TOLERANCE = 1e-5


def _images():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((90, 120, 3), (77, 61, 3))]


def _ours(yml_transforms, major, model_type, image):
    configs = map_transforms(yml_transforms, major=major, model_type=model_type, where="test")
    return compose(configs)({"image": image.copy()}, np.random.default_rng(0))["image"]


class _Logging:  # paddlex.utils.logging: the transforms only log
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _paddlex13(module: str):
    from reference.loader import import_module

    stubs = {"paddlex.utils.logging": {name: getattr(_Logging(), name)
                                       for name in ("debug", "info", "warning", "error")},
             "six": {"reraise": lambda *a: None}}
    return import_module("paddlex", f"paddlex.cv.transforms.{module}", stubs=stubs)


# (module, model_type, [(op name, arguments)]) as a PaddleX 1.3 user writes them.
V1_PIPELINES = [
    ("cls_transforms", "classifier", [
        ("ResizeByShort", {"short_size": 80, "max_size": 100}), ("CenterCrop", {"crop_size": 64}),
        ("Normalize", {})]),
    ("cls_transforms", "classifier", [
        ("ResizeByShort", {"short_size": 70}), ("CenterCrop", {"crop_size": 60}),
        ("Normalize", {"mean": [0.4, 0.5, 0.6], "std": [0.2, 0.25, 0.3], "min_val": [10, 0, 5],
                       "max_val": [250.0, 200.0, 255.0]})]),
    ("seg_transforms", "segmenter", [
        ("ResizeByLong", {"long_size": 64}), ("Padding", {"target_size": [72, 64]}),
        ("Normalize", {})]),
    ("seg_transforms", "segmenter", [
        ("Resize", {"target_size": [80, 48], "interp": "CUBIC"}), ("Normalize", {})]),
    ("det_transforms", "detector", [
        ("Resize", {"target_size": [96, 64], "interp": "CUBIC"}), ("Normalize", {})]),
    ("det_transforms", "detector", [
        ("Normalize", {}), ("ResizeByShort", {"short_size": 64, "max_size": 100}),
        ("Padding", {"coarsest_stride": 32})]),
]


@pytest.mark.parametrize("module, model_type, ops", V1_PIPELINES,
                         ids=[f"{m}-{'-'.join(n for n, _ in ops)}" for m, _, ops in V1_PIPELINES])
def test_paddlex13_transforms_equal_pxcores(module, model_type, ops):
    T = _paddlex13(module)
    built = [getattr(T, name)(**args) for name, args in ops]
    yml = [{type(op).__name__: dict(vars(op))} for op in built]
    for image in _images():
        theirs = image.copy()
        for op in built:
            # cls ops take the image; seg ops a list of resize records, det ops a dict
            result = (op(theirs) if model_type == "classifier" else
                      op(theirs, [] if model_type == "segmenter" else {}))
            theirs = result[0]
        ours = _ours(yml, 1, model_type, image)
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, np.asarray(theirs, np.float32), rtol=0, atol=TOLERANCE)


# --- PaddleX 2.1.0, in a child process --------------------------------------------------

PADDLEX2 = "paddlex==2.1.0"


def _paddlex2_root() -> Path:
    from reference import reference_dir

    root = Path(os.environ.get("PXCORE_PADDLEX2_DIR") or reference_dir() / "paddlex-2.1.0")
    if not (root / "paddlex" / "cv" / "transforms" / "operators.py").is_file():
        pytest.skip(f"PaddleX 2.1.0's code is not unpacked at {root}; run: {sys.executable} -m pip "
                    f"install --no-deps --target {root} {PADDLEX2} (or set PXCORE_PADDLEX2_DIR)")
    return root


# Runs PaddleX 2.1's operators (paddlex/cv/transforms/operators.py) on the images; its
# package __init__s (which import paddle models and paddleslim) are skipped, and shapely
# (imported by functions.py for polygon crops, unused here) is stubbed.
_CHILD = textwrap.dedent("""
    import json, sys, types, importlib
    from pathlib import Path
    import numpy as np

    root = Path(sys.argv[1])
    for name, path in (("paddlex", "paddlex"), ("paddlex.cv", "paddlex/cv"),
                       ("paddlex.cv.transforms", "paddlex/cv/transforms")):
        module = types.ModuleType(name)
        module.__path__ = [str(root / path)]
        sys.modules[name] = module
    for name in ("shapely", "shapely.ops", "shapely.geometry"):
        module = sys.modules[name] = types.ModuleType(name)
        module.Polygon = module.MultiPolygon = module.GeometryCollection = object
    sys.modules["shapely"].ops, sys.modules["shapely"].geometry = sys.modules["shapely.ops"], sys.modules["shapely.geometry"]
    T = importlib.import_module("paddlex.cv.transforms.operators")
    ops, images, out = json.loads(sys.argv[2]), np.load(sys.argv[3]), {}
    built = [getattr(T, name)(**args) for name, args in ops]
    yml = [{type(op).__name__: {k: (list(v) if isinstance(v, tuple) else v)
                                for k, v in vars(op).items()}} for op in built]
    for key in images.files:
        sample = {"image": images[key].copy()}
        for op in built:
            sample = op(sample)
        out[key] = np.asarray(sample["image"], np.float32)
    np.savez(sys.argv[4], **out)
    print(json.dumps(yml))
""")

V2_PIPELINES = [
    [("ResizeByShort", {"short_size": 80, "max_size": 100}), ("CenterCrop", {"crop_size": 64}),
     ("Normalize", {})],
    [("Resize", {"target_size": [48, 80], "interp": "CUBIC"}),
     ("Normalize", {"mean": [0.4, 0.5, 0.6], "std": [0.2, 0.25, 0.3], "min_val": [10, 0, 5],
                    "max_val": [250.0, 200.0, 255.0], "is_scale": False})],
    [("Resize", {"target_size": [64, 96], "keep_ratio": True}), ("Normalize", {}),
     ("Padding", {"target_size": [64, 96], "pad_mode": 1})],
    [("ResizeByLong", {"long_size": 70}), ("Padding", {"size_divisor": 32}), ("Normalize", {})],
]


@pytest.mark.parametrize("ops", V2_PIPELINES, ids=lambda ops: "-".join(n for n, _ in ops))
def test_paddlex21_transforms_equal_pxcores(ops, tmp_path):
    root = _paddlex2_root()
    images = {f"i{k}": image for k, image in enumerate(_images())}
    np.savez(tmp_path / "in.npz", **images)
    script = tmp_path / "paddlex2_transforms.py"
    script.write_text(_CHILD)
    result = subprocess.run([sys.executable, str(script), str(root), json.dumps(ops),
                             str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    yml = json.loads(result.stdout.strip().splitlines()[-1])
    theirs = np.load(tmp_path / "out.npz")
    for key, image in images.items():
        ours = _ours(yml, 2, "classifier", image)
        assert ours.shape == theirs[key].shape
        np.testing.assert_allclose(ours, theirs[key], rtol=0, atol=TOLERANCE)
