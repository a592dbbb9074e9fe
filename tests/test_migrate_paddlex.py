"""PaddleX users' own models: directories PaddleX 2.x and 1.x saved, loaded by
``pxcore.load_model``, converted by ``px convert-model``, and a PaddleX 2.x inference
export run by the Predictor.

PaddleX's own save code does not run here (PaddleX 2.1 imports paddleslim, PaddleX 1.3
``paddle.fluid``; neither imports under Paddle 3.3), so each fixture is written the way
its source writes it, cited where it is written:

- 2.x: ``paddlex/cv/models/base.py`` (2.1.0) ``BaseModel.save_model``: ``paddle.save(
  self.net.state_dict(), "model.pdparams")``, ``yaml.dump(self.get_model_info())`` into
  model.yml (PyYAML's default dumper: tuples become ``!!python/tuple``), an empty
  ``.success``; ``get_model_info`` fills ``version``, ``Model``, ``_Attributes``
  (model_type, num_classes, labels, fixed_input_shape), ``_init_params``, ``Transforms``
  (``{op class name: op.__dict__}``) and ``completed_epochs``; ``status`` is added.
- 1.x: ``paddlex/cv/models/base.py`` (1.3.11) ``BaseModel.save_model``: ``fluid.save(
  program, "model")`` (a ``model.pdparams`` pickle, protocol 2, of the static variables by
  name) and the same model.yml plus ``TransformsMode``; older PaddleX left one file per
  variable (``fluid.io.save_persistables``), written here with pxcore's writer of that
  layout.
- the inference export: ``BaseModel._export_inference_model`` (2.1.0): ``paddle.jit.save(
  paddle.jit.to_static(InferNet(net), input_spec=[InputSpec([None, 3, -1, -1], "float32",
  "image")]), "model")`` with ``InferNet`` from ``paddlex/cv/models/utils/infer_nets.py``,
  run here under FLAGS_enable_pir_api=0 so that it writes the ``model.pdmodel`` program
  format Paddle 2.x wrote (the segmenter's argmax appended as the ``arg_max`` op Paddle
  2.x emitted: Paddle 3.3's ``paddle.argmax`` does not trace in that mode).

Weights come from a pxcore model, renamed to PaddleX's names: PaddleX 2.1's classifiers
are PaddleClas's legendary models (``paddlex/ppcls/arch/backbone/legendary_models``, the
same keys as pxcore's), its YOLOv3 is PaddleDetection 2.x's (``pxcore_yolov3.legacy_names.
dygraph_names``), and 1.x's variables are the static names of the zoo's archives
(``weight_aliases``). The loaded model runs the same code on the same tensors as the
model the weights came from, so its predictions are compared exactly.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import yaml

import pxcore as px
from pxcore.errors import PxError

paddle = pytest.importorskip("paddle")
pytest.importorskip("pxcore_mobilenet", reason="needs plugins/mobilenet, unet, yolov3 installed")
pytestmark = pytest.mark.uses_installed_plugins

IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
            "min_val": [0, 0, 0], "max_val": [255.0, 255.0, 255.0]}


def _image(seed: int, height: int = 90, width: int = 120) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _randomize(net) -> None:
    """Random weights and batch-norm statistics, so that a misplaced tensor shows."""
    rng = np.random.default_rng(7)
    state = {}
    for key, value in net.state_dict().items():
        shape = value.shape
        if key.endswith("_variance"):
            state[key] = rng.uniform(0.5, 1.5, shape).astype("float32")
        else:
            state[key] = (rng.standard_normal(shape) * 0.1).astype("float32")
    net.set_state_dict(state)
    net.eval()


def _state(net, rename=None) -> dict[str, np.ndarray]:
    rename = rename or {}
    return {rename.get(k, k): v.numpy() for k, v in net.state_dict().items()}


def write_paddlex2_dir(folder, model, init_params, transforms, state, status="Normal"):
    """As PaddleX 2.1.0's BaseModel.save_model (paddlex/cv/models/base.py) writes it."""
    folder.mkdir(parents=True)
    info = {"version": "2.1.0", "Model": model["class"],
            "_Attributes": {"model_type": model["type"], "num_classes": model["num_classes"],
                            "labels": model["labels"], "fixed_input_shape": None,
                            "eval_metrics": {"acc1": 0.5}},
            "_init_params": init_params, "Transforms": transforms, "completed_epochs": 3,
            "status": status}
    paddle.save(state, str(folder / "model.pdparams"))
    paddle.save({}, str(folder / "model.pdopt"))
    with open(folder / "model.yml", "w", encoding="utf-8") as f:
        yaml.dump(info, f)  # PaddleX's call: the default (unsafe) dumper
    (folder / ".success").touch()
    return folder


