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

1. builds the static program in Paddle 3's legacy static mode, through reference/fluid.py's
   ``paddle.fluid`` stand-in (``resize_bilinear`` to a size read from a tensor, as
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

PADDLEX_STATIC = "PaddleX 1.3.0 (commit 13e0678c)"
PRESET = "UNet"
NUM_CLASSES = 81
SHAPE = (2, 3, 64, 96)  # non-square: every resize has two different factors


def verify(root: str, upsample_mode: str) -> tuple[dict, list[str]]:
    image = np.random.default_rng(1).standard_normal(SHAPE).astype("float32")
    overrides = {"upsample_mode": upsample_mode}
    label = f"{PRESET} (upsample_mode={upsample_mode!r})"
    built = run_in_child(build, PRESET, overrides, image)
    static = static_run(root, "unet", "UNet",
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paddlex-static", dest="paddlex_static", required=True,
                        help=f"a tree of {PADDLEX_STATIC} holding paddlex/cv/nets/")
    parser.add_argument("--paddleseg", required=True,
                        help="PaddleSeg 2.8.0's root (holding paddleseg/), for the notes")
    manifests.add_out_argument(parser, "unet")
    args = parser.parse_args(argv)
    manifest, report = verify(args.paddlex_static, "bilinear")
    theirs = run_in_child(paddleseg_inventory, args.paddleseg, "unet",
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
    manifests.publish(args.out, PRESET, {"manifest": {k: manifest[k] for k in order},
                                         "report": report + deconv_report})
    return 0

