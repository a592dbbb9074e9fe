"""Write tests/layouts/<Model>.json, the weight layouts of the zoo's DenseNets, from the
reference implementations, and verify them by running those implementations.

Each manifest holds (format: pxcore/testing/layouts.py)

- "pdparams": the state-dict names and shapes of PaddleClas 2.6.0's
  ``model_zoo/densenet.py`` model, which the zoo's dygraph .pdparams use;
- "legacy": {Paddle 1.x variable name: state-dict name}, the zoo's .tar archives.

How the Paddle 1.x names are established:

1. PaddleClas 2.6's DenseNet still sets every tensor's name through
   ``ParamAttr(name=...)`` (``conv1_weights``, ``conv2_1_x1_bn_scale``, ``fc_offset``...):
   each state-dict tensor's ``.name`` is its legacy name, read key by key.
2. The archives were saved by the static-graph code of PaddleClas's ``release/static``
   branch (``ppcls/modeling/architectures/densenet.py``; that branch's README publishes
   the .tar files), and PaddleX 1.x loads them with ``paddlex/cv/nets/densenet.py``
   (``release/1.3``). Both run here under a stand-in for ``paddle.fluid`` that records
   each variable a layer would create (name, shape) in creation order; both records must
   equal step 1's names and shapes, in state-dict order.
3. The plugin's rule-made ``weight_aliases()`` must equal the map, and pxcore's state dict
   must equal PaddleClas's (names, order, shapes).
4. Numerically, with random weights (BatchNorm statistics included) on a 64 px batch:
   PaddleClas's net loaded by legacy name and pxcore's loaded through
   ``weight_aliases()`` give the same logits, and so do both nets given the same
   .pdparams state. A swapped pair of same-shaped tensors (a BatchNorm's mean and
   variance, say) fails here.

Needs paddlepaddle 3.x, pxcore with this plugin installed, and three references (nothing
else from PaddleClas is imported: the package is stubbed)::

    pip install --no-deps --target /work/ref paddleclas==2.6.0      # -> /work/ref/paddleclas/ppcls
    git clone https://github.com/PaddlePaddle/PaddleClas /tmp/PaddleClas   # release/static
    git clone https://github.com/PaddlePaddle/PaddleX /tmp/PaddleX         # release/1.3

    python -m reference.manifests densenet --paddleclas /work/ref/paddleclas \\
        --paddleclas-repo /tmp/PaddleClas --paddlex-repo /tmp/PaddleX

(a bare clone does as well). Manifests are written for the zoo's depths; 169 and 264,
which every reference also has, are checked the same way.
"""

from __future__ import annotations

import argparse
import logging
import math
import tempfile
from pathlib import Path

from reference import fluid, manifests
from reference.history import git_file, module_from_text
from reference.manifests import dumps
from reference.paddleclas import (
    add_paddleclas_argument,
    named_agreement,
    paddleclas_26,
    paddleclas_version,
)

MANIFEST_DEPTHS = (121, 161, 201)
CHECKED_ONLY = (169, 264)
PADDLECLAS_FILE = "ppcls/arch/backbone/model_zoo/densenet.py"
STATIC = ("release/static", "ppcls/modeling/architectures/densenet.py")
PADDLEX = ("release/1.3", "paddlex/cv/nets/densenet.py")


# --- the references ---------------------------------------------------------------------

# --- running Paddle 1.x code under reference/fluid.py's recording stand-in ----------------

def recorded_variables(text: str, label: str, build, workdir: Path) -> list[tuple[str, list[int]]]:
    """Run the Paddle 1.x file ``text``: ``build(module, image)`` builds the net."""
    layers = fluid.RecordingLayers()
    with fluid.recording(layers):
        build(module_from_text(text, label, workdir), fluid.Var([-1, 3, 224, 224]))
    return layers.params


def _static_build(depth):
    return lambda module, image: getattr(module, f"DenseNet{depth}")().net(image, class_dim=1000)


def _paddlex_build(depth):
    return lambda module, image: module.DenseNet(layers=depth, num_classes=1000)(image)


# --- one architecture -------------------------------------------------------------------

