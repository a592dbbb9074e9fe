"""Write tests/layouts/HRNet_W18_seg.json, the weight layout of the zoo's Cityscapes
HRNet_W18 (PaddleSeg's legacy archive ``hrnet_w18_bn_cityscapes``, which PaddleX 1.x's
``paddlex.seg.HRNet`` loads), by running PaddleX's own code against pxcore's network.

The manifest (format: pxcore/testing/layouts.py) holds

- "pdparams": pxcore's state-dict keys and shapes (no Paddle suite has this network in
  dygraph form with the same computation, see "notes");
- "legacy": {Paddle 1.x variable name: our key}: every variable of PaddleX 1.3's static
  program, the names of the archive's per-variable files;
- "notes": how the references compute, as measured here.

With random weights (batch-norm statistics calibrated on the input, so that a misplaced
tensor anywhere shows in the logits) the tool

1. builds PaddleX 1.3.0's ``nets/segmentation/hrnet.py`` ``HRNet(num_classes=19, width=18)``
   (with its ``nets/hrnet.py`` body, ``feature_maps="stage4"``) in Paddle 3's legacy static
   mode, through reference/fluid.py's stand-in for the removed ``paddle.fluid`` with
   fluid's resize semantics: its
   persistable variables must be exactly the manifest's legacy names, with pxcore's
   shapes, and given the weights by variable name its logits (the softmax's input) must
   equal pxcore's when pxcore loads the same files through ``weight_aliases()``;
2. runs the same program with the fusions' ``resize_bilinear`` corners aligned, which is
   what PaddleSeg's legacy ``pdseg/models/modeling/hrnet.py`` (the trainer of the zoo's
   archive; same names and head, read, not run: it needs PaddleSeg's legacy config
   module) computes, and requires pxcore's ``fuse_upsample="bilinear_align_corners"`` to
   give its logits; the difference between the two is recorded in "notes".

Needs paddlepaddle 3.3, pxcore with pxcore-hrnet, and the reference:

    git clone https://github.com/PaddlePaddle/PaddleX && \\
      git -C PaddleX archive 13e0678c61b7afa0115466e70949d2ed83233d1e \\
        paddlex/cv/nets | tar -x -C /tmp/pdx13                     # v1.3.0

    python -m reference.manifests hrnet --tool make_seg_layouts --paddlex-static /tmp/pdx13

(PaddleX 1.3.11's wheel has the same two files.) Each program runs in a fresh process:
the static program needs FLAGS_enable_pir_api=0 set before Paddle starts.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import types
from pathlib import Path

import numpy as np

from reference import fluid, manifests
from reference.harness import same_names
from reference.tools import LEGACY_STATIC, run_in_child

PADDLEX_STATIC = "PaddleX 1.3.0 (commit 13e0678c)"
PRESET = "HRNet_W18_seg"
WIDTH = 18
NUM_CLASSES = 19
IMAGE = (2, 3, 64, 96)  # non-square, so that a swapped height and width would show
# Coarser-to-finer paths in the fusions: stages of 1, 4 and 3 modules on 2, 3, 4 branches.
FUSE_RESIZES = 1 * 1 + 4 * 3 + 3 * 6


def _install_fluid_stand_in(fuse_corners: bool) -> dict:
    """reference/fluid.py's ``paddle.fluid`` stand-in (fluid's resize semantics), its
    ``shape`` the static sizes as ints (the image's size is fixed when the program is
    built), so that ``resize_bilinear`` gets an ``out_shape`` of ints; the softmax records its input, the logits. With
    ``fuse_corners``, resizes asked for with ``align_corners=False`` (the fusions'
    only) align the corners, as PaddleSeg's legacy HRNet does. Returns the record."""
    seen: dict = {"fuse_resizes": 0}

    def record(kind, variable):
        if kind == "softmax":
            seen["logits"] = variable

    layers = fluid.install(resize="fluid", static_shapes=True, record=record).layers
    resize_bilinear = layers.resize_bilinear

    def resize(input, out_shape=None, scale=None, name=None, actual_shape=None,
               align_corners=True, align_mode=1):
        if not align_corners:
            seen["fuse_resizes"] += 1
            if fuse_corners:
                align_corners = True
        return resize_bilinear(input, out_shape=out_shape, scale=scale, align_corners=align_corners,
                               align_mode=align_mode)

    layers.resize_bilinear = resize
    return seen


