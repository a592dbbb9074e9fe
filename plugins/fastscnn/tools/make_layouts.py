"""Write tests/layouts/Fast-SCNN.json, the weight layout of the zoo's Fast-SCNN row
(PaddleSeg's ``fast_scnn_cityscape.tar``, 19 classes), by running PaddleX 1.3's own
static network against pxcore's.

The manifest (format: pxcore/testing/layouts.py) holds

- "pdparams": pxcore's state-dict keys and shapes (the preset: the auxiliary head on
  the higher-resolution branch, ``multi_loss_weight`` [1.0, 0.4]);
- "legacy": {Paddle 1.x static variable name: our key}: every variable of the program
  PaddleX 1.3's ``FastSCNN`` (``paddlex/cv/nets/segmentation/fast_scnn.py``, as
  PaddleSeg's legacy ``fast_scnn.py``) builds with that ``multi_loss_weight``;
- "notes": what else was measured.

With random weights (batch-norm statistics calibrated on the input) the tool builds the
static program through reference/paddlex_segmentation.py (reference/fluid.py's
``paddle.fluid`` stand-in with Paddle 1.x's resize semantics), requires its persistable variables to be exactly the
manifest's legacy names and shapes, and with the weights set by variable name its
logits (the softmax's input) and its auxiliary logits (the resize in scope
``aux_layer_higher/``) to equal pxcore's, by key and through ``weight_aliases()``. The
same is checked for ``multi_loss_weight`` [1.0] (PaddleX's default, no auxiliary head)
and [1.0, 0.4, 0.16] (a second auxiliary head on the lower branch).

PaddleSeg 2.x's FastSCNN (paddleseg 2.8 ``models/fast_scnn.py``) is not the same
network; its checkpoints are not taken. The tool builds it through reference/paddlex_segmentation.py's
helper and counts its tensors for the manifest's notes.

Needs what the UNet mapping needs:

    python -m reference.manifests fastscnn --paddlex-static /tmp/pdx13 --paddleseg /work/refseg
"""

from __future__ import annotations

import argparse

import numpy as np

from reference import manifests
from reference.paddlex_segmentation import (
    build,
    check_variables,
    close,
    describe_2x,
    gap,
    paddleseg_inventory,
    static_run,
)
from reference.tools import run_in_child

PRESET = "Fast-SCNN"
NUM_CLASSES = 19
SHAPE = (2, 3, 64, 96)
WEIGHTS = {"preset": [1.0, 0.4], "no aux": [1.0], "two aux": [1.0, 0.4, 0.16]}


def verify(root: str, weights: list[float]) -> tuple[dict, str]:
    image = np.random.default_rng(1).standard_normal(SHAPE).astype("float32")
    label = f"{PRESET} (multi_loss_weight={weights})"
    built = run_in_child(build, PRESET, {"multi_loss_weight": weights}, image)
    static = static_run(root, "fast_scnn", "FastSCNN",
                        {"num_classes": NUM_CLASSES, "multi_loss_weight": weights}, built["archive"], image)
    check_variables(label, static["variables"], built["shapes"], built["legacy"])
    recorded = static["recorded"]
    theirs = [next(v for kind, _, v in recorded if kind == "softmax")]
    for scope in ("aux_layer_higher/", "aux_layer_lower/")[:len(weights) - 1]:
        theirs.append(next(v for kind, where, v in recorded if kind == "resize" and where == scope))
    ours, by_alias = built["ours"], built["by_alias"]
    assert len(ours) == len(theirs), f"{label}: {len(ours)} outputs, the reference {len(theirs)}"
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert close(a, b), f"{label}: output {i} differs from the static program by {gap(a, b):.3g}"
        assert close(by_alias[i], a), f"{label}: weight_aliases() misplaces tensors"
    worst = max(gap(a, b) for a, b in zip(ours, theirs, strict=True))
    report = (f"{label}: {len(built['shapes'])} tensors, "
              f"{sum(int(np.prod(s)) for s in built['shapes'].values()):,} values; static program by "
              f"variable name == pxcore == pxcore through weight_aliases(), {len(ours)} outputs "
              f"(largest relative gap {worst:.2g})")
    manifest = {"model": PRESET, "num_classes": NUM_CLASSES, "pdparams": built["shapes"],
                "legacy": built["legacy"]}
    return manifest, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paddlex-static", dest="paddlex_static", required=True,
                        help="a tree of PaddleX 1.3.0 (commit 13e0678c) holding paddlex/cv/nets/")
    parser.add_argument("--paddleseg", required=True,
                        help="PaddleSeg 2.8.0's root (holding paddleseg/), for the notes")
    manifests.add_out_argument(parser, "fastscnn")
    args = parser.parse_args(argv)
    reports = []
    theirs = run_in_child(paddleseg_inventory, args.paddleseg, "fast_scnn", "FastSCNN", {"num_classes": NUM_CLASSES})
    for key, weights in WEIGHTS.items():
        manifest_, report = verify(args.paddlex_static, weights)
        reports.append(report)
        if key == "preset":
            manifest = manifest_
    manifest["source"] = (
        "pdparams: pxcore's state-dict keys and shapes. legacy: the persistable variables of "
        "the test-mode program PaddleX 1.3.0 (commit 13e0678c)'s paddlex/cv/nets/segmentation/"
        "fast_scnn.py FastSCNN builds (num_classes 19, multi_loss_weight [1.0, 0.4]; PaddleSeg "
        "legacy's fast_scnn.py names them alike), run in Paddle 3.3's legacy static mode: "
        "exactly these names and shapes. Random weights set by variable name into it and by "
        "key, and through weight_aliases(), into pxcore give the same logits and auxiliary "
        f"logits ({SHAPE[2]}x{SHAPE[3]} images). Written by plugins/fastscnn/tools/make_layouts.py.")
    manifest["notes"] = [
        "multi_loss_weight [1.0] (PaddleX's default: no aux_layer_higher/*) and [1.0, 0.4, 0.16] "
        "(also aux_layer_lower/*) were checked the same way; a network built without an "
        "auxiliary head drops the archive's aux_layer_* tensors on loading (unused_prefixes).",
        "the zoo's fast_scnn_cityscape.tar (9.8 MB, uncompressed) matches these tensors with a "
        "momentum velocity for each trainable one in Paddle 1.x's per-variable files and tar "
        "headers: 9.82 MB estimated with the higher-branch auxiliary head, 9.66 MB without, "
        "10.13 MB with both; hence the preset's [1.0, 0.4].",
        "PaddleSeg 2.x's FastSCNN (paddleseg 2.8 models/fast_scnn.py) is not this network: its "
        "fusion's first conv is a 3x3 depthwise conv (1x1 dense here), its ConvBNReLU convs and "
        "pyramid-pooling convs carry biases, its separable convs have no ReLU after the "
        "depthwise batch norm, its pyramid pooling ends in a 3x3 conv (1x1 here), and it "
        "resizes with half-pixel centres; its checkpoints are not supported (no 2.x names). "
        + describe_2x("PaddleSeg 2.8's FastSCNN(num_classes=19), auxiliary head included",
                           theirs, manifest["pdparams"]) + ".",
    ]
    order = ("model", "num_classes", "source", "notes", "pdparams", "legacy")
    manifests.publish(args.out, PRESET, {"manifest": {k: manifest[k] for k in order}, "report": reports})
    return 0

