"""PaddleX's own code against ``pxcore.migrate``:

- evaluation transforms: each PaddleX op is built from arguments, its ``__dict__`` is what
  model.yml holds (``BaseModel.get_model_info`` writes ``{op class name: op.__dict__}``),
  that is mapped to pxcore's transforms, and both run on the same images;
- PaddleX 2.1's classifiers: its networks (its bundled ppcls) with random weights, saved
  as its ``save_model`` saves them, loaded by ``pxcore.load_model``: the same logits.

PaddleX 1.3.11 comes from the reference code (``python -m reference.install paddlex``);
its transform modules import in this process through ``reference.loader`` with its
logger stubbed. PaddleX 2.1.0 (``python -m reference.install paddlex2``) runs in a child
process: both are ``paddlex``, and one process can hold one tree.
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

def _paddlex2_root() -> Path:
    from reference import require

    return require("paddlex2")  # skips, naming the install command, where it is absent


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


def _run_child(source: str, script: Path, *args, timeout: int) -> str:
    """``source`` saved as ``script`` and run by this Python with ``args`` (Paddle's log
    quiet); it must exit 0, else its stderr's end is shown. Returns its stdout."""
    script.write_text(source)
    result = subprocess.run([sys.executable, str(script), *map(str, args)],
                            env={**os.environ, "GLOG_minloglevel": "2"}, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _check_saved_logits(folder: Path, network: str, labels: list[str]) -> None:
    """``folder`` (a directory the reference saved as PaddleX 2.1's save_model does, with
    its input and logits beside it, or a ``.error`` file where ``network`` did not build)
    loads with pxcore.load_model, its labels kept, and computes the same logits: the
    reference checks' measure and tolerance, max |ours - theirs| / max |theirs|."""
    import paddle

    import pxcore as px
    from reference.harness import TOLERANCE as RELATIVE
    from reference.harness import relative_difference

    error = folder.parent / f"{folder.name}.error"
    assert not error.exists(), f"{network} did not build: {error.read_text()}"
    model = px.load_model(folder)
    x = np.load(folder / "input.npy")
    ours = model.net(paddle.to_tensor(x)).numpy()
    theirs = np.load(folder / "logits.npy")
    assert relative_difference(ours, theirs) < RELATIVE, (folder.name, relative_difference(ours, theirs))
    assert model.labels == labels


@pytest.mark.parametrize("ops", V2_PIPELINES, ids=lambda ops: "-".join(n for n, _ in ops))
def test_paddlex21_transforms_equal_pxcores(ops, tmp_path):
    root = _paddlex2_root()
    images = {f"i{k}": image for k, image in enumerate(_images())}
    np.savez(tmp_path / "in.npz", **images)
    stdout = _run_child(_CHILD, tmp_path / "paddlex2_transforms.py", root, json.dumps(ops),
                        tmp_path / "in.npz", tmp_path / "out.npz", timeout=300)
    yml = json.loads(stdout.strip().splitlines()[-1])
    theirs = np.load(tmp_path / "out.npz")
    for key, image in images.items():
        ours = _ours(yml, 2, "classifier", image)
        assert ours.shape == theirs[key].shape
        np.testing.assert_allclose(ours, theirs[key], rtol=0, atol=TOLERANCE)


# --- PaddleX 2.1.0's classifiers, saved as its save_model saves them --------------------

# PaddleX 2.1's classifier classes (paddlex/cv/models/classifier.py) that pxcore's zoo has,
# with the PaddleClas network each builds (its model_name) and that network's module in
# PaddleX's bundled ppcls.
V2_CLASSIFIERS = {
    "ResNet18": ("ResNet18", "legendary_models.resnet"),
    "ResNet34": ("ResNet34", "legendary_models.resnet"),
    "ResNet50": ("ResNet50", "legendary_models.resnet"),
    "ResNet101": ("ResNet101", "legendary_models.resnet"),
    "ResNet50_vd": ("ResNet50_vd", "legendary_models.resnet"),
    "ResNet101_vd": ("ResNet101_vd", "legendary_models.resnet"),
    "ResNet50_vd_ssld": ("ResNet50_vd", "legendary_models.resnet"),
    "MobileNetV1": ("MobileNetV1", "legendary_models.mobilenet_v1"),
    "MobileNetV2": ("MobileNetV2", "model_zoo.mobilenet_v2"),
    "MobileNetV3_small": ("MobileNetV3_small_x1_0", "legendary_models.mobilenet_v3"),
    "MobileNetV3_large": ("MobileNetV3_large_x1_0", "legendary_models.mobilenet_v3"),
    "MobileNetV3_large_ssld": ("MobileNetV3_large_x1_0", "legendary_models.mobilenet_v3"),
    "DarkNet53": ("DarkNet53", "model_zoo.darknet"),
    "DenseNet121": ("DenseNet121", "model_zoo.densenet"),
    "HRNet_W18_C": ("HRNet_W18_C", "legendary_models.hrnet"),
    "ShuffleNetV2": ("ShuffleNetV2_x1_0", "model_zoo.shufflenet_v2"),
    "AlexNet": ("AlexNet", "model_zoo.alexnet"),
}

# The child scripts' save_model: ``net`` saved in ``folder`` as PaddleX 2.1's
# BaseModel.save_model saves it (paddlex/cv/models/base.py: model.pdparams from
# net.state_dict(), model.yml by yaml.dump of get_model_info's keys), with the input
# ``x`` and the reference's ``logits`` on it beside them.
_SAVE_MODEL = textwrap.dedent("""
    def save_model(folder, net, x, logits, cls, model_type, labels, init_params, transforms):
        folder.mkdir(parents=True)
        paddle.save(net.state_dict(), str(folder / "model.pdparams"))
        info = {"version": "2.1.0", "Model": cls,
                "_Attributes": {"model_type": model_type, "num_classes": len(labels),
                                "labels": labels, "fixed_input_shape": None},
                "_init_params": init_params, "Transforms": transforms,
                "completed_epochs": 1, "status": "Normal"}
        (folder / "model.yml").write_text(yaml.dump(info))
        np.save(folder / "input.npy", x)
        np.save(folder / "logits.npy", logits)
""")

# Builds each PaddleX 2.1 network from its bundled ppcls (package __init__s skipped, the
# pretrained-weight download helpers stubbed: nothing is downloaded), gives it random
# weights and batch-norm statistics, saves it as BaseModel.save_model does (save_model) and
# its logits on a fixed input.
_CLASSIFIERS_CHILD = textwrap.dedent("""
    import json, sys, types, importlib
    from pathlib import Path
    import numpy as np, paddle, yaml

    root, out, wanted = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
    for folder in [root / "paddlex", *sorted((root / "paddlex").rglob("*"))]:
        if folder.is_dir() and folder.name.isidentifier():
            name = ".".join(folder.relative_to(root).parts)
            module = types.ModuleType(name)
            module.__path__ = [str(folder)]
            sys.modules[name] = module
    helpers = types.ModuleType("paddlex.ppcls.utils.save_load")
    helpers.load_dygraph_pretrain = helpers.load_dygraph_pretrain_from_url = lambda *a, **k: None
    sys.modules[helpers.__name__] = helpers
    small = np.random.default_rng(1).standard_normal((2, 3, 64, 64)).astype("float32")
    large = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype("float32")
    transforms = [{"ResizeByShort": {"short_size": 256, "max_size": -1, "interp": "LINEAR"}},
                  {"CenterCrop": {"crop_size": 224}},
                  {"Normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                                 "min_val": [0, 0, 0], "max_val": [255.0, 255.0, 255.0],
                                 "is_scale": True}}]
    for cls, (model_name, module) in wanted.items():
        x = large if cls == "AlexNet" else small  # AlexNet's classifier takes 224 x 224 only
        try:
            arch = importlib.import_module(f"paddlex.ppcls.arch.backbone.{module}")
            with paddle.utils.unique_name.guard():  # as PaddleX's BaseClassifier.build_net
                net = getattr(arch, model_name)(class_num=5)
            rng = np.random.default_rng(0)
            net.set_state_dict({k: (rng.uniform(0.5, 1.5, v.shape) if k.endswith("_variance")
                                    else rng.standard_normal(v.shape) * 0.05).astype("float32")
                                for k, v in net.state_dict().items()})
            net.eval()
            save_model(out / cls, net, x, net(paddle.to_tensor(x)).numpy(), cls, "classifier",
                       list("abcde"), {"num_classes": 5}, transforms)
        except Exception as exc:  # reported by the test of that class
            (out / f"{cls}.error").write_text(repr(exc))
""")


@pytest.fixture(scope="module")
def paddlex2_classifiers(tmp_path_factory):
    root = _paddlex2_root()
    out = tmp_path_factory.mktemp("paddlex2-classifiers")
    _run_child(_SAVE_MODEL + _CLASSIFIERS_CHILD, out / "build.py", root, out, json.dumps(V2_CLASSIFIERS), timeout=900)
    return out


@pytest.mark.uses_installed_plugins
@pytest.mark.parametrize("cls", list(V2_CLASSIFIERS))
def test_paddlex21_classifier_dir_computes_paddlexs_logits(paddlex2_classifiers, cls):
    _check_saved_logits(paddlex2_classifiers / cls, f"PaddleX 2.1's {cls}", list("abcde"))


# --- PaddleX 2.1's segmenters: PaddleSeg 2.8's networks ---------------------------------

# label -> (PaddleX 2.1 class, paddleseg/models/<module>.py, its factory, its arguments as
# PaddleX's class passes them (model.yml does not keep them: paddlex/cv/models/segmenter.py),
# and the backbone PaddleX builds for it: (module, factory, arguments) or None)
V2_SEGMENTERS = {
    "UNet": ("UNet", "unet", "UNet", {"use_deconv": False, "align_corners": False}, None),
    "UNet-deconv": ("UNet", "unet", "UNet", {"use_deconv": True, "align_corners": False}, None),
    "HRNet-W48": ("HRNet", "fcn", "FCN", {"align_corners": False},
                  ("backbones.hrnet", "HRNet_W48", {"align_corners": False})),
    "HRNet-W18": ("HRNet", "fcn", "FCN", {"align_corners": False},
                  ("backbones.hrnet", "HRNet_W18", {"align_corners": False})),
    "FastSCNN": ("FastSCNN", "fast_scnn", "FastSCNN", {"align_corners": False}, None),
    **{f"DeepLabV3P-{backbone}": (
        "DeepLabV3P", "deeplab", "DeepLabV3P",
        {"backbone_indices": (0, 3), "aspp_ratios": (1, 12, 24, 36), "aspp_out_channels": 256,
         "align_corners": False},
        ("backbones.resnet_vd", backbone, {"output_stride": 8}))
       for backbone in ("ResNet50_vd", "ResNet101_vd")},
}

# Builds each network as PaddleX 2.1's BaseSegmenter.build_net does
# (paddleseg.models.<Name>(num_classes, **params), here through reference.segmentation's
# import of PaddleSeg 2.8), gives it random weights with batch-norm statistics of the
# input, and saves it as BaseModel.save_model does (save_model; _init_params keeping
# num_classes and use_mixed_loss only), with its logits (the first of its logit list).
_SEGMENTERS_CHILD = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import numpy as np, paddle, yaml

    sys.path.insert(0, sys.argv[1])
    from reference.harness import calibrated_state
    from reference.segmentation import paddleseg_network

    out, wanted = Path(sys.argv[2]), json.loads(sys.argv[3])
    x = np.random.default_rng(1).standard_normal((2, 3, 64, 96)).astype("float32")
    transforms = [{"Resize": {"target_size": (64, 96), "interp": "LINEAR", "keep_ratio": False}},
                  {"Normalize": {"mean": [0.5] * 3, "std": [0.5] * 3, "min_val": [0, 0, 0],
                                 "max_val": [255.0] * 3, "is_scale": True}}]
    for label, (cls, module, factory, args, backbone) in wanted.items():
        try:
            with paddle.utils.unique_name.guard():
                if backbone is not None:
                    args["backbone"] = paddleseg_network(*backbone[:2], **backbone[2])
                net = paddleseg_network(module, factory, num_classes=3, **args)
            calibrated_state(net, x, forward=lambda n, image: n(paddle.to_tensor(image)))
            net.eval()
            save_model(out / label, net, x, net(paddle.to_tensor(x))[0].numpy(), cls, "segmenter",
                       ["bg", "a", "b"], {"num_classes": 3, "use_mixed_loss": False}, transforms)
        except Exception as exc:  # reported by the test of that network
            (out / f"{label}.error").write_text(repr(exc))
""")


@pytest.fixture(scope="module")
def paddleseg_segmenters(tmp_path_factory):
    from reference import require

    require("paddleseg")  # skips, naming the install command, where it is absent
    out = tmp_path_factory.mktemp("paddlex2-segmenters")
    _run_child(_SAVE_MODEL + _SEGMENTERS_CHILD, out / "build.py", Path(__file__).resolve().parents[1], out,
               json.dumps(V2_SEGMENTERS), timeout=900)
    return out


@pytest.mark.uses_installed_plugins
@pytest.mark.parametrize("label", list(V2_SEGMENTERS))
def test_paddlex21_segmenter_dir_computes_paddlesegs_logits(paddleseg_segmenters, label):
    _check_saved_logits(paddleseg_segmenters / label, f"PaddleSeg 2.8's network for {label}", ["bg", "a", "b"])


# PaddleSeg 2.8's ResNet_vd dilated, multi_grid included (PaddleX 2.1's DeepLabV3P passes
# only output_stride; PaddleSeg's own configs set multi_grid (1, 2, 4)): its four levels
# with random weights, calibrated batch norms, keyed by PaddleSeg's state-dict names.
_RESNET_VD_CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    import numpy as np, paddle

    sys.path.insert(0, sys.argv[1])
    from reference.harness import calibrated_state
    from reference.segmentation import paddleseg_network

    out = Path(sys.argv[2])
    x = np.random.default_rng(2).standard_normal((1, 3, 64, 96)).astype("float32")
    net = paddleseg_network("backbones.resnet_vd", "ResNet50_vd", output_stride=16,
                            multi_grid=(1, 2, 4))
    calibrated_state(net, x, forward=lambda n, image: n(paddle.to_tensor(image)))
    net.eval()
    paddle.save(net.state_dict(), str(out / "resnet.pdparams"))
    np.save(out / "input.npy", x)
    np.savez(out / "levels.npz", *[level.numpy() for level in net(paddle.to_tensor(x))])
""")


