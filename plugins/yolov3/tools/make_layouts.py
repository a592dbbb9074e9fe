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
   legacy static mode, through reference/fluid.py's stand-in for the removed ``paddle.fluid``: its
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
import types
from pathlib import Path
from typing import NamedTuple

import numpy as np

from reference import fluid, manifests
from reference.fluid import Stub, module, package
from reference.harness import TOLERANCE, calibrated_state, relative_difference, same_names
from reference.tools import LEGACY_STATIC, run_in_child

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
    fluid.install()  # fluid's resize_nearest at scale 2 picks out[j] = in[j // 2], as pxcore does
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
    return {"variables": fluid.variables(main),
            "outputs": fluid.run(main, startup, archive, {"image": image}, outputs)}


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
    from pxcore.weights import fit_state
    from pxcore_yolov3.layers import PADDLEDETECTION_COORD_RANGE
    from pxcore_yolov3.legacy_names import dygraph_names, static_names

    net = pxcore.create_model(arch, num_classes=NUM_CLASSES).net
    shapes = {k: [int(d) for d in v.shape] for k, v in net.state_dict().items()}
    image = np.random.default_rng(1).standard_normal((2, 3, SIZE, SIZE)).astype("float32")
    state = calibrated_state(net, image)
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
    same_names(reference_shapes, expected_shapes, f"{arch}: PaddleDetection 2.6's keys", "the 2.x names")
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

def _gap(outputs: list[np.ndarray], expected: list[np.ndarray]) -> float:
    """The largest ``relative_difference`` over the three outputs."""
    if len(outputs) != len(expected):
        raise AssertionError(f"{len(outputs)} outputs, the reference has {len(expected)}")
    return max(relative_difference(a, b) for a, b in zip(outputs, expected, strict=True))


def verify(arch: str, row: Row, ppdet: str, ppdet_static: str, tool: str) -> dict:
    built = run_in_child(build, arch, row, ppdet)
    manifest = built["manifest"]
    gaps = {"2.6": _gap(built["ours_26"], built["expected_26"]),
            "2.x names": _gap(built["by_26_alias"], built["ours_26"]),
            "static names": _gap(built["by_static_alias"], built["ours"])}
    static = run_in_child(run_static, ppdet_static, row, built["archive"], built["image"], env=LEGACY_STATIC)
    shapes = {name: manifest["pdparams"][key] for name, key in manifest["legacy"].items()}
    same_names(static["variables"], shapes, f"{arch}: the 0.x program's variables", "the legacy names")
    gaps["0.x program"] = _gap(static["outputs"], built["ours"])
    wrong = {k: f"{v:.3g}" for k, v in gaps.items() if v > TOLERANCE}
    assert not wrong, f"{arch}: pxcore differs (relative to the reference's outputs) from {wrong}"

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
              "  0.x program by variable name == pxcore by key == pxcore through the static names "
              f"(largest relative gap {max(gaps['0.x program'], gaps['static names']):.2g})",
              "  PaddleDetection 2.6 by key == pxcore by key == pxcore through the 2.x names "
              f"(largest relative gap {max(gaps['2.6'], gaps['2.x names']):.2g})"]
    return {"manifest": {k: manifest[k] for k in order}, "report": report}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ppdet", required=True, help="PaddleDetection 2.6.0's root (holding ppdet/)")
    parser.add_argument("--ppdet-static", dest="ppdet_static", required=True,
                        help=f"a tree of {PPDET_STATIC} holding ppdet/modeling/")
    manifests.add_out_argument(parser, "yolov3")
    parser.add_argument("rows", nargs="*", default=list(ROWS))
    args = parser.parse_args(argv)
    for arch in args.rows:
        result = verify(arch, ROWS[arch], args.ppdet, args.ppdet_static,
                        tool="plugins/yolov3/tools/make_layouts.py")
        manifests.publish(args.out, arch, result)
    return 0

