"""Write tests/layouts/<preset>-<dataset>.json, the weight layouts of the zoo's DeepLabv3+
rows, and tests/layouts/<preset>.json for the presets of PaddleX's own network where a
row's differs (``DeepLabv3_MobileNetV2_x1.0-paddlex``), by running PaddleX 1.3's own
static network against pxcore's.

A manifest (format: pxcore/testing/layouts.py) holds

- "pdparams": pxcore's state-dict keys and shapes (what ``paddle.save`` of the model
  writes);
- "legacy": {static variable name: our key}: every persistable variable of the row's
  PaddleX 1.3 / PaddleSeg legacy program (the zoo's per-variable archives);
- "notes": what the references do differently (PaddleSeg 2.x is not the same network).

For each row the tool, in a fresh process (``FLAGS_enable_pir_api=0``: Paddle 3's legacy
static mode) with reference/fluid.py's ``paddle.fluid`` stand-in (Paddle 1.x's resize semantics,
static shapes):

1. builds ``paddlex.cv.nets.segmentation.DeepLabv3p`` in "test" mode with the backbone
   and options ``paddlex/cv/models/deeplabv3p.py`` (PaddleX 1.3.11) picks for the row's
   backbone name (the MobileNetV2 rows without ASPP and decoder, as their weights were
   trained: ``pxcore_deeplab.plugin.ZOO_WEIGHT_OPTIONS``; the ``-paddlex`` preset with
   them, PaddleX's defaults): its persistable variables must be exactly the manifest's
   legacy names and the shapes of the pxcore tensors they map to;
2. sets random weights (batch-norm statistics calibrated on the input, so a misplaced
   tensor shows) by variable name into that program and through ``weight_aliases()``
   into pxcore, and requires the same logits (before the program's softmax).

Needs paddlepaddle 3.3, pxcore with pxcore-deeplab, and PaddleX's nets (nothing else of
PaddleX is imported; its loss module is stubbed):

    pip download paddlex==1.3.11 --no-deps -d /tmp/pdxwheel && \\
      unzip -q /tmp/pdxwheel/paddlex-1.3.11-py3-none-any.whl 'paddlex/cv/*' -d /tmp/pdx1311
    python -m reference.manifests deeplab --paddlex /tmp/pdx1311

(``/tmp/pdx13``, PaddleX 1.3.0's ``paddlex/cv/nets``, has the same segmentation nets.)
"""

from __future__ import annotations

import argparse
import importlib
import sys
import types
from pathlib import Path

import numpy as np

from pxcore_deeplab.plugin import PADDLEX_SUFFIX
from reference import fluid, manifests
from reference.harness import same_names
from reference.tools import LEGACY_STATIC, run_in_child

PADDLEX = "PaddleX 1.3.11 (the paddlex wheel) paddlex/cv/nets"
HEIGHT, WIDTH = 96, 128  # input pixels: a non-square 3x4 map at stride 32
# (preset, dataset, classes)
ROWS = [("DeepLabv3_MobileNetV2_x1.0", "COCO", 81), ("DeepLabv3_MobileNetV2_x1.0", "Cityscapes", 19),
        ("DeepLabv3_Xception65", "COCO", 81), ("DeepLabv3_Xception65", "Cityscapes", 19),
        ("DeepLabv3_MobileNetV3_large_x1_0_ssld", "Cityscapes", 19)]

# PaddleX's DeepLabv3p itself where a row's network differs (with ASPP and decoder on
# MobileNetV2): (preset, classes), written as <preset>.json.
PADDLEX_PRESETS = [("DeepLabv3_MobileNetV2_x1.0" + PADDLEX_SUFFIX, 19)]

# Options no preset uses, checked the same way (names, shapes, logits) but not written:
# MobileNetV3's image pooling over a crop's size (a 2x2 map resized), and plain convs at
# output stride 8.
EXTRA_CHECKS = [
    ("DeepLabv3_MobileNetV3_large_x1_0_ssld", 19, {"pooling_crop_size": [65, 33], "pooling_stride": [1, 1]}),
    ("DeepLabv3_MobileNetV2_x1.0" + PADDLEX_SUFFIX, 19,
     {"aspp_with_sep_conv": False, "decoder_use_sep_conv": False, "output_stride": 8}),
]

NOTES = [
    "PaddleSeg 2.x's DeepLabV3P is another network and its names are not supported: its "
    "separable convs have no ReLU after the depthwise BatchNorm and its convs carry biases "
    "(layers.SeparableConvBNReLU / ConvBN), its ASPP drops out 10% instead of scaling by "
    "0.1, and it has no MobileNetV2 / Xception65 / LR-ASPP DeepLabV3P config.",
    "The ASPP projection's dropout is Paddle 1.x's fluid.layers.dropout(x, 0.9): inference "
    "multiplies by 0.1, which pxcore does (nn.Dropout(0.9, mode='downscale_in_infer')).",
]


def _install_fluid_stand_in() -> None:
    """reference/fluid.py's stand-in with Paddle 1.x's resize semantics and static shapes
    (the image's size is fixed); the prediction (argmax) is built but not compared: the
    softmax's input is the logits."""
    fluid.install(resize="fluid", static_shapes=True)


