"""Write tests/layouts/<Model>.json, the weight layouts of the zoo's Xception41 and
Xception65 (the DeepLab variant), from the reference implementations, and verify them by
running those implementations.

Each manifest holds (format: pxcore/testing/layouts.py)

- "pdparams": the state-dict names and shapes of PaddleClas 2.6.0's
  ``model_zoo/xception_deeplab.py`` model (``Xception41_deeplab``,
  ``Xception65_deeplab``), which the zoo's dygraph .pdparams use;
- "legacy": {Paddle 1.x variable name: state-dict name}, the zoo's .tar archives
  (``xception_65/entry_flow/conv1/weights``,
  ``xception_65/middle_flow/block3/separable_conv2/pointwise/BatchNorm/moving_mean``,
  ``fc_weights``...). The names hold slashes: Paddle 1.x saved each variable to the
  file of that relative path, so an archive unpacks into nested directories;
- "paddlex_legacy": the names PaddleX 1.x's Xception classifiers give differently (their
  fc is ``weights`` and ``bias``), which ``weight_aliases()`` also maps.

How the Paddle 1.x names are established:

1. PaddleClas 2.6's model still sets every tensor's name through ``ParamAttr(name=...)``:
   each state-dict tensor's ``.name`` is its legacy name, read key by key.
2. The archives were saved by the static-graph code of PaddleClas's ``release/static``
   branch (``ppcls/modeling/architectures/xception_deeplab.py`` with ``model_libs.py``;
   that branch's README publishes the .tar files); PaddleX 1.x builds the same network
   (``paddlex/cv/nets/xception.py`` with ``segmentation/model_utils/libs.py``, branch
   ``release/1.3``), for its classifiers and as DeepLabv3+'s backbone. Both run here
   under a stand-in for ``paddle.fluid`` that records each variable a layer would create
   (name, shape), every conv's stride, dilation and padding, and every BatchNorm's
   epsilon and momentum. The static code's names and shapes must equal step 1's, in
   state-dict order; PaddleX's likewise but for the fc, whose names it gives
   ("paddlex_legacy").
3. The plugin's rule-made ``weight_aliases()`` must equal the two maps together; pxcore's
   state dict must equal PaddleClas's (names, order, shapes); every pxcore conv must
   have the recorded stride, dilation and padding at output strides 32, 16 and 8 (the
   DeepLab settings), and every BatchNorm the recorded epsilon and momentum.
4. Numerically, with random weights (BatchNorm statistics included) on a 64 px batch:
   PaddleClas's net loaded by legacy name and pxcore's loaded through
   ``weight_aliases()`` give the same logits, and so do both nets given the same
   .pdparams state. A swapped pair of same-shaped tensors fails here.

Needs paddlepaddle 3.x, pxcore with this plugin installed, and three references (nothing
else from PaddleClas is imported: the package is stubbed)::

    pip install --no-deps --target /work/ref paddleclas==2.6.0      # -> /work/ref/paddleclas/ppcls
    git clone https://github.com/PaddlePaddle/PaddleClas /tmp/PaddleClas   # release/static
    git clone https://github.com/PaddlePaddle/PaddleX /tmp/PaddleX         # release/1.3

    python -m reference.manifests xception --paddleclas /work/ref/paddleclas \\
        --paddleclas-repo /tmp/PaddleClas --paddlex-repo /tmp/PaddleX

(a bare clone does as well).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

from reference import fluid, manifests
from reference.history import git_tree
from reference.manifests import dumps
from reference.paddleclas import (
    add_paddleclas_argument,
    named_agreement,
    paddleclas_26,
    paddleclas_version,
)

MODELS = {"Xception41": 41, "Xception65": 65}
PADDLECLAS_FILE = "ppcls/arch/backbone/model_zoo/xception_deeplab.py"
STATIC_BRANCH = "release/static"
STATIC_FILES = {"model_libs.py": "ppcls/modeling/architectures/model_libs.py",
                "xception_deeplab.py": "ppcls/modeling/architectures/xception_deeplab.py"}
PADDLEX_BRANCH = "release/1.3"
PADDLEX_FILES = {"xception.py": "paddlex/cv/nets/xception.py",
                 "segmentation/model_utils/libs.py": "paddlex/cv/nets/segmentation/model_utils/libs.py"}
OUTPUT_STRIDES = (32, 16, 8)


# --- the references ---------------------------------------------------------------------

# --- running Paddle 1.x code under reference/fluid.py's recording stand-in ----------------

def record(package: Path, module_name: str, build) -> fluid.RecordingLayers:
    """Import ``package.module_name`` fresh (its name scope is module state) with the
    stand-in in place and build the net with ``build(module, image)``."""
    layers = fluid.RecordingLayers()
    with fluid.recording(layers):
        for name in [n for n in sys.modules if n == package.name or n.startswith(package.name + ".")]:
            del sys.modules[name]
        sys.path.insert(0, str(package.parent))
        try:
            build(importlib.import_module(f"{package.name}.{module_name}"), fluid.Var([-1, 3, 224, 224]))
        finally:
            sys.path.remove(str(package.parent))
    return layers


def static_build(depth: int, output_stride: int):
    def build(module, image):
        getattr(module, f"Xception{depth}_deeplab")().net(image, output_stride=output_stride,
                                                          class_dim=1000)
    return build


def paddlex_build(depth: int, output_stride: int):
    def build(module, image):
        module.Xception(num_classes=1000, layers=depth, output_stride=output_stride)(image)
    return build


# --- checks -----------------------------------------------------------------------------

def check_geometry(name: str, output_stride: int, recorded: fluid.RecordingLayers, label: str) -> None:
    """Every conv of pxcore's backbone at ``output_stride`` has the recorded stride,
    dilation and padding; every BatchNorm the recorded epsilon and momentum."""
    import paddle

    import pxcore

    with paddle.LazyGuard():
        backbone = pxcore.create_backbone(name, output_stride=output_stride)
    aliases = backbone.weight_aliases()
    layers = dict(backbone.named_sublayers())
    checked = 0
    for legacy, key in aliases.items():
        path, leaf = key.rsplit(".", 1)
        if legacy in recorded.convs:
            conv = layers[path]
            ours = (conv._stride[0], conv._dilation[0], conv._padding)
            assert ours == recorded.convs[legacy], (
                f"{name} at output stride {output_stride}: {key} has stride, dilation, padding "
                f"{ours}; {label} {legacy} {recorded.convs[legacy]}")
            checked += 1
        elif legacy in recorded.norms:
            norm = layers[path]
            ours = (norm._epsilon, norm._momentum)
            assert np.allclose(ours, recorded.norms[legacy]), (
                f"{name}: {key} has epsilon, momentum {ours}; {label} {recorded.norms[legacy]}")
            checked += 1
    assert checked == len(recorded.convs) + len(recorded.norms), (
        f"{name}: {label} has {len(recorded.convs)} convs and {len(recorded.norms)} BatchNorms, "
        f"{checked} were matched")


def build_manifest(name: str, depth: int, reference_module, static: fluid.RecordingLayers,
                   paddlex: fluid.RecordingLayers, provenance: dict) -> dict:
    import paddle

    import pxcore

    with paddle.utils.unique_name.guard():  # a ParamAttr name may exist once per guard
        reference = getattr(reference_module, f"{name}_deeplab")(class_num=1000)
    reference_state = reference.state_dict()
    pdparams = [(k, [int(d) for d in v.shape]) for k, v in reference_state.items()]
    legacy = {v.name: k for k, v in reference_state.items()}
    assert len(legacy) == len(reference_state), f"{name}: a legacy name is used twice"
    named_shapes = [(v.name, [int(d) for d in v.shape]) for v in reference_state.values()]
    assert static.params == named_shapes, (
        f"{name}: the static code creates other variables than PaddleClas 2.6 names: "
        f"{[pair for pair in zip(static.params, named_shapes, strict=False) if pair[0] != pair[1]][:3]}")
    # PaddleX 1.x: the same shapes in the same order; the names that differ are its own.
    assert [shape for _, shape in paddlex.params] == [shape for _, shape in named_shapes]
    paddlex_legacy = {px_name: key for (px_name, _), key in zip(paddlex.params, legacy.values(), strict=True)
                      if px_name not in legacy}
    assert all(key.startswith("_fc.") for key in paddlex_legacy.values()), (
        f"{name}: PaddleX 1.x names more than the classifier differently: {paddlex_legacy}")

    ours = pxcore.create_model(name, num_classes=1000).net
    assert [(k, [int(d) for d in v.shape]) for k, v in ours.state_dict().items()] == pdparams, (
        f"{name}: pxcore's state dict differs from PaddleClas 2.6's")
    aliases, expected = ours.weight_aliases(), {**legacy, **paddlex_legacy}
    assert aliases == expected, (f"{name}: weight_aliases() differs from the reference names: "
                                 f"{sorted(set(aliases.items()) ^ set(expected.items()))[:6]}")

    legacy_diff, pdparams_diff = named_agreement(name, reference, ours)

    source = (
        f"pdparams: the state dict (names, shapes) of {name}_deeplab(class_num=1000) in "
        f"PaddleClas {provenance['paddleclas']} {PADDLECLAS_FILE}. legacy: the ParamAttr names "
        "the same model sets, read tensor by tensor (tensor.name); the static-graph code of the "
        f"zoo's .tar archives (PaddleClas {STATIC_BRANCH} {', '.join(STATIC_FILES.values())}, "
        f"commit {provenance['static']}), run under a recording stand-in for paddle.fluid, "
        "creates exactly these names and shapes in state-dict order. paddlex_legacy: PaddleX 1.x "
        f"({PADDLEX_BRANCH} {', '.join(PADDLEX_FILES.values())}, commit {provenance['paddlex']}), "
        "run the same way, creates the same variables but names the classifier 'weights' and "
        "'bias'. Both references' convs (stride, dilation, padding) and BatchNorms (epsilon "
        "1e-3, momentum 0.99) equal pxcore's at output strides 32, 16 and 8. Checked with "
        "random weights (BatchNorm statistics included) on a 64px batch: PaddleClas's net "
        f"loaded by legacy name and pxcore's loaded through weight_aliases() agree to "
        f"{legacy_diff:.1e}, both nets on the same .pdparams state to {pdparams_diff:.1e}. "
        "Written by plugins/xception/tools/make_layouts.py."
    )
    return {"model": name, "num_classes": 1000, "source": source,
            "pdparams": dict(pdparams), "legacy": legacy, "paddlex_legacy": paddlex_legacy}



def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_paddleclas_argument(parser)
    parser.add_argument("--paddleclas-repo", type=Path, required=True,
                        help=f"a git clone of PaddleClas with its {STATIC_BRANCH} branch")
    parser.add_argument("--paddlex-repo", type=Path, required=True,
                        help=f"a git clone of PaddleX with its {PADDLEX_BRANCH} branch")
    manifests.add_out_argument(parser, "xception")
    args = parser.parse_args(argv)
    logging.getLogger("ppcls").setLevel(logging.ERROR)

    reference_module = paddleclas_26(args.paddleclas, PADDLECLAS_FILE.removeprefix("ppcls/arch/backbone/"))
    provenance = {"paddleclas": paddleclas_version(args.paddleclas)}
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="xception-refs-") as tmp:
        static_package, paddlex_package = Path(tmp) / "pc_static", Path(tmp) / "paddlex_13"
        provenance["static"] = git_tree(args.paddleclas_repo, STATIC_BRANCH, STATIC_FILES, static_package)
        provenance["paddlex"] = git_tree(args.paddlex_repo, PADDLEX_BRANCH, PADDLEX_FILES, paddlex_package)
        for name, depth in MODELS.items():
            for output_stride in OUTPUT_STRIDES:
                static = record(static_package, "xception_deeplab", static_build(depth, output_stride))
                paddlex = record(paddlex_package, "xception", paddlex_build(depth, output_stride))
                check_geometry(name, output_stride, static, "PaddleClas static")
                check_geometry(name, output_stride, paddlex, "PaddleX 1.x")
                if output_stride == 32:
                    manifest = build_manifest(name, depth, reference_module, static, paddlex, provenance)
            target = args.out / f"{name}.json"
            target.write_text(dumps(manifest), encoding="utf-8")
            print(f"{target}: {len(manifest['pdparams'])} tensors, "
                  f"{sum(math.prod(s) for s in manifest['pdparams'].values()):,} values")
    return 0

