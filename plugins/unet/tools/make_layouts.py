"""Write tests/layouts/UNet.json, the weight layout of the zoo's UNet row (PaddleSeg's
``unet_coco_v3.tgz``, 81 classes), by running PaddleX 1.3's own static network against
pxcore's.

The manifest (format: pxcore/testing/layouts.py) holds

- "pdparams": pxcore's state-dict keys and shapes;
- "legacy": {Paddle 1.x static variable name: our key}: every variable of the program
  PaddleX 1.3's ``UNet`` (``paddlex/cv/nets/segmentation/unet.py``, which PaddleSeg's
  legacy ``unet.py`` is too) builds with PaddleX's defaults (``upsample_mode``
  'bilinear');
- "notes": what else was measured.

With random weights (batch-norm statistics calibrated on the input, so a misplaced
tensor anywhere shows in the outputs) the tool

1. builds the static program in Paddle 3's legacy static mode, through the ``paddle.fluid``
   stand-in of plugins/rcnn/tools/make_layouts.py (itself the YOLOv3 tool's), imported,
   with what UNet calls besides (``resize_bilinear`` to a size read from a tensor, as
   Paddle 1.x's op with its default ``align_corners=True``): its persistable variables
   must be exactly the manifest's legacy names and shapes, and with the weights set by
   variable name its logits (the input of its softmax) must equal pxcore's;
2. loads an archive of those names into pxcore through ``weight_aliases()``
   (``pxcore.weights.fit_state``) and requires the same logits again;
3. does the same for ``upsample_mode='deconv'`` (no zoo row; recorded in the notes).

PaddleSeg 2.x's UNet (paddleseg 2.8 ``models/unet.py``) is not the same network: every
ConvBNReLU conv and the classifier carry a bias, and it resizes with half-pixel centres
by default; its checkpoints are not taken. The tool builds it (its registry and utilities
stubbed) and counts its tensors for the manifest's notes.

Needs paddlepaddle 3.3, pxcore with pxcore-unet and PaddleX 1.3's nets:

    git clone https://github.com/PaddlePaddle/PaddleX && \\
      git -C PaddleX archive 13e0678c61b7afa0115466e70949d2ed83233d1e \\
        paddlex/cv/nets | tar -x -C /tmp/pdx13                     # v1.3.0

    pip install --no-deps --target /work/refseg paddleseg==2.8.0   # -> /work/refseg/paddleseg

    python -m reference.manifests unet --paddlex-static /tmp/pdx13 --paddleseg /work/refseg

Each network runs in a fresh process: the static program needs FLAGS_enable_pir_api=0
set before Paddle starts.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import multiprocessing
import os
import sys
import types
from pathlib import Path

import numpy as np

PADDLEX_STATIC = "PaddleX 1.3.0 (commit 13e0678c)"
PRESET = "UNet"
NUM_CLASSES = 81
SHAPE = (2, 3, 64, 96)  # non-square: every resize has two different factors
RCNN_TOOL = Path(__file__).resolve().parents[2] / "rcnn" / "tools" / "make_layouts.py"


def _rcnn_tool() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("_rcnn_make_layouts", RCNN_TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def install_fluid_stand_in(recorded: list) -> types.ModuleType:
    """The R-CNN tool's ``paddle.fluid`` stand-in ("fluid" resizing semantics) with what
    PaddleX 1.3's segmentation nets call besides. ``resize_bilinear`` and ``softmax``
    append (name scope, output or input) to ``recorded``, so the raw logits can be
    fetched from a program built by the reference's own ``build_net``."""
    import paddle
    import paddle.nn.functional as F
    from paddle.base.layer_helper import LayerHelper

    tool = _rcnn_tool()
    tool._install_fluid_stand_in("fluid")
    fluid = paddle.fluid
    layers = fluid.layers

    def scope_now() -> str:
        libs = sys.modules.get("paddlex.cv.nets.segmentation.model_utils.libs")
        return libs.name_scope if libs is not None else ""

    def size_tensor(out_shape):
        if isinstance(out_shape, list | tuple):
            parts = [paddle.cast(paddle.reshape(d, [1]), "int32") if not isinstance(d, int)
                     else paddle.full([1], d, "int32") for d in out_shape]
            return paddle.concat(parts)
        return paddle.cast(out_shape, "int32")

    def resize_bilinear(input, out_shape=None, scale=None, name=None, actual_shape=None,
                        align_corners=True, align_mode=1, data_format="NCHW"):
        # Paddle 1.x's op, its size a tensor read from another's shape (as the nets build it)
        helper = LayerHelper("bilinear_interp")
        out = helper.create_variable_for_type_inference("float32")
        helper.append_op(type="bilinear_interp", inputs={"X": input, "OutSize": size_tensor(out_shape)},
                         outputs={"Out": out},
                         attrs={"interp_method": "bilinear", "align_corners": align_corners,
                                "align_mode": align_mode, "out_h": -1, "out_w": -1,
                                "data_layout": data_format})
        recorded.append(("resize", scope_now(), out))
        return out

    def softmax(input, axis=-1, use_cudnn=False, name=None):
        recorded.append(("softmax", scope_now(), input))
        return F.softmax(input, axis=axis)

    def argmax(x, axis=0):  # the predicted class map, which the checks do not fetch
        helper = LayerHelper("arg_max")
        out = helper.create_variable_for_type_inference("int64")
        helper.append_op(type="arg_max", inputs={"X": x}, outputs={"Out": out},
                         attrs={"axis": axis, "dtype": 3})
        return out

    def adaptive_pool2d(input, pool_size, pool_type="max", require_index=False, name=None):
        assert pool_type == "avg"
        return F.adaptive_avg_pool2d(input, pool_size)

    layers.resize_bilinear = resize_bilinear
    layers.softmax = softmax
    layers.adaptive_pool2d = adaptive_pool2d
    layers.transpose = lambda x, perm, name=None: paddle.transpose(x, perm)
    layers.argmax = argmax
    fluid.regularizer.L2DecayRegularizer = lambda regularization_coeff=0.0: paddle.regularizer.L2Decay(
        regularization_coeff)
    for name in ("TruncatedNormal", "XavierInitializer"):
        setattr(fluid.initializer, name, fluid.initializer.Constant)
    return tool


