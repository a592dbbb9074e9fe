"""Write tests/layouts/<row>.json, the weight layouts of the zoo's YOLOv3 and PP-YOLO
rows, by running PaddleDetection's own code against pxcore's model.

A manifest (format: pxcore/testing/layouts.py) holds

- "pdparams": pxcore's state-dict keys and shapes (what ``paddle.save`` of the model
  writes; the neck's keys are PaddleDetection 2.x's);
- "legacy": {PaddleDetection 0.x variable name: our key}: the zoo's archives
  (``yolov3_darknet.tar``... per-variable directories) and its static-era ``.pdparams``
  (``yolov3_mobilenet_v3.pdparams``, ``ppyolo_2x.pdparams``: ``fluid.save``'s dict keyed
  by variable name);
- "paddledet_2x": {PaddleDetection 2.x state-dict key: our key}, a 2.x checkpoint.

For each row the tool, with random weights (batch-norm statistics calibrated on the
input, so a misplaced tensor anywhere shows in the outputs):

1. builds the 0.x network from PaddleDetection ``release/0.5`` (the backbone of the row's
   config and ``anchor_heads/yolo_head.py``'s ``YOLOv3Head._get_outputs``) in Paddle 3's
   legacy static mode, through a small stand-in for the removed ``paddle.fluid``: its
   variables must be exactly the manifest's legacy names and shapes, and with the
   weights set by variable name its three raw outputs must equal pxcore's;
2. builds the 2.x network from PaddleDetection 2.6.0's ``ppdet/modeling`` (backbone,
   ``YOLOv3FPN`` / ``PPYOLOFPN``, ``YOLOv3Head``, held as ``backbone`` / ``neck`` /
   ``yolo_head`` like ``architectures/yolo.py``): its keys and shapes must be exactly the
   manifest's 2.x names, and with the weights set by key its outputs must equal pxcore's;
3. loads both files' names into pxcore through ``weight_aliases()``
   (``pxcore.weights.fit_state``) and requires the same outputs again, and requires
   ``weight_aliases()`` to be exactly the union of both maps' renamings.

PP-YOLO's CoordConv coordinates differ between the two: 0.x runs them from -1 to 1
(pxcore's default), 2.6 from -1 to -0.5 (``PADDLEDETECTION_COORD_RANGE``); each check
sets pxcore's accordingly.

Needs paddlepaddle 3.3, pxcore with pxcore-yolov3 installed, and two references (nothing
else from PaddleDetection is imported; its other imports are stubbed):

    pip install --no-deps --target /work/refdet paddledet==2.6.0   # -> /work/refdet/ppdet
    git clone https://github.com/PaddlePaddle/PaddleDetection && \\
      git -C PaddleDetection archive ed2ffa08f6bdfad06a06dd16005a5aa26f9ef201 \\
        ppdet/modeling | tar -x -C /tmp/ppdet05                    # release/0.5

    python -m reference.manifests yolov3 --ppdet /work/refdet --ppdet-static /tmp/ppdet05

Each network runs in a fresh process: the static program needs FLAGS_enable_pir_api=0
set before Paddle starts.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import os
import types
from pathlib import Path
from typing import NamedTuple

import numpy as np

from reference.fluid import Stub, module, package

PPDET_STATIC = "PaddleDetection release/0.5 (commit ed2ffa08, 2021-11-19)"
PPDET_26 = "PaddleDetection 2.6.0 (the paddledet wheel)"
SIZE = 128  # input pixels: 4x4 at stride 32, enough for CoordConv and DCN to matter
NUM_CLASSES = 80


class Row(NamedTuple):
    """A zoo row's network in the two PaddleDetection versions, as its configs set it
    (configs/yolov3_*.yml, configs/ppyolo/ppyolo_2x.yml; configs/yolov3/_base_/*.yml,
    configs/ppyolo/_base_/ppyolo_r50vd_dcn.yml)."""

    backbone_file: str  # under ppdet/modeling/backbones/ in both trees
    static_class: str
    static_args: dict
    dygraph_file: str
    dygraph_class: str
    dygraph_args: dict
    ppyolo: bool = False


ROWS = {
    "YOLOv3-DarkNet53": Row("darknet.py", "DarkNet", dict(depth=53, norm_type="bn"),
                            "darknet.py", "DarkNet", dict(depth=53, return_idx=[2, 3, 4])),
    "YOLOv3-MobileNetV1": Row("mobilenet.py", "MobileNet",
                              dict(norm_type="bn", conv_group_scale=1, with_extra_blocks=False),
                              "mobilenet_v1.py", "MobileNet",
                              dict(scale=1, feature_maps=[4, 6, 13], with_extra_blocks=False,
                                   extra_block_filters=[])),
    "YOLOv3-MobileNetV3_large": Row("mobilenet_v3.py", "MobileNetV3",
                                    dict(norm_type="bn", model_name="large", scale=1.0,
                                         extra_block_filters=[], feature_maps=[1, 2, 3, 4, 6]),
                                    "mobilenet_v3.py", "MobileNetV3",
                                    dict(model_name="large", scale=1.0, with_extra_blocks=False,
                                         extra_block_filters=[], feature_maps=[7, 13, 16])),
    "YOLOv3-ResNet34": Row("resnet.py", "ResNet",
                           dict(depth=34, norm_type="bn", freeze_at=0, freeze_norm=False,
                                feature_maps=[3, 4, 5]),
                           "resnet.py", "ResNet",
                           dict(depth=34, return_idx=[1, 2, 3], freeze_at=-1, freeze_norm=False)),
    "PPYOLO": Row("resnet.py", "ResNet",
                  dict(depth=50, variant="d", norm_type="bn", freeze_at=0, freeze_norm=False,
                       feature_maps=[3, 4, 5], dcn_v2_stages=[5]),
                  "resnet.py", "ResNet",
                  dict(depth=50, variant="d", return_idx=[1, 2, 3], dcn_v2_stages=[3],
                       freeze_at=-1, freeze_norm=False),
                  ppyolo=True),
}


# --- PaddleDetection 0.x in Paddle 3's legacy static mode ------------------------------

def _install_fluid_stand_in() -> None:
    """``paddle.fluid`` as PaddleDetection 0.5's backbones and YOLOv3 head call it,
    forwarded to Paddle 3's static API with the arguments that matter (names, shapes,
    strides, groups, activations)."""
    import paddle
    import paddle.nn.functional as F
    from paddle.base.layer_helper import LayerHelper

    def op(op_type, attrs=None, **inputs):
        # Paddle 3's generated multiply/sigmoid/... take no legacy static Variables
        helper = LayerHelper(op_type)
        out = helper.create_variable_for_type_inference("float32")
        helper.append_op(type=op_type, inputs=inputs, outputs={"Out": out}, attrs=attrs or {})
        return out

    acts = {None: lambda x: x, "relu": F.relu, "relu6": lambda x: op("relu6", {"threshold": 6.0}, X=x),
            "sigmoid": lambda x: op("sigmoid", X=x),
            # Paddle 1.x's hard_sigmoid: slope 0.2, offset 0.5
            "hard_sigmoid": lambda x: op("hard_sigmoid", {"slope": 0.2, "offset": 0.5}, X=x)}

    def conv2d(input, num_filters, filter_size, stride=1, padding=0, dilation=1, groups=None,
               param_attr=None, bias_attr=None, use_cudnn=True, act=None, name=None):
        return acts[act](paddle.static.nn.conv2d(
            input, num_filters, filter_size, stride=stride, padding=padding, dilation=dilation,
            groups=groups, param_attr=param_attr, bias_attr=bias_attr))

    def batch_norm(input, act=None, param_attr=None, bias_attr=None, moving_mean_name=None,
                   moving_variance_name=None, name=None, use_global_stats=False, **_):
        return acts[act](paddle.static.nn.batch_norm(
            input, param_attr=param_attr, bias_attr=bias_attr, moving_mean_name=moving_mean_name,
            moving_variance_name=moving_variance_name, use_global_stats=use_global_stats))

    def deformable_conv(input, offset, mask, num_filters, filter_size, stride=1, padding=0,
                        dilation=1, groups=None, deformable_groups=None, im2col_step=None,
                        param_attr=None, bias_attr=None, modulated=True, name=None):
        return paddle.static.nn.deform_conv2d(
            input, offset, mask, num_filters, filter_size, stride=stride, padding=padding,
            dilation=dilation, groups=groups or 1, deformable_groups=deformable_groups or 1,
            im2col_step=im2col_step or 1, weight_attr=param_attr, bias_attr=bias_attr)

    def pool2d(input, pool_size=-1, pool_type="max", pool_stride=1, pool_padding=0,
               global_pooling=False, use_cudnn=True, ceil_mode=False, name=None, exclusive=True):
        if global_pooling:
            return F.adaptive_avg_pool2d(input, 1) if pool_type == "avg" else F.adaptive_max_pool2d(input, 1)
        if pool_type == "max":
            return F.max_pool2d(input, pool_size, pool_stride, pool_padding, ceil_mode=ceil_mode)
        return F.avg_pool2d(input, pool_size, pool_stride, pool_padding, ceil_mode=ceil_mode,
                            exclusive=exclusive)

    def elementwise(op):
        def apply(x, y, axis=-1, act=None, name=None):
            return acts[act](op(x, y))
        return apply

    def resize_nearest(input, out_shape=None, scale=None, name=None, **_):
        # fluid's default align_corners=True picks, at scale 2, the same source pixels
        # as Paddle 3's nearest interpolation without it: out[j] = in[j // 2].
        return F.interpolate(input, scale_factor=scale, mode="nearest")

    layers = types.SimpleNamespace(
        conv2d=conv2d, batch_norm=batch_norm, deformable_conv=deformable_conv, pool2d=pool2d,
        elementwise_add=elementwise(paddle.add),
        elementwise_mul=elementwise(lambda x, y: op("elementwise_mul", {"axis": -1}, X=x, Y=y)),
        leaky_relu=lambda x, alpha=0.02, name=None: F.leaky_relu(x, alpha),
        relu=F.relu, relu6=lambda x, threshold=6.0, name=None: acts["relu6"](x),
        sigmoid=lambda x, name=None: acts["sigmoid"](x),
        split=lambda input, num_or_sections, dim=-1, name=None: paddle.split(input, num_or_sections, dim),
        concat=lambda input, axis=0, name=None: paddle.concat(input, axis=axis),
        resize_nearest=resize_nearest, shape=paddle.shape,
        range=lambda start, end, step, dtype: paddle.arange(start, end, step, dtype),
        unsqueeze=lambda input, axes, name=None: paddle.unsqueeze(input, axes),
        expand=lambda x, expand_times, name=None: paddle.tile(x, expand_times),
        cast=paddle.cast)
    main_block = lambda: paddle.static.default_main_program().global_block()  # noqa: E731
    fluid = module("paddle.fluid", __path__=[], layers=layers, name_scope=paddle.static.name_scope,
                    ParamAttr=paddle.ParamAttr)
    fluid.param_attr = module("paddle.fluid.param_attr", ParamAttr=paddle.ParamAttr)
    fluid.regularizer = module("paddle.fluid.regularizer", L2Decay=paddle.regularizer.L2Decay)
    fluid.initializer = module(
        "paddle.fluid.initializer", MSRA=paddle.nn.initializer.KaimingNormal,
        Constant=paddle.nn.initializer.Constant, ConstantInitializer=paddle.nn.initializer.Constant)
    fluid.framework = module("paddle.fluid.framework", Variable=paddle.static.Variable,
                              _get_var=lambda name: main_block().var(name))
    paddle.fluid = fluid


def _stub_ppdet_static(root: Path) -> None:
    modeling = root / "ppdet" / "modeling"
    module("six", moves=types.SimpleNamespace(xrange=range, range=range))  # darknet.py's one use
    package("ppdet", root / "ppdet")
    package("ppdet.modeling", modeling)
    package("ppdet.modeling.backbones", modeling / "backbones")
    package("ppdet.modeling.anchor_heads", modeling / "anchor_heads")
    identity = lambda cls: cls  # noqa: E731
    module("ppdet.core", __path__=[])
    module("ppdet.core.workspace", register=identity, serializable=identity)
    module("ppdet.utils", __path__=[])
    module("ppdet.utils.check", check_version=lambda version: None)
    module("ppdet.experimental", mixed_precision_global_state=lambda: None)
    # DropBlock is the identity at test time, the mode compared here.
    module("ppdet.modeling.ops", MultiClassNMS=Stub, MultiClassSoftNMS=Stub, MatrixNMS=Stub,
            DropBlock=lambda input, **_: input)
    module("ppdet.modeling.losses", __path__=[])
    module("ppdet.modeling.losses.yolo_loss", YOLOv3Loss=Stub)
    module("ppdet.modeling.anchor_heads.iou_aware", get_iou_aware_score=None)


def run_static(root: str, row: Row, archive: dict[str, np.ndarray], image: np.ndarray) -> dict:
    """In a process with FLAGS_enable_pir_api=0: the 0.x program's persistable variables
    and its raw outputs with ``archive`` set by variable name."""
    import paddle

    paddle.enable_static()
    _install_fluid_stand_in()
    _stub_ppdet_static(Path(root))
    backbone_module = importlib.import_module(f"ppdet.modeling.backbones.{row.backbone_file[:-3]}")
    head_module = importlib.import_module("ppdet.modeling.anchor_heads.yolo_head")
    backbone = getattr(backbone_module, row.static_class)(**row.static_args)
    head_args = dict(coord_conv=True, iou_aware=True, spp=True, drop_block=True,
                     scale_x_y=1.05) if row.ppyolo else {}
    head = head_module.YOLOv3Head(num_classes=NUM_CLASSES, **head_args)
    main, startup = paddle.static.Program(), paddle.static.Program()
    with paddle.static.program_guard(main, startup):
        x = paddle.static.data("image", [-1, 3, SIZE, SIZE], "float32")
        feats = backbone(x)
        feats = list(feats.values()) if isinstance(feats, dict) else feats
        # is_train=True: the coordinates follow the input's runtime shape, as in training
        # (the export-only branch for fixed shapes is left out); DropBlock is stubbed out.
        outputs = head._get_outputs(feats, is_train=True)
    variables = {v.name: [int(d) for d in v.shape] for v in main.list_vars()
                 if v.persistable and v.name not in ("feed", "fetch")}
    executor = paddle.static.Executor(paddle.CPUPlace())
    executor.run(startup)
    scope = paddle.static.global_scope()
    for name, value in archive.items():
        if name in variables:
            scope.find_var(name).get_tensor().set(value, paddle.CPUPlace())
    results = executor.run(main.clone(for_test=True), feed={"image": image}, fetch_list=outputs)
    return {"variables": variables, "outputs": [np.asarray(r) for r in results]}


# --- PaddleDetection 2.6 in dygraph mode -----------------------------------------------

def _ppdet_26(root: Path, row: Row):
    """The 2.6 network: backbone, neck and head held as architectures/yolo.py holds them."""
    from paddle import nn

    modeling = root / "ppdet" / "modeling"
    module("six", moves=types.SimpleNamespace(range=range))  # layers.py's one use
    package("ppdet", root / "ppdet")
    package("ppdet.modeling", modeling)
    for sub in ("backbones", "necks", "heads", "assigners"):
        package(f"ppdet.modeling.{sub}", modeling / sub)
    module("ppdet.modeling.losses", __path__=[], IouLoss=Stub)
    module("ppdet.modeling.assigners.simota_assigner", SimOTAAssigner=Stub)
    backbones = importlib.import_module(f"ppdet.modeling.backbones.{row.dygraph_file[:-3]}")
    necks = importlib.import_module("ppdet.modeling.necks.yolo_fpn")
    heads = importlib.import_module("ppdet.modeling.heads.yolo_head")

    backbone = getattr(backbones, row.dygraph_class)(**row.dygraph_args)
    channels = [s.channels for s in backbone.out_shape]
    if row.ppyolo:
        neck = necks.PPYOLOFPN(in_channels=channels, coord_conv=True, drop_block=True,
                               block_size=3, keep_prob=0.9, spp=True)
    else:
        neck = necks.YOLOv3FPN(in_channels=channels)
    head = heads.YOLOv3Head(in_channels=[s.channels for s in neck.out_shape],
                            num_classes=NUM_CLASSES, iou_aware=row.ppyolo)

    class Architecture(nn.Layer):
        def __init__(self):
            super().__init__()
            self.backbone, self.neck, self.yolo_head = backbone, neck, head

        def forward(self, image):
            feats = self.neck(self.backbone({"image": image}))
            return [conv(f) for conv, f in zip(self.yolo_head.yolo_outputs, feats, strict=True)]

    return Architecture()


def _outputs(net, state: dict[str, np.ndarray] | None, image: np.ndarray) -> list[np.ndarray]:
    import paddle

    if state is not None:
        net.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    net.eval()
    with paddle.no_grad():
        return [o.numpy() for o in net(paddle.to_tensor(image))]


def _set_coord_range(net, coord_range) -> None:
    from pxcore_yolov3.layers import CoordConv

    for layer in net.sublayers():
        if isinstance(layer, CoordConv):
            layer.coord_range = tuple(coord_range)


def build(arch: str, row: Row, ppdet: str) -> dict:
    """Runs in its own process: pxcore's model with random weights, its outputs, and the
    2.6 network's names, shapes and outputs with the same weights."""
    import pxcore
    from pxcore.testing.random_weights import calibrate_batch_norm, random_tensor
    from pxcore.weights import fit_state
    from pxcore_yolov3.layers import PADDLEDETECTION_COORD_RANGE
    from pxcore_yolov3.legacy_names import dygraph_names, static_names

    net = pxcore.create_model(arch, num_classes=NUM_CLASSES).net
    shapes = {k: [int(d) for d in v.shape] for k, v in net.state_dict().items()}
    rng = np.random.default_rng(0)
    state = {k: random_tensor(rng, k, s) for k, s in shapes.items()}
    image = rng.standard_normal((2, 3, SIZE, SIZE)).astype("float32")
    state = calibrate_batch_norm(net, state, image)
    ours = _outputs(net, state, image)
    legacy, dygraph = static_names(net), dygraph_names(net)
    aliases = net.weight_aliases()
    assert aliases == {**legacy, **{k: v for k, v in dygraph.items() if k != v}}, (
        f"{arch}: weight_aliases() is not the union of the two layouts' renamings")
    archive = {name: state[key] for name, key in legacy.items()}
    fitted, _ = fit_state(net, archive, f"{arch} static archive")
    by_static_alias = _outputs(net, fitted, image)

    reference = _ppdet_26(Path(ppdet), row)
    reference_shapes = {k: [int(d) for d in v.shape] for k, v in reference.state_dict().items()}
    expected_shapes = {name: shapes[key] for name, key in dygraph.items()}
    assert reference_shapes == expected_shapes, (
        f"{arch}: PaddleDetection 2.6's keys differ from the 2.x names: only in 2.6 "
        f"{sorted(set(reference_shapes) - set(expected_shapes))[:5]}, only in ours "
        f"{sorted(set(expected_shapes) - set(reference_shapes))[:5]}, shapes differ "
        f"{[k for k in reference_shapes if expected_shapes.get(k, reference_shapes[k]) != reference_shapes[k]][:5]}")
    state_26 = {name: state[key] for name, key in dygraph.items()}
    expected_26 = _outputs(reference, state_26, image)
    _set_coord_range(net, PADDLEDETECTION_COORD_RANGE)
    ours_26 = _outputs(net, state, image)
    fitted, _ = fit_state(net, state_26, f"{arch} 2.x checkpoint")
    by_26_alias = _outputs(net, fitted, image)
    manifest = {"model": arch, "num_classes": NUM_CLASSES, "pdparams": shapes, "legacy": legacy,
                "paddledet_2x": dygraph}
    return {"manifest": manifest, "archive": archive, "image": image, "ours": ours,
            "by_static_alias": by_static_alias, "ours_26": ours_26, "expected_26": expected_26,
            "by_26_alias": by_26_alias}


# --- checking and writing ----------------------------------------------------------------

def _close(outputs: list[np.ndarray], expected: list[np.ndarray]) -> bool:
    return len(outputs) == len(expected) and all(
        a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())
        for a, b in zip(outputs, expected, strict=True))


def _gap(outputs, expected) -> float:
    return max(float(np.abs(a - b).max()) for a, b in zip(outputs, expected, strict=True))


def _run(context, function, *args):
    pool = context.Pool(1)
    try:
        return pool.apply(function, args)
    finally:
        pool.close()  # close and join: terminating makes Paddle print a fatal-signal report
        pool.join()


def verify(arch: str, row: Row, ppdet: str, ppdet_static: str, tool: str) -> dict:
    context = multiprocessing.get_context("spawn")
    built = _run(context, build, arch, row, ppdet)
    manifest = built["manifest"]
    assert _close(built["expected_26"], built["ours_26"]), (
        f"{arch}: PaddleDetection 2.6 differs from pxcore by {_gap(built['expected_26'], built['ours_26']):.3g}")
    assert _close(built["by_26_alias"], built["ours_26"]), f"{arch}: 2.x names misplace tensors"
    assert _close(built["by_static_alias"], built["ours"]), f"{arch}: static names misplace tensors"

    os.environ["FLAGS_enable_pir_api"] = "0"  # inherited by the spawned process
    try:
        static = _run(context, run_static, ppdet_static, row, built["archive"], built["image"])
    finally:
        del os.environ["FLAGS_enable_pir_api"]
    shapes = {name: manifest["pdparams"][key] for name, key in manifest["legacy"].items()}
    assert static["variables"] == shapes, (
        f"{arch}: the 0.x program's variables differ from the legacy names: only in the program "
        f"{sorted(set(static['variables']) - set(shapes))[:5]}, only in the manifest "
        f"{sorted(set(shapes) - set(static['variables']))[:5]}, shapes differ "
        f"{[k for k in shapes if static['variables'].get(k, shapes[k]) != shapes[k]][:5]}")
    assert _close(static["outputs"], built["ours"]), (
        f"{arch}: the 0.x program, given the weights by name, differs from pxcore by "
        f"{_gap(static['outputs'], built['ours']):.3g}")

    static_file = f"{row.backbone_file} ({row.static_class}) and anchor_heads/yolo_head.py"
    manifest["source"] = (
        "pdparams: pxcore's state-dict keys and shapes. legacy: the variables of the "
        f"PaddleDetection 0.x program, {PPDET_STATIC} ppdet/modeling/backbones/{static_file} "
        "(YOLOv3Head._get_outputs) as the row's config builds it, run in Paddle 3.3's legacy "
        "static mode: exactly these names and shapes. paddledet_2x: the state-dict keys of "
        f"{PPDET_26} ppdet/modeling/backbones/{row.dygraph_file} ({row.dygraph_class}), "
        f"necks/yolo_fpn.py ({'PPYOLOFPN' if row.ppyolo else 'YOLOv3FPN'}) and heads/yolo_head.py "
        "held as backbone/neck/yolo_head (architectures/yolo.py): exactly these keys and shapes. "
        "Random weights set by variable name into the 0.x program, by key into 2.6, by key and "
        f"through weight_aliases() (both layouts) into pxcore give the same raw outputs ({SIZE} px"
        f"{'; CoordConv ranges -1..1 for 0.x, -1..-0.5 for 2.6' if row.ppyolo else ''}). "
        f"Written by {tool}.")
    order = ("model", "num_classes", "source", "pdparams", "legacy", "paddledet_2x")
    report = [f"{arch}: {len(manifest['pdparams'])} tensors, "
              f"{sum(int(np.prod(s)) for s in manifest['pdparams'].values()):,} values",
              "  0.x program by variable name == pxcore by key == pxcore through the static names",
              "  PaddleDetection 2.6 by key == pxcore by key == pxcore through the 2.x names"]
    return {"manifest": {k: manifest[k] for k in order}, "report": report}


def main(argv: list[str] | None = None) -> int:
    from reference.manifests import dumps

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ppdet", required=True, help="PaddleDetection 2.6.0's root (holding ppdet/)")
    parser.add_argument("--ppdet-static", dest="ppdet_static", required=True,
                        help=f"a tree of {PPDET_STATIC} holding ppdet/modeling/")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests" / "layouts")
    parser.add_argument("rows", nargs="*", default=list(ROWS))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for arch in args.rows:
        result = verify(arch, ROWS[arch], args.ppdet, args.ppdet_static,
                        tool="plugins/yolov3/tools/make_layouts.py")
        path = args.out / f"{arch}.json"
        path.write_text(dumps(result["manifest"]), encoding="utf-8")
        print("\n".join(result["report"]), f"\n  -> {path}", flush=True)
    return 0