def test_dilated_resnet_vd_with_multi_grid_computes_paddlesegs_levels(tmp_path):
    """ResNet(output_stride=16, multi_grid=(1, 2, 4)) against PaddleSeg 2.8's: all four
    levels within the reference tolerance; without multi_grid C5 is far off."""
    import paddle

    from pxcore_resnet.resnet import ResNet
    from reference import require
    from reference.harness import TOLERANCE as RELATIVE
    from reference.harness import relative_difference

    require("paddleseg")
    _run_child(_RESNET_VD_CHILD, tmp_path / "resnet_vd.py", Path(__file__).resolve().parents[1], tmp_path,
               timeout=600)
    theirs_state = paddle.load(str(tmp_path / "resnet.pdparams"))
    x = paddle.to_tensor(np.load(tmp_path / "input.npy"))
    levels = np.load(tmp_path / "levels.npz")
    theirs = [levels[f"arr_{i}"] for i in range(4)]
    differences = {}
    for grid in ((1, 2, 4), None):
        ours = ResNet(50, "vd", output_stride=16, multi_grid=grid)
        names = ours.paddleseg_aliases()
        ours.set_state_dict({names[k]: v for k, v in theirs_state.items()})
        ours.eval()
        differences[grid] = [relative_difference(a.numpy(), b)
                             for a, b in zip(ours(x), theirs, strict=True)]
    assert max(differences[(1, 2, 4)]) < RELATIVE, differences
    assert differences[None][:3] == differences[(1, 2, 4)][:3]  # multi_grid is C5's only
    assert differences[None][3] > 1e-2, differences