def stub_paddlex_segmentation(root: Path) -> types.ModuleType:
    """PaddleX 1.3's ``cv/nets/segmentation`` package without its ``__init__`` (which
    imports every network) and with its losses stubbed (never called in test mode)."""
    nets = root / "paddlex" / "cv" / "nets"
    tool = _rcnn_tool()
    tool._package("paddlex", root / "paddlex")
    tool._package("paddlex.cv", root / "paddlex" / "cv")
    tool._package("paddlex.cv.nets", nets)
    tool._package("paddlex.cv.nets.segmentation", nets / "segmentation")
    tool._package("paddlex.cv.nets.segmentation.model_utils", nets / "segmentation" / "model_utils")
    tool._module("paddlex.cv.nets.segmentation.model_utils.loss", softmax_with_loss=None,
                 dice_loss=None, bce_loss=None)
    return importlib.import_module("paddlex.cv.nets.segmentation.model_utils.libs")


def run_static(root: str, module: str, factory: str, args: dict, archive: dict[str, np.ndarray],
               image: np.ndarray) -> dict:
    """In a process with FLAGS_enable_pir_api=0: the persistable variables of the
    reference's test-mode program and what it recorded (scoped resize outputs, the
    softmax's input), run with ``archive`` set by variable name."""
    import paddle

    paddle.enable_static()
    recorded: list = []
    install_fluid_stand_in(recorded)
    stub_paddlex_segmentation(Path(root))
    cls = getattr(importlib.import_module(f"paddlex.cv.nets.segmentation.{module}"), factory)
    main, startup = paddle.static.Program(), paddle.static.Program()
    with paddle.static.program_guard(main, startup):
        data = paddle.static.data("image", [-1, *image.shape[1:]], "float32")
        cls(mode="test", **args).build_net({"image": data})
    variables = {v.name: [int(d) for d in v.shape] for v in main.list_vars()
                 if v.persistable and v.name not in ("feed", "fetch")}
    executor = paddle.static.Executor(paddle.CPUPlace())
    executor.run(startup)
    scope = paddle.static.global_scope()
    for name, value in archive.items():
        if name in variables:  # the names are compared by the caller
            scope.find_var(name).get_tensor().set(value, paddle.CPUPlace())
    fetch = [v for _, _, v in recorded]
    results = executor.run(main.clone(for_test=True), feed={"image": image}, fetch_list=fetch)
    outputs = [(kind, where, np.asarray(r)) for (kind, where, _), r in zip(recorded, results, strict=True)]
    return {"variables": variables, "recorded": outputs}