def _stub_paddlex_13(root: Path) -> types.ModuleType:
    """PaddleX 1.3's nets as its HRNet model builds them; the losses (training only)
    stubbed. Returns nets/segmentation/hrnet.py."""
    nets = root / "paddlex" / "cv" / "nets"
    packages = {"paddlex": root / "paddlex", "paddlex.cv": root / "paddlex" / "cv",
                "paddlex.cv.nets": nets, "paddlex.cv.nets.segmentation": nets / "segmentation",
                "paddlex.cv.nets.segmentation.model_utils": nets / "segmentation" / "model_utils"}
    for name, path in packages.items():
        module = types.ModuleType(name)
        module.__path__ = [str(path)]  # its __init__ (which imports everything) never runs
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)
    for name, attributes in (("libs", ("sigmoid_to_softmax",)),
                             ("loss", ("softmax_with_loss", "dice_loss", "bce_loss"))):
        module = types.ModuleType(f"paddlex.cv.nets.segmentation.model_utils.{name}")
        module.__dict__.update(dict.fromkeys(attributes))
        sys.modules[module.__name__] = module
    importlib.import_module("paddlex.cv.nets.hrnet")  # read as paddlex.cv.nets.hrnet.HRNet
    return importlib.import_module("paddlex.cv.nets.segmentation.hrnet")


def run_static(root: str, fuse_corners: bool, archive: dict[str, np.ndarray],
               image: np.ndarray) -> dict:
    """In a process with FLAGS_enable_pir_api=0: the program's persistable variables
    and its logits with ``archive`` set by variable name."""
    import paddle

    paddle.enable_static()
    seen = _install_fluid_stand_in(fuse_corners)
    network = _stub_paddlex_13(Path(root)).HRNet(NUM_CLASSES, mode="test", width=WIDTH)
    main, startup = paddle.static.Program(), paddle.static.Program()
    with paddle.static.program_guard(main, startup):
        x = paddle.static.data("image", list(image.shape), "float32")
        network.build_net({"image": x})
    (logits,) = fluid.run(main, startup, archive, {"image": image}, [seen["logits"]])
    return {"variables": fluid.variables(main), "logits": logits,
            "fuse_resizes": seen["fuse_resizes"]}


def build(fuse_upsample: str, archive: dict[str, np.ndarray] | None = None, seed: int = 0) -> dict:
    """pxcore's network with ``archive`` (by default random weights, batch norms
    calibrated, named as the archive names them) loaded through ``weight_aliases()``:
    its manifest parts, the archive, and its logits."""
    import paddle

    import pxcore
    from pxcore.testing.random_weights import calibrate_batch_norm, random_tensor
    from pxcore.weights import fit_state

    rng = np.random.default_rng(seed)
    image = rng.standard_normal(IMAGE).astype("float32")
    net = pxcore.create_model(PRESET, num_classes=NUM_CLASSES, fuse_upsample=fuse_upsample).net
    shapes = {k: [int(d) for d in t.shape] for k, t in net.state_dict().items()}
    legacy = net.weight_aliases()
    if archive is None:
        state = {k: random_tensor(rng, k, s) for k, s in shapes.items()}
        state = calibrate_batch_norm(net, state, image)
        archive = {name: state[key] for name, key in legacy.items()}
    fitted, _ = fit_state(net, archive, "the legacy archive")
    net.set_state_dict({k: paddle.to_tensor(v) for k, v in fitted.items()})
    net.eval()
    with paddle.no_grad():
        logits = net(paddle.to_tensor(image)).numpy()
    return {"shapes": shapes, "legacy": legacy, "archive": archive, "image": image,
            "logits": logits}


def _gap(a: np.ndarray, b: np.ndarray) -> float:
    """The largest difference relative to the reference's largest value."""
    return float(np.abs(a - b).max() / np.abs(b).max())