@pytest.mark.uses_installed_plugins
def test_each_part_of_the_paddleseg_deeplab_head_matters(paddleseg_segmenters):
    """With PaddleSeg 2.8's DeepLabV3P tensors, each PaddleX 1.x habit put back moves the
    logits far beyond the tolerance (measured on ResNet50_vd: depthwise ReLU 0.89, pooled
    branch first 1.3, Paddle 1.x's dropout scaling 0.13, head biases zeroed 3.8, decoder
    resize corner-aligned 0.41, backbone undilated 21), so the reference test above checks
    every one of them."""
    import paddle
    from paddle import nn

    import pxcore as px
    from pxcore_deeplab.deeplabv3p import SeparableConv
    from reference.harness import relative_difference

    folder = paddleseg_segmenters / "DeepLabV3P-ResNet50_vd"
    x = paddle.to_tensor(np.load(folder / "input.npy"))
    theirs = np.load(folder / "logits.npy")

    def depthwise_relu(net):
        for layer in net.sublayers():
            if isinstance(layer, SeparableConv):
                layer.depthwise.act = "relu"

    def pooled_first(net):
        net.encoder.paddleseg = False

    def dropout_scaled_at_inference(net):
        net.encoder.dropout = nn.Dropout(p=net.encoder.dropout.p, mode="downscale_in_infer")
        net.encoder.dropout.eval()

    def head_biases_zeroed(net):
        for name, tensor in net.named_parameters():
            if name.endswith("conv.bias") and name.startswith(("encoder.", "decoder.")):
                tensor.set_value(paddle.zeros_like(tensor))

    def decoder_corner_aligned(net):
        net.decoder.align_corners = True

    for change in (depthwise_relu, pooled_first, dropout_scaled_at_inference,
                   head_biases_zeroed, decoder_corner_aligned):
        net = px.load_model(folder).net
        net.eval()
        change(net)
        assert relative_difference(net(x).numpy(), theirs) > 1e-2, change.__name__
    undilated = px.create_model("DeepLabV3P_ResNet50_vd_PaddleSeg", num_classes=3,
                                backbone_args={"output_stride": 32})
    undilated.net.set_state_dict(px.load_model(folder).net.state_dict())
    undilated.net.eval()
    assert relative_difference(undilated.net(x).numpy(), theirs) > 1e-2