def paddleseg_inventory(root: str, module: str, factory: str, args: dict) -> dict[str, list[int]]:
    """In its own process: the state-dict keys and shapes of PaddleSeg 2.x's network
    (``paddleseg/models/<module>.py``), imported with its registry and utilities stubbed
    and only the layer modules it uses (``models/layers/``: activation, layer_libs,
    pyramid_pool)."""
    tool = _rcnn_tool()
    base = Path(root) / "paddleseg"
    tool._package("paddleseg", base)
    manager = tool._module("paddleseg.cvlibs.manager",
                           MODELS=types.SimpleNamespace(add_component=lambda cls: cls))
    tool._module("paddleseg.cvlibs", __path__=[], manager=manager)
    utils = tool._module("paddleseg.utils", load_entire_model=None, logger=None)
    utils.utils = utils
    tool._package("paddleseg.models", base / "models")
    layers = tool._module("paddleseg.models.layers", __path__=[str(base / "models" / "layers")])
    sys.modules["paddleseg.models"].layers = layers
    for name in ("activation", "layer_libs", "pyramid_pool"):
        found = importlib.import_module(f"paddleseg.models.layers.{name}")
        layers.__dict__.update({k: v for k, v in vars(found).items() if not k.startswith("_")})
    net = getattr(importlib.import_module(f"paddleseg.models.{module}"), factory)(**args)
    return {k: [int(d) for d in v.shape] for k, v in net.state_dict().items()}


def describe_2x(label: str, theirs: dict[str, list[int]], ours: dict[str, list[int]]) -> str:
    """How PaddleSeg 2.x's tensors compare with ours, counted."""
    def values(shapes):
        return sum(int(np.prod(s)) for s in shapes.values())

    biases = sum(1 for k in theirs if k.endswith("_conv.bias"))
    return (f"{label}: {len(theirs)} tensors, {values(theirs):,} values, where this network "
            f"has {len(ours)}, {values(ours):,}; {biases} of its ConvBN convs carry a bias")