def write_paddlex1_dir(folder, model, init_params, transforms, state, per_variable=False):
    """As PaddleX 1.3.11's BaseModel.save_model (paddlex/cv/models/base.py) writes it:
    fluid.save's model.pdparams (or, ``per_variable``, one tensor file per variable)."""
    from pxcore.weights import write_legacy_tensor

    folder.mkdir(parents=True)
    info = {"version": "1.3.11", "Model": model["class"],
            "_Attributes": {"model_type": model["type"], "num_classes": model["num_classes"],
                            "labels": model["labels"], "fixed_input_shape": None},
            "_init_params": init_params, "TransformsMode": "RGB", "Transforms": transforms,
            "completed_epochs": 2, "status": "Normal"}
    if per_variable:
        for name, array in state.items():
            write_legacy_tensor(folder / name, array)
    else:
        with open(folder / "model.pdparams", "wb") as f:  # fluid.io.save: pickle, protocol 2
            pickle.dump(state, f, protocol=2)
    with open(folder / "model.yml", "w", encoding="utf-8") as f:
        yaml.dump(info, f)
    (folder / ".success").touch()
    return folder


# --- PaddleX 2.x: a classifier ---------------------------------------------------------

@pytest.fixture
def classifier_v2(tmp_path_factory):
    source = px.create_model("MobileNetV3_small", num_classes=3)
    _randomize(source.net)
    transforms = [{"ResizeByShort": {"short_size": 80, "max_size": -1, "interp": "LINEAR"}},
                  {"CenterCrop": {"crop_size": 64}},
                  {"Normalize": {**IMAGENET, "is_scale": True}}]
    folder = write_paddlex2_dir(
        tmp_path_factory.mktemp("px2") / "best_model",
        {"class": "MobileNetV3_small", "type": "classifier", "num_classes": 3,
         "labels": ["cat", "dog", "fox"]},
        {"num_classes": 3}, transforms, _state(source.net))
    source.eval_transforms = px.transforms.compose([
        {"type": "ResizeByShort", "short_size": 80}, {"type": "CenterCrop", "crop_size": 64},
        {"type": "Normalize"}])
    source.labels = ["cat", "dog", "fox"]
    return source, folder


def test_paddlex2_classifier_loads_and_predicts_as_its_weights(classifier_v2):
    source, folder = classifier_v2
    model = px.load_model(folder)
    assert model.name == "MobileNetV3_small" and model.num_classes == 3
    assert model.labels == ["cat", "dog", "fox"]
    assert model.eval_transforms.to_config() == source.eval_transforms.to_config()
    x = paddle.to_tensor(np.random.default_rng(1).standard_normal((2, 3, 64, 64)).astype("float32"))
    np.testing.assert_array_equal(model.net(x).numpy(), source.net(x).numpy())
    images = [_image(2), _image(3, 70, 64)]
    assert model.predict(images, topk=3) == source.predict(images, topk=3)