def _stub_paddlex(root: Path) -> None:
    nets = root / "paddlex" / "cv" / "nets"
    for name, path in (("paddlex", root / "paddlex"), ("paddlex.cv", root / "paddlex" / "cv"),
                       ("paddlex.cv.nets", nets), ("paddlex.cv.nets.segmentation", nets / "segmentation"),
                       ("paddlex.cv.nets.segmentation.model_utils", nets / "segmentation" / "model_utils")):
        module = types.ModuleType(name)
        module.__path__ = [str(path)]  # its __init__ (which imports everything) never runs
        sys.modules[name] = module
    loss = types.ModuleType("paddlex.cv.nets.segmentation.model_utils.loss")
    loss.softmax_with_loss = loss.dice_loss = loss.bce_loss = None
    sys.modules[loss.__name__] = loss
    sys.modules["paddlex.cv.nets"].Xception = importlib.import_module("paddlex.cv.nets.xception").Xception
    sys.modules["paddlex.cv.nets"].MobileNetV2 = importlib.import_module("paddlex.cv.nets.mobilenet_v2").MobileNetV2
    sys.modules["paddlex.cv.nets"].MobileNetV3 = importlib.import_module("paddlex.cv.nets.mobilenet_v3").MobileNetV3


def _paddlex_backbone(nets, args: dict):
    """``paddlex.cv.models.DeepLabv3p._get_backbone`` for the row's backbone name."""
    name, stride = args["backbone"], args["output_stride"]
    if name.startswith("Xception"):
        layers = int(name[len("Xception"):])
        points = {41: (2, 13), 65: (2, 21), 71: (3, 23)}[layers]
        return nets.Xception(layers=layers, output_stride=stride, decode_points=points[0],
                             end_points=points[1])
    if name.startswith("MobileNetV2"):
        return nets.MobileNetV2(scale=float(name.split("_x")[1]), output_stride=stride,
                                end_points=18, decode_points=4)
    return nets.MobileNetV3(scale=1.0, model_name="large", output_stride=stride,
                            lr_mult_list=[0.15, 0.35, 0.65, 0.85, 1], for_seg=True)


def run_static(root: str, args: dict, archive: dict[str, np.ndarray], image: np.ndarray) -> dict:
    """In a process with FLAGS_enable_pir_api=0: the program's persistable variables and
    its logits (the softmax's input) with ``archive`` set by variable name."""
    import paddle

    paddle.enable_static()
    _install_fluid_stand_in()
    _stub_paddlex(Path(root))
    nets = sys.modules["paddlex.cv.nets"]
    segmentation = importlib.import_module("paddlex.cv.nets.segmentation.deeplabv3p")
    model = segmentation.DeepLabv3p(
        args["num_classes"], backbone=_paddlex_backbone(nets, args), mode="test",
        output_stride=args["output_stride"], aspp_with_sep_conv=args["aspp_with_sep_conv"],
        decoder_use_sep_conv=args["decoder_use_sep_conv"], encoder_with_aspp=args["encoder_with_aspp"],
        enable_decoder=args["enable_decoder"], pooling_stride=list(args["pooling_stride"]),
        pooling_crop_size=args["pooling_crop_size"], aspp_with_se=args["aspp_with_se"],
        se_use_qsigmoid=args["se_use_qsigmoid"], aspp_convs_filters=args["aspp_channels"],
        aspp_with_concat_projection=args["aspp_with_concat_projection"],
        add_image_level_feature=args["add_image_level_feature"],
        use_sum_merge=args["decoder"] == "sum", conv_filters=args["decoder_channels"]
        if not args["output_is_logits"] else args["num_classes"],
        output_is_logits=args["output_is_logits"])
    main, startup = paddle.static.Program(), paddle.static.Program()
    with paddle.static.program_guard(main, startup):
        image_var = paddle.static.data("image", [1, 3, HEIGHT, WIDTH], "float32")
        model.build_net({"image": image_var})
    softmax = [op for op in main.global_block().ops if op.type == "softmax"][-1]
    logits = main.global_block().var(softmax.input("X")[0])
    # dropout's is_test: PaddleX exports with for_test clones, as fluid.run runs
    (out,) = fluid.run(main, startup, archive, {"image": image}, [logits])
    return {"variables": fluid.variables(main), "logits": out}