def random_state(model, image: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights for ``model`` with its batch norms' statistics those of ``image``
    through the network (as training would leave them), so every tensor matters."""
    import paddle

    from pxcore.testing.paddleclas import random_tensor

    rng = np.random.default_rng(seed)
    state = {k: random_tensor(rng, k, list(v.shape)) for k, v in model.state_dict().items()}
    model.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    for layer in model.sublayers():
        if isinstance(layer, paddle.nn.layer.norm._BatchNormBase):
            layer._momentum = 0.0
        if isinstance(layer, paddle.nn.Dropout2D | paddle.nn.Dropout):
            layer.p = 0.0
    model.train()
    with paddle.no_grad():
        model(paddle.to_tensor(image))
    return {k: v.numpy() for k, v in model.state_dict().items()}


def eval_outputs(model, state: dict[str, np.ndarray] | None, image: np.ndarray) -> list[np.ndarray]:
    """The network's logits in eval mode, and its auxiliary logits where it has them
    (training mode with dropout off)."""
    import paddle

    if state is not None:
        model.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    model.eval()
    with paddle.no_grad():
        outputs = [model(paddle.to_tensor(image)).numpy()]
        if len(getattr(model, "loss_weights", ())) > 1:
            for layer in model.sublayers():
                if isinstance(layer, paddle.nn.layer.norm._BatchNormBase | paddle.nn.Dropout2D):
                    layer.eval()
            model.training = True
            outputs = [o.numpy() for o in model(paddle.to_tensor(image))]
            model.eval()
    return outputs


def build(preset: str, overrides: dict, image: np.ndarray) -> dict:
    """Runs in its own process: pxcore's network with random weights, its outputs, its
    legacy names, and the outputs after loading the legacy archive through
    ``weight_aliases()``."""
    import pxcore
    from pxcore.weights import fit_state

    model = pxcore.create_model(preset, **overrides).net
    shapes = {k: [int(d) for d in v.shape] for k, v in model.state_dict().items()}
    state = random_state(model, image)
    ours = eval_outputs(model, state, image)
    legacy = {name: key for name, key in model.weight_aliases().items()}
    archive = {name: state[key] for name, key in legacy.items()}
    fresh = pxcore.create_model(preset, **overrides).net
    fitted, notes = fit_state(fresh, archive, f"{preset} static archive")
    assert not notes, notes
    by_alias = eval_outputs(fresh, fitted, image)
    return {"shapes": shapes, "legacy": legacy, "archive": archive, "ours": ours,
            "by_alias": by_alias}


def close(a: np.ndarray, b: np.ndarray, tolerance: float = 1e-4) -> bool:
    """Equal up to float32 rounding, relative to the largest value."""
    return a.shape == b.shape and np.allclose(a, b, rtol=tolerance,
                                              atol=tolerance * max(float(np.abs(b).max()), 1e-6))


def gap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(float(np.abs(b).max()), 1e-6))


def run(context, function, *args):
    return _rcnn_tool()._run(context, function, *args)


def static_run(context, root: str, *args) -> dict:
    os.environ["FLAGS_enable_pir_api"] = "0"  # inherited by the spawned process
    try:
        return run(context, run_static, root, *args)
    finally:
        del os.environ["FLAGS_enable_pir_api"]


def check_variables(label: str, variables: dict, shapes: dict, legacy: dict) -> None:
    expected = {name: shapes[key] for name, key in legacy.items()}
    assert variables == expected, (
        f"{label}: the static program's variables differ from the legacy names: only in the "
        f"program {sorted(set(variables) - set(expected))[:5]}, only in ours "
        f"{sorted(set(expected) - set(variables))[:5]}, shapes differ "
        f"{[k for k in expected if variables.get(k, expected[k]) != expected[k]][:5]}")
    assert sorted(legacy.values()) == sorted(shapes), f"{label}: not every tensor of ours is named once"


def verify(root: str, upsample_mode: str) -> tuple[dict, list[str]]:
    context = multiprocessing.get_context("spawn")
    image = np.random.default_rng(1).standard_normal(SHAPE).astype("float32")
    overrides = {"upsample_mode": upsample_mode}
    label = f"{PRESET} (upsample_mode={upsample_mode!r})"
    built = run(context, build, PRESET, overrides, image)
    static = static_run(context, root, "unet", "UNet",
                        {"num_classes": NUM_CLASSES, "upsample_mode": upsample_mode},
                        built["archive"], image)
    check_variables(label, static["variables"], built["shapes"], built["legacy"])
    logits = [v for kind, _, v in static["recorded"] if kind == "softmax"]
    assert len(logits) == 1, f"{label}: expected one softmax in the test program"
    ours = built["ours"][0]
    assert close(ours, logits[0]), f"{label}: the static program differs from pxcore by {gap(ours, logits[0]):.3g}"
    assert close(built["by_alias"][0], ours), f"{label}: weight_aliases() misplaces tensors"
    report = [f"{label}: {len(built['shapes'])} tensors, "
              f"{sum(int(np.prod(s)) for s in built['shapes'].values()):,} values; static program "
              f"by variable name == pxcore == pxcore through weight_aliases() (largest relative "
              f"gap {gap(ours, logits[0]):.2g})"]
    manifest = {"model": PRESET, "num_classes": NUM_CLASSES, "pdparams": built["shapes"],
                "legacy": built["legacy"]}
    return manifest, report


def main(argv: list[str] | None = None) -> int:
    from reference.manifests import dumps

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paddlex-static", dest="paddlex_static", required=True,
                        help=f"a tree of {PADDLEX_STATIC} holding paddlex/cv/nets/")
    parser.add_argument("--paddleseg", required=True,
                        help="PaddleSeg 2.8.0's root (holding paddleseg/), for the notes")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests" / "layouts")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    manifest, report = verify(args.paddlex_static, "bilinear")
    theirs = run(multiprocessing.get_context("spawn"), paddleseg_inventory, args.paddleseg, "unet",
                 "UNet", {"num_classes": NUM_CLASSES})
    _, deconv_report = verify(args.paddlex_static, "deconv")
    manifest["source"] = (
        "pdparams: pxcore's state-dict keys and shapes. legacy: the persistable variables of "
        f"the test-mode program {PADDLEX_STATIC}'s paddlex/cv/nets/segmentation/unet.py UNet "
        "builds (num_classes 81, upsample_mode 'bilinear', PaddleX 1.3.11's defaults; "
        "PaddleSeg legacy's unet.py names them alike), run in Paddle 3.3's legacy static "
        "mode: exactly these names and shapes. Random weights set by variable name into it "
        "and by key, and through weight_aliases(), into pxcore give the same logits "
        f"({SHAPE[2]}x{SHAPE[3]} images). Written by plugins/unet/tools/make_layouts.py.")
    manifest["notes"] = [
        "upsample_mode 'deconv' (no zoo row) was checked the same way: decode/decodeN/up/weights "
        "is the transposed conv, [in, out // 2, 2, 2].",
        "the zoo's unet_coco_v3.tgz (107.3 MB) is the size of these tensors plus a momentum "
        "velocity for each trainable one, (13,445,888 + 13,437,952) * 4 bytes = 107.5 MB "
        "before gzip: it most likely holds the velocities too (*_velocity_0, which loading "
        "ignores).",
        "PaddleSeg 2.x's UNet (paddleseg 2.8 models/unet.py) is not this network: a bias on "
        "every ConvBNReLU conv and on the classifier conv, half-pixel resizing by default; its "
        "checkpoints are not supported (no 2.x names). "
        + describe_2x("PaddleSeg 2.8's UNet(num_classes=81)", theirs, manifest["pdparams"]) + ".",
    ]
    order = ("model", "num_classes", "source", "notes", "pdparams", "legacy")
    path = args.out / f"{PRESET}.json"
    path.write_text(dumps({k: manifest[k] for k in order}), encoding="utf-8")
    print("\n".join(report + deconv_report), f"\n  -> {path}", flush=True)
    return 0