def test_convert_model_writes_a_pxcore_directory(classifier_v2, tmp_path, capsys):
    from pxcore.cli import main

    source, folder = classifier_v2
    assert main(["convert-model", str(folder), str(tmp_path / "converted")]) == 0
    assert "px export" in capsys.readouterr().out
    info = yaml.safe_load((tmp_path / "converted" / "model.yml").read_text())
    assert info["model"] == "MobileNetV3_small" and "Model" not in info
    assert info["converted_from"]["paddlex_version"] == "2.1.0"
    again = px.load_model(tmp_path / "converted")
    assert again.predict(_image(4), topk=2) == source.predict(_image(4), topk=2)
    # and px export takes it
    assert main(["export", str(tmp_path / "converted"), "--save-dir", str(tmp_path / "export")]) == 0
    from pxcore.inference import Predictor

    got = Predictor(tmp_path / "export", runtime="paddle").predict(_image(4), topk=2)
    want = source.predict(_image(4), topk=2)
    assert [r["category"] for r in got] == [r["category"] for r in want]
    # Paddle Inference (oneDNN) against eager paddle: float32 sums in another order
    np.testing.assert_allclose([r["score"] for r in got], [r["score"] for r in want], rtol=1e-4)
    # a pxcore directory needs no conversion, and says so
    assert main(["convert-model", str(tmp_path / "converted"), str(tmp_path / "twice")]) == 1
    assert "needs no conversion" in capsys.readouterr().err


# --- PaddleX 2.x: YOLOv3 -----------------------------------------------------------------

def test_paddlex2_yolov3_loads_with_its_anchors_nms_and_resize(tmp_path):
    from pxcore_yolov3 import legacy_names

    anchors = [[10, 13], [16, 30], [33, 23], [30, 61], [62, 45], [59, 119], [116, 90],
               [156, 198], [373, 326]]
    source = px.create_model("YOLOv3-MobileNetV1", num_classes=4, anchors=anchors,
                             nms={"type": "multiclass", "score_threshold": 0.005,
                                  "nms_top_k": 500, "keep_top_k": 50, "nms_threshold": 0.5})
    _randomize(source.net)
    theirs = {ours: name for name, ours in legacy_names.dygraph_names(source.net).items()}
    state = _state(source.net, theirs)
    assert any(k.startswith("yolo_head.yolo_output.") for k in state)  # PaddleDetection's keys
    params = {"num_classes": 4, "backbone": "MobileNetV1_ssld", "anchors": anchors,
              "anchor_masks": [[6, 7, 8], [3, 4, 5], [0, 1, 2]], "ignore_threshold": 0.7,
              "nms_score_threshold": 0.005, "nms_topk": 500, "nms_keep_topk": 50,
              "nms_iou_threshold": 0.5, "label_smooth": False}
    transforms = [{"Resize": {"target_size": (96, 128), "interp": "CUBIC", "keep_ratio": False}},
                  {"Normalize": {**IMAGENET, "is_scale": True}}]
    folder = write_paddlex2_dir(tmp_path / "yolo", {"class": "YOLOv3", "type": "detector",
                                                    "num_classes": 4, "labels": list("abcd")},
                                params, transforms, state)
    assert "!!python/tuple" in (folder / "model.yml").read_text()  # as PaddleX's dump writes it
    model = px.load_model(folder)
    assert model.name == "YOLOv3-MobileNetV1"
    # PaddleX 2.x's (height, width) is pxcore's [width, height]
    assert model.eval_transforms.to_config()["transforms"][0] == {
        "type": "Resize", "target_size": [128, 96], "interp": "CUBIC"}
    assert model.net.postprocess.to_config() == source.net.postprocess.to_config()
    x = paddle.to_tensor(np.random.default_rng(5).standard_normal((1, 3, 96, 128)).astype("float32"))
    for ours, expected in zip(model.net(x), source.net(x), strict=True):
        np.testing.assert_array_equal(ours.numpy(), expected.numpy())
    source.eval_transforms = model.eval_transforms
    source.labels = list("abcd")
    got, want = model.predict(_image(6)), source.predict(_image(6))
    assert got == want