def build(preset: str, num_classes: int, overrides: dict | None = None) -> dict:
    """pxcore's side: the manifest, calibrated random weights, its logits and the archive."""
    import paddle

    import pxcore
    from pxcore.weights import fit_state
    from pxcore_deeplab.plugin import presets

    args = {name: a for name, a, *_ in presets()}[preset]
    args = {**args, "num_classes": num_classes, **(overrides or {})}
    paddle.seed(0)  # the calibration pass drops out at random
    net = pxcore.get_registry().get("model", preset).build(**args)
    rng = np.random.default_rng(0)
    image = rng.uniform(-1, 1, (1, 3, HEIGHT, WIDTH)).astype("float32")
    state = {}
    for key, value in net.state_dict().items():
        shape = value.shape
        if key.endswith("_variance"):
            state[key] = rng.uniform(0.5, 1.5, shape).astype("float32")
        elif key.endswith("_mean") or key.endswith(".bias") and len(shape) == 1:
            state[key] = (0.1 * rng.standard_normal(shape)).astype("float32")
        elif len(shape) == 1:  # BatchNorm scales
            state[key] = rng.uniform(0.5, 1.5, shape).astype("float32")
        else:
            fan_in = int(np.prod(shape[1:]))
            state[key] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype("float32")
    net.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    # calibrate the batch norms on the input, so every activation is of order one
    for layer in net.sublayers():
        if isinstance(layer, paddle.nn.layer.norm._BatchNormBase):
            layer._momentum = 0.0
    net.train()
    with paddle.no_grad():
        net(paddle.to_tensor(image))
    state = {k: v.numpy() for k, v in net.state_dict().items()}
    legacy = net.weight_aliases()
    archive = {name: state[key] for name, key in legacy.items()}
    fresh = pxcore.get_registry().get("model", preset).build(**args)
    loaded, _ = fit_state(fresh, archive, "archive")
    fresh.set_state_dict({k: paddle.to_tensor(v) for k, v in loaded.items()})
    fresh.eval()
    with paddle.no_grad():
        ours = fresh(paddle.to_tensor(image)).numpy()
    manifest = {"model": preset, "num_classes": num_classes,
                "pdparams": {k: [int(d) for d in v.shape] for k, v in state.items()},
                "legacy": dict(sorted(legacy.items()))}
    json_args = {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}
    return {"manifest": manifest, "archive": archive, "image": image, "ours": ours,
            "args": json_args}


def verify(preset: str, dataset: str, num_classes: int, paddlex: str,
           overrides: dict | None = None) -> dict:
    built = run_in_child(build, preset, num_classes, overrides)
    manifest = built["manifest"]
    static = run_in_child(run_static, paddlex, built["args"], built["archive"], built["image"],
                          env=LEGACY_STATIC)
    shapes = {name: manifest["pdparams"][key] for name, key in manifest["legacy"].items()}
    same_names(static["variables"], shapes, f"{preset}: the program's variables", "the legacy names")
    gap = float(np.abs(static["logits"] - built["ours"]).max())
    scale = float(np.abs(built["ours"]).max())
    assert static["logits"].shape == built["ours"].shape and gap <= 1e-4 * max(1.0, scale), (
        f"{preset}: the PaddleX program, given the weights by name, differs from pxcore by {gap:.3g}")
    manifest["source"] = (
        "pdparams: pxcore's state-dict keys and shapes. legacy: the persistable variables of "
        f"the static program of {PADDLEX} segmentation/deeplabv3p.py (DeepLabv3p, mode 'test') "
        "with the backbone and options paddlex/cv/models/deeplabv3p.py picks for "
        f"{built['args']['backbone']} ({num_classes} classes{', ' + dataset if dataset else ''}; "
        "encoder_with_aspp "
        f"{built['args']['encoder_with_aspp']}, enable_decoder {built['args']['enable_decoder']}), "
        "run in Paddle 3.3's "
        "legacy static mode: exactly these names and shapes. Random weights set by variable "
        "name into the program and through weight_aliases() into pxcore give the same logits "
        f"({HEIGHT}x{WIDTH} px, to 1e-4 of the largest logit). "
        "Written by plugins/deeplab/tools/make_layouts.py.")
    manifest["notes"] = NOTES
    order = ("model", "num_classes", "source", "notes", "pdparams", "legacy")
    count = sum(int(np.prod(s)) for s in manifest["pdparams"].values())
    report = [f"{preset} ({dataset or 'PaddleX'}): {len(manifest['pdparams'])} tensors, {count:,} values",
              f"  PaddleX program by variable name == pxcore through weight_aliases() "
              f"(gap {gap:.2g}, logits up to {scale:.3g})"]
    return {"manifest": {k: manifest[k] for k in order}, "report": report}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paddlex", required=True, help="a tree holding paddlex/cv/nets/")
    manifests.add_out_argument(parser, "deeplab")
    parser.add_argument("--extra", action="store_true", help="also check EXTRA_CHECKS")
    parser.add_argument("rows", nargs="*", help="preset-dataset names, or a -paddlex preset's name "
                        "(default: every one)")
    args = parser.parse_args(argv)
    if args.extra:
        for preset, classes, overrides in EXTRA_CHECKS:
            result = verify(preset, "-", classes, args.paddlex, overrides)
            print(f"{overrides}:", "\n".join(result["report"]), flush=True)
    for preset, dataset, classes in [*ROWS, *((p, None, c) for p, c in PADDLEX_PRESETS)]:
        stem = f"{preset}-{dataset}" if dataset else preset
        if args.rows and stem not in args.rows:
            continue
        result = verify(preset, dataset, classes, args.paddlex)
        manifests.publish(args.out, stem, result)
    return 0