def verify(root: str, tool: str) -> dict:
    built = run_in_child(build, "bilinear")
    ours = {"bilinear": built,
            "bilinear_align_corners": run_in_child(build, "bilinear_align_corners", built["archive"])}
    assert built["legacy"] == ours["bilinear_align_corners"]["legacy"]
    static = {corners: run_in_child(run_static, root, corners, built["archive"], built["image"],
                                    env=LEGACY_STATIC)
              for corners in (False, True)}
    shapes = {name: built["shapes"][key] for name, key in built["legacy"].items()}
    for run in static.values():
        same_names(run["variables"], shapes, f"{PRESET}: the program's variables", "pxcore's names")
        assert run["fuse_resizes"] == FUSE_RESIZES, "the fusions' resizes were not all seen"
    paddlex, paddleseg = static[False]["logits"], static[True]["logits"]
    scale = float(np.abs(paddlex).max())
    assert scale > 1e-2 and np.isfinite(paddlex).all(), "degenerate logits"
    gaps = {}
    for mode, reference, label in (("bilinear", paddlex, "PaddleX 1.3"),
                                   ("bilinear_align_corners", paddleseg, "PaddleSeg legacy")):
        gaps[mode] = _gap(ours[mode]["logits"], reference)
        assert gaps[mode] < 1e-4, (
            f"{PRESET} ({mode}) differs from {label}'s program by {gaps[mode]:.3g} relative")
    between = _gap(paddleseg, paddlex)

    count = sum(int(np.prod(s)) for s in built["shapes"].values())
    source = (
        "pdparams: pxcore's state-dict keys and shapes (pxcore_hrnet.seg.HRNetSegmentation). "
        f"legacy: the persistable variables of {PADDLEX_STATIC} paddlex/cv/nets/segmentation/"
        f"hrnet.py HRNet({NUM_CLASSES}, width={WIDTH}) (as paddlex/cv/models/hrnet.py builds it, "
        "body paddlex/cv/nets/hrnet.py with feature_maps='stage4'), run in Paddle 3.3's legacy "
        "static mode: exactly these names, with pxcore's shapes; random weights (batch norms "
        "calibrated) set by variable name into it and loaded through weight_aliases() into "
        f"pxcore give the same logits ({IMAGE[2]}x{IMAGE[3]} px). PaddleSeg's legacy "
        "pdseg/models/modeling/hrnet.py, whose program saved the zoo's hrnet_w18_bn_cityscapes, "
        "sets the same names (read, not run); its one difference, corner-aligned resizes in the "
        "fusions, was run as PaddleX's program with those resizes so set, and matches pxcore's "
        f"fuse_upsample='bilinear_align_corners'. Written by {tool}.")
    notes = [
        "PaddleX 1.3 resizes the fusions' coarser branches with resize_bilinear(align_corners="
        "False, align_mode=1) (source = destination * in / out), PaddleSeg's legacy HRNet, which "
        "trained the archive, with align_corners=True; pxcore's default is PaddleX's "
        "(fuse_upsample='bilinear'), 'bilinear_align_corners' is PaddleSeg's. With the same "
        f"random weights (batch norms calibrated for PaddleX's) their logits differ by up to "
        f"{between:.3g} relative to the largest here ({IMAGE[2]}x{IMAGE[3]} px)",
        "the head resizes the branches and the logits with align_corners=True in both",
        "PaddleSeg 2.x's FCN with HRNet_W18 is another network and is not supported: its head's "
        "two 1x1 convs have biases, it resizes with half-pixel centres (align_corners=False) "
        "and pads its stride-2 convs 'same' by default",
        f"the zoo's 77.3 MB is the archive: {count:,} values of the network and one Momentum "
        "velocity per trainable parameter, 4 bytes each",
    ]
    manifest = {"model": PRESET, "num_classes": NUM_CLASSES, "source": source, "notes": notes,
                "pdparams": built["shapes"], "legacy": built["legacy"]}
    report = [f"{PRESET}: {len(built['legacy'])} tensors, {count:,} values",
              f"  PaddleX 1.3's program by variable name == pxcore through weight_aliases() "
              f"(to {gaps['bilinear']:.2g} relative, scale {scale:.3g})",
              "  PaddleSeg legacy's fusion resizes == pxcore fuse_upsample='bilinear_align_corners' "
              f"(to {gaps['bilinear_align_corners']:.2g})",
              f"  the two differ by {between:.3g} relative"]
    return {"manifest": manifest, "report": report}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paddlex-static", dest="paddlex_static", required=True,
                        help=f"a tree of {PADDLEX_STATIC} holding paddlex/cv/nets/")
    manifests.add_out_argument(parser, "hrnet")
    args = parser.parse_args(argv)
    result = verify(args.paddlex_static, tool="plugins/hrnet/tools/make_seg_layouts.py")
    manifests.publish(args.out, PRESET, result)
    return 0