# --- PaddleX 1.x: UNet ------------------------------------------------------------------

@pytest.mark.parametrize("per_variable", [False, True], ids=["fluid.save", "per-variable"])
def test_paddlex1_unet_loads_from_either_weight_layout(tmp_path, per_variable):
    source = px.create_model("UNet", num_classes=3)
    _randomize(source.net)
    static = {ours: name for name, ours in source.net.weight_aliases().items()}
    state = _state(source.net, static)
    assert "logit.weight" not in state  # the static names, not ours
    params = {"num_classes": 3, "upsample_mode": "bilinear", "use_bce_loss": False,
              "use_dice_loss": False, "class_weight": None, "ignore_index": 255,
              "input_channel": 3}
    transforms = [{"ResizeByLong": {"long_size": 64}},
                  {"Padding": {"target_size": 64, "im_padding_value": [127.5, 127.5, 127.5],
                               "label_padding_value": 255}},
                  {"Normalize": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
                                 "min_val": [0, 0, 0], "max_val": [255.0, 255.0, 255.0]}}]
    folder = write_paddlex1_dir(tmp_path / "unet", {"class": "UNet", "type": "segmenter",
                                                    "num_classes": 3, "labels": ["bg", "a", "b"]},
                                params, transforms, state, per_variable=per_variable)
    model = px.load_model(folder)
    assert model.name == "UNet" and model.labels == ["bg", "a", "b"]
    source.eval_transforms = px.transforms.compose([
        {"type": "ResizeByLong", "long_size": 64}, {"type": "Padding", "target_size": 64},
        {"type": "Normalize", "mean": [0.5] * 3, "std": [0.5] * 3}])
    assert model.eval_transforms.to_config() == source.eval_transforms.to_config()
    got, want = model.predict(_image(8, 48, 64)), source.predict(_image(8, 48, 64))
    np.testing.assert_array_equal(got["label_map"], want["label_map"])


# PaddleX 1.3.11's constructors record locals(): every argument, model_name deleted
# (paddlex/cv/models/classifier.py BaseClassifier, yolo_v3.py YOLOv3, deeplabv3p.py DeepLabv3p).
V1_MODELS = {
    "ResNet18": ("ResNet18", "classifier", {"num_classes": 3, "input_channel": 3},
                 [{"ResizeByShort": {"short_size": 72, "max_size": -1}},
                  {"CenterCrop": {"crop_size": 64}}, {"Normalize": dict(IMAGENET)}],
                 [{"type": "ResizeByShort", "short_size": 72}, {"type": "CenterCrop", "crop_size": 64},
                  {"type": "Normalize"}]),
    "YOLOv3-MobileNetV1": (
        "YOLOv3", "detector",
        {"num_classes": 3, "backbone": "MobileNetV1", "anchors": None, "anchor_masks": None,
         "ignore_threshold": 0.7, "nms_score_threshold": 0.01, "nms_topk": 1000,
         "nms_keep_topk": 100, "nms_iou_threshold": 0.45, "label_smooth": False,
         "train_random_shapes": [320, 352, 384], "input_channel": 3},
        [{"Resize": {"target_size": [128, 96], "interp": "CUBIC"}}, {"Normalize": dict(IMAGENET)}],
        [{"type": "Resize", "target_size": [128, 96], "interp": "CUBIC"}, {"type": "Normalize"}]),
    "DeepLabv3_MobileNetV2_x1.0-paddlex": (
        "DeepLabv3p", "segmenter",
        {"num_classes": 3, "backbone": "MobileNetV2_x1.0", "output_stride": 16,
         "aspp_with_sep_conv": True, "decoder_use_sep_conv": True, "encoder_with_aspp": True,
         "enable_decoder": True, "use_bce_loss": False, "use_dice_loss": False,
         "class_weight": None, "ignore_index": 255, "pooling_crop_size": None, "input_channel": 3},
        [{"Normalize": {"mean": [0.5] * 3, "std": [0.5] * 3, "min_val": [0, 0, 0],
                        "max_val": [255.0] * 3}}],
        [{"type": "Normalize", "mean": [0.5] * 3, "std": [0.5] * 3}]),
}