def build_manifest(depth: int, reference_module, recorded: dict[str, list], provenance: dict) -> dict:
    import paddle

    import pxcore

    name = f"DenseNet{depth}"
    with paddle.utils.unique_name.guard():  # a ParamAttr name may exist once per guard
        reference = getattr(reference_module, name)(class_num=1000)
    reference_state = reference.state_dict()
    pdparams = [(k, [int(d) for d in v.shape]) for k, v in reference_state.items()]
    legacy = {v.name: k for k, v in reference_state.items()}
    assert len(legacy) == len(reference_state), f"{name}: a legacy name is used twice"
    named_shapes = [(v.name, [int(d) for d in v.shape]) for v in reference_state.values()]
    for source, variables in recorded.items():
        assert variables == named_shapes, (
            f"{name}: {source} creates other variables than PaddleClas 2.6 names: "
            f"{[pair for pair in zip(variables, named_shapes, strict=False) if pair[0] != pair[1]][:3]}")

    if name in pxcore.list_models():
        ours = pxcore.create_model(name, num_classes=1000).net
    else:
        from pxcore_densenet.densenet import DenseNetClassifier

        ours = DenseNetClassifier(depth=depth, num_classes=1000)
    assert [(k, [int(d) for d in v.shape]) for k, v in ours.state_dict().items()] == pdparams, (
        f"{name}: pxcore's state dict differs from PaddleClas 2.6's")
    aliases = ours.weight_aliases()
    assert aliases == legacy, (f"{name}: weight_aliases() differs from the reference names: "
                               f"{sorted(set(aliases.items()) ^ set(legacy.items()))[:6]}")

    legacy_diff, pdparams_diff = named_agreement(name, reference, ours)

    source = (
        f"pdparams: the state dict (names, shapes) of {name}(class_num=1000) in PaddleClas "
        f"{provenance['paddleclas']} {PADDLECLAS_FILE}. legacy: the ParamAttr names the same "
        "model sets, read tensor by tensor (tensor.name); the static-graph code of the zoo's "
        f".tar archives (PaddleClas {STATIC[0]} {STATIC[1]}, commit {provenance['static']}) "
        f"and PaddleX 1.x ({PADDLEX[0]} {PADDLEX[1]}, commit {provenance['paddlex']}), run "
        "under a recording stand-in for paddle.fluid, create exactly these names and shapes in "
        "state-dict order. Checked with random weights (BatchNorm statistics included) on a "
        "64px batch: PaddleClas's net loaded by legacy name and pxcore's loaded through "
        f"weight_aliases() agree to {legacy_diff:.1e}, both nets on the same .pdparams state "
        f"to {pdparams_diff:.1e}. Written by plugins/densenet/tools/make_layouts.py."
    )
    return {"model": name, "num_classes": 1000, "source": source,
            "pdparams": dict(pdparams), "legacy": legacy}



def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_paddleclas_argument(parser)
    parser.add_argument("--paddleclas-repo", type=Path, required=True,
                        help=f"a git clone of PaddleClas with its {STATIC[0]} branch")
    parser.add_argument("--paddlex-repo", type=Path, required=True,
                        help=f"a git clone of PaddleX with its {PADDLEX[0]} branch")
    manifests.add_out_argument(parser, "densenet")
    args = parser.parse_args(argv)
    logging.getLogger("ppcls").setLevel(logging.ERROR)

    reference_module = paddleclas_26(args.paddleclas, PADDLECLAS_FILE.removeprefix("ppcls/arch/backbone/"))
    provenance = {"paddleclas": paddleclas_version(args.paddleclas)}
    static_text, provenance["static"] = git_file(args.paddleclas_repo, *STATIC)
    paddlex_text, provenance["paddlex"] = git_file(args.paddlex_repo, *PADDLEX)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="densenet-refs-") as tmp:
        for depth in MANIFEST_DEPTHS + CHECKED_ONLY:
            recorded = {
                "the static code": recorded_variables(static_text, f"static_densenet_{depth}",
                                                      _static_build(depth), Path(tmp)),
                "PaddleX 1.x": recorded_variables(paddlex_text, f"paddlex_densenet_{depth}",
                                                  _paddlex_build(depth), Path(tmp)),
            }
            manifest = build_manifest(depth, reference_module, recorded, provenance)
            summary = (f"{len(manifest['pdparams'])} tensors, "
                       f"{sum(math.prod(s) for s in manifest['pdparams'].values()):,} values")
            if depth in CHECKED_ONLY:
                print(f"DenseNet{depth}: checked, {summary}")
                continue
            target = args.out / f"DenseNet{depth}.json"
            target.write_text(dumps(manifest), encoding="utf-8")
            print(f"{target}: {summary}")
    return 0