@pytest.mark.parametrize("name", list(V1_MODELS))
def test_paddlex1_models_load_from_static_names(tmp_path, name):
    cls, model_type, params, transforms, ours = V1_MODELS[name]
    # PaddleX 1.x's YOLOv3 counted whole pixels (clipped to width - 1, w = x2 - x1 + 1)
    legacy = {"box_size_offset": 1} if name.startswith("YOLOv3") else {}
    source = px.create_model(name, num_classes=3, **legacy)
    _randomize(source.net)
    static = {key: legacy for legacy, key in source.net.weight_aliases().items()}
    if name.startswith("YOLOv3"):  # the static-era names, not the 2.x ones it also takes
        from pxcore_yolov3 import legacy_names

        static = {key: legacy for legacy, key in legacy_names.static_names(source.net).items()}
    state = _state(source.net, static)
    assert not set(state) & set(source.net.state_dict())  # every name is PaddleX 1.x's
    labels = ["a", "b", "c"]
    folder = write_paddlex1_dir(tmp_path / "m", {"class": cls, "type": model_type, "num_classes": 3,
                                                 "labels": labels}, params, transforms, state)
    model = px.load_model(folder)
    assert model.name == name
    if legacy:
        assert model.net.postprocess.box_size_offset == 1
    source.eval_transforms, source.labels = px.transforms.compose(ours), labels
    assert model.eval_transforms.to_config() == source.eval_transforms.to_config()
    image = _image(14, 64, 96)
    got, want = model.predict(image), source.predict(image)
    if model_type == "segmenter":
        np.testing.assert_array_equal(got["label_map"], want["label_map"])
    else:
        assert got == want


def test_min_max_normalize_folds_into_mean_and_std():
    """PaddleX's ((x - min) / (max - min) - mean) / std with another range: the same
    values from pxcore's (x - mean') / std' (float32 rounding apart: 1e-5 relative)."""
    from pxcore.migrate.transforms import map_transforms

    args = {"mean": [0.4, 0.5, 0.6], "std": [0.2, 0.25, 0.3], "min_val": [10, 0, 5],
            "max_val": [250.0, 200.0, 255.0]}
    for major in (1, 2):
        (config,) = map_transforms([{"Normalize": dict(args, **({"is_scale": False} if major == 2 else {}))}],
                                   major=major, model_type="classifier", where="test")
        pixels = _image(9).astype(np.float32)
        theirs = ((pixels - np.array(args["min_val"], np.float32))
                  / (np.array(args["max_val"], np.float32) - np.array(args["min_val"], np.float32))
                  - np.array(args["mean"], np.float32)) / np.array(args["std"], np.float32)
        ours = px.transforms.compose([config])({"image": pixels.copy()}, np.random.default_rng())["image"]
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


# --- what is refused, and how -----------------------------------------------------------

def _v2(tmp_path, cls="ResNet18", model_type="classifier", params=None, transforms=None,
        state=None, status="Normal"):
    return write_paddlex2_dir(tmp_path / "m", {"class": cls, "type": model_type, "num_classes": 2,
                                              "labels": ["a", "b"]},
                              params or {"num_classes": 2}, transforms or [], state or {}, status)


@pytest.mark.parametrize("case, message", [
    ({"cls": "BiSeNetV2", "model_type": "segmenter"}, "PaddleSeg 2.x's BiSeNetV2"),
    ({"cls": "FCOS", "model_type": "detector"}, "taken besides YOLOv3: FasterRCNN (ResNet50"),
    ({"cls": "PPLCNet"}, "has no pxcore network"),
    ({"cls": "Xception41"}, "original Xception"),
    ({"cls": "YOLOv3", "model_type": "detector",
      "params": {"num_classes": 2, "backbone": "ResNet50_vd_dcn"}}, "the backbones taken are"),
    ({"params": {"num_classes": 2, "dropout_prob": 0.3}}, "dropout_prob=0.3 has no counterpart"),
    ({"transforms": [{"Lighting": {"alpha": 0.1}}]}, "'Lighting' has no pxcore equivalent"),
    ({"transforms": [{"ResizeByShort": {"short_size": 8, "antialias": True}}]}, "no argument antialias"),
    ({"status": "Infer"}, "inference export, not a saved model"),
    ({"status": "Pruned"}, "unpruned"),
])
def test_paddlex_dirs_refused_clearly(tmp_path, case, message):
    folder = _v2(tmp_path, **case)
    with pytest.raises(PxError, match=message.replace("(", r"\(").replace(")", r"\)")):
        px.load_model(folder)


def test_missing_weights_and_unsafe_yaml_refused(tmp_path):
    folder = _v2(tmp_path)
    (folder / "model.pdparams").unlink()
    with pytest.raises(PxError, match="model.pdparams, which is missing"):
        px.load_model(folder)
    (folder / "model.yml").write_text("Model: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(PxError, match="YAML tag pxcore does not read"):
        px.load_model(folder)


def test_weights_of_another_network_refused(tmp_path):
    other = px.create_model("MobileNetV3_small", num_classes=2)
    folder = _v2(tmp_path, cls="ResNet18", state=_state(other.net))
    with pytest.raises(PxError, match="model.pdparams"):
        px.load_model(folder)


def test_bgr_paddlex1_model_refused(tmp_path):
    folder = write_paddlex1_dir(tmp_path / "bgr", {"class": "ResNet18", "type": "classifier",
                                                   "num_classes": 2, "labels": None},
                                {"num_classes": 2}, [], {"x": np.zeros(1, np.float32)})
    text = (folder / "model.yml").read_text().replace("TransformsMode: RGB", "TransformsMode: BGR")
    (folder / "model.yml").write_text(text)
    with pytest.raises(PxError, match="BGR"):
        px.load_model(folder)


# --- a PaddleX 2.x inference export through the Predictor ------------------------------

_EXPORT = textwrap.dedent("""
    import sys, paddle, pxcore
    from paddle.static import InputSpec

    class PostProcessor(paddle.nn.Layer):  # paddlex/cv/models/utils/infer_nets.py
        def __init__(self, model_type):
            super().__init__()
            self.model_type = model_type

        def forward(self, net_outputs):
            if self.model_type == "classifier":
                return paddle.nn.functional.softmax(net_outputs, axis=1)
            logit = net_outputs  # PaddleSeg's list holds it first; pxcore's net returns it
            return (paddle.argmax(logit, axis=1, keepdim=False, dtype="int32"),
                    paddle.transpose(paddle.nn.functional.softmax(logit, axis=1), perm=[0, 2, 3, 1]))

    class InferNet(paddle.nn.Layer):
        def __init__(self, net, model_type):
            super().__init__()
            self.net = net
            self.postprocessor = PostProcessor(model_type)

        def forward(self, x):
            return self.postprocessor(self.net(x))

    model = pxcore.load_model(sys.argv[1])
    net = InferNet(model.net, sys.argv[3])
    net.eval()
    spec = [InputSpec(shape=[None, 3, -1, -1], name="image", dtype="float32")]
    paddle.jit.save(paddle.jit.to_static(net, input_spec=spec), sys.argv[2], input_spec=spec)
""")


def _paddlex_export(source, tmp_path, model_type, cls, transforms):
    saved = source.save(tmp_path / "saved")
    out = tmp_path / "inference_model"
    out.mkdir()
    env = {**os.environ, "FLAGS_enable_pir_api": "0", "GLOG_minloglevel": "2"}
    script = tmp_path / "paddlex_export.py"  # a file: to_static reads the forward's source
    script.write_text(_EXPORT)
    result = subprocess.run([sys.executable, str(script), str(saved), str(out / "model"), model_type],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "model.pdmodel").is_file() and (out / "model.pdiparams").is_file()
    info = {"version": "2.1.0", "Model": cls,
            "_Attributes": {"model_type": model_type, "num_classes": source.num_classes,
                            "labels": source.labels, "fixed_input_shape": [None, 3, -1, -1]},
            "_init_params": {"num_classes": source.num_classes}, "Transforms": transforms,
            "completed_epochs": 1, "status": "Infer"}
    with open(out / "model.yml", "w", encoding="utf-8") as f:
        yaml.dump(info, f)
    return out


def test_paddlex2_classifier_export_runs_in_the_predictor(classifier_v2, tmp_path):
    from pxcore.inference import Predictor

    source, folder = classifier_v2
    transforms = yaml.load((folder / "model.yml").read_text(), Loader=yaml.Loader)["Transforms"]
    export = _paddlex_export(source, tmp_path, "classifier", "MobileNetV3_small", transforms)
    predictor = Predictor(export)
    assert predictor.runtime == "paddle"
    images = [_image(10), _image(11, 64, 100)]
    got = predictor.predict(images, topk=3)
    want = source.predict(images, topk=3)
    for g_rows, w_rows in zip(got, want, strict=True):
        assert [r["category"] for r in g_rows] == [r["category"] for r in w_rows]
        # Paddle Inference (oneDNN) against eager paddle: float32 sums in another order
        np.testing.assert_allclose([r["score"] for r in g_rows], [r["score"] for r in w_rows],
                                   rtol=1e-4, atol=1e-5)
    with pytest.raises(PxError, match="runs on Paddle Inference"):
        Predictor(export, runtime="onnxruntime")
    with pytest.raises(PxError, match="load it with pxcore.load_model"):
        Predictor(folder)  # the saved model is not an export


# A small segmenter in the form PaddleSeg's networks take (a list of logits at the input's
# size), standing in for PaddleX 2.x's: the Predictor runs the graph, whatever made it.
_TINY_SEG = textwrap.dedent("""
    import paddle

    class TinySeg(paddle.nn.Layer):
        def __init__(self, num_classes=3):
            super().__init__()
            self.conv = paddle.nn.Conv2D(3, 8, 3, stride=2, padding=1)
            self.bn = paddle.nn.BatchNorm2D(8)
            self.cls = paddle.nn.Conv2D(8, num_classes, 1)

        def forward(self, x):
            logit = self.cls(paddle.nn.functional.relu(self.bn(self.conv(x))))
            return [paddle.nn.functional.interpolate(logit, paddle.shape(x)[2:], mode="bilinear")]
""")

_EXPORT_SEG = textwrap.dedent("""
    import sys
    from paddle.base.layer_helper import LayerHelper
    from paddle.static import InputSpec

    def argmax_int32(logit):
        # paddle.argmax(logit, axis=1, dtype="int32"), as the arg_max op Paddle 2.x wrote:
        # Paddle 3.3's argmax does not trace into the pre-PIR program format
        if paddle.in_dynamic_mode():
            return paddle.argmax(logit, axis=1, keepdim=False, dtype="int32")
        helper = LayerHelper("arg_max")
        out = helper.create_variable_for_type_inference("int32")
        helper.append_op(type="arg_max", inputs={"X": logit}, outputs={"Out": [out]},
                         attrs={"axis": 1, "keepdims": False, "flatten": False, "dtype": 2})
        return out

    class InferNet(paddle.nn.Layer):  # paddlex/cv/models/utils/infer_nets.py, a segmenter
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            logit = self.net(x)[0]
            return (argmax_int32(logit),
                    paddle.transpose(paddle.nn.functional.softmax(logit, axis=1), perm=[0, 2, 3, 1]))

    net = TinySeg()
    net.set_state_dict(paddle.load(sys.argv[1]))
    net = InferNet(net)
    net.eval()
    spec = [InputSpec(shape=[None, 3, -1, -1], name="image", dtype="float32")]
    paddle.jit.save(paddle.jit.to_static(net, input_spec=spec), sys.argv[2], input_spec=spec)
""")


def test_paddlex2_segmenter_export_runs_in_the_predictor(tmp_path):
    from pxcore.inference import Predictor

    scope: dict = {}
    exec(_TINY_SEG, scope)  # noqa: S102 - the test's own source
    net = scope["TinySeg"]()
    _randomize(net)
    paddle.save(net.state_dict(), str(tmp_path / "tiny.pdparams"))
    out = tmp_path / "inference_model"
    script = tmp_path / "export_seg.py"  # a file: to_static reads the forward's source
    script.write_text(_TINY_SEG + _EXPORT_SEG)
    env = {**os.environ, "FLAGS_enable_pir_api": "0", "GLOG_minloglevel": "2"}
    result = subprocess.run([sys.executable, str(script), str(tmp_path / "tiny.pdparams"),
                             str(out / "model")], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "model.pdmodel").is_file()
    info = {"version": "2.1.0", "Model": "UNet",
            "_Attributes": {"model_type": "segmenter", "num_classes": 3, "labels": ["bg", "a", "b"],
                            "fixed_input_shape": [None, 3, -1, -1]},
            "_init_params": {"num_classes": 3, "use_mixed_loss": False},
            "Transforms": [{"Normalize": {"mean": [0.5] * 3, "std": [0.5] * 3, "min_val": [0, 0, 0],
                                          "max_val": [255.0] * 3, "is_scale": True}}],
            "completed_epochs": 1, "status": "Infer"}
    with open(out / "model.yml", "w", encoding="utf-8") as f:
        yaml.dump(info, f)
    image = _image(12, 50, 70)  # not a multiple of 32: PaddleX pads nothing, nor does this
    got = Predictor(out).predict(image, score_map=True)
    x = ((image.astype(np.float32) / 255 - 0.5) / 0.5).transpose(2, 0, 1)[None]
    logits = net(paddle.to_tensor(x))[0].numpy()[0]
    probs = np.exp(logits - logits.max(0)) / np.exp(logits - logits.max(0)).sum(0)
    assert got["score_map"].shape == (50, 70, 3)
    # Paddle Inference (oneDNN) against eager paddle: float32 sums in another order
    np.testing.assert_allclose(got["score_map"], probs.transpose(1, 2, 0), rtol=1e-4, atol=1e-5)
    agree = (got["label_map"] == probs.argmax(0)).mean()
    assert agree > 0.999, agree  # a near-tie may go either way under another summation order


def test_segmenter_export_outputs_read_as_pxcore_outputs():
    """InferNet's segmenter outputs (int32 label map, NHWC probabilities) in either order
    as pxcore's (logits NCHW, label map)."""
    from pxcore.inference.segmentation import softmax
    from pxcore.migrate.export import to_pxcore_outputs

    rng = np.random.default_rng(13)
    logits = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
    probs = softmax(logits, axis=1)
    labels = probs.argmax(1).astype(np.int32)
    for outputs in ([labels, probs.transpose(0, 2, 3, 1)], [probs.transpose(0, 2, 3, 1), labels]):
        ours, label_map = to_pxcore_outputs("semantic_segmentation", outputs)
        assert ours.shape == (2, 3, 5, 7)
        np.testing.assert_allclose(softmax(ours, axis=1), probs, rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(label_map, labels)
