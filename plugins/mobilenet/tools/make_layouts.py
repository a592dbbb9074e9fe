"""Write tests/layouts/<Model>.json, the weight layouts of the zoo's MobileNets, from the
reference implementations, and verify them by running those implementations.

Each manifest holds (format: pxcore/testing/layouts.py)

- "pdparams": the dygraph state-dict names and shapes of PaddleClas 2.6.0's model, which
  the zoo's .pdparams files use;
- "legacy": {Paddle 1.x variable name: dygraph name}, the zoo's .tar archives. The
  Paddle 1.x names come from a model built with them: PaddleClas release/2.0's dygraph
  MobileNetV1/V3 (ParamAttr names equal to those of the fluid programs the archives
  were saved from), and PaddleClas 2.6's MobileNetV2, which still sets them. Each such
  tensor's ``.name`` is its legacy name; its structured key is paired with the 2.6 key
  in module order, and every pair must agree in shape and tensor kind.

Then the pairing is checked by behaviour: random weights, loaded by legacy name into the
named model and through the manifest into the 2.6 model, must give the same logits. A
swapped pair of same-shaped tensors would not. With pxcore-mobilenet installed, the
pxcore model is also loaded through its own ``weight_aliases()`` and must give the same
logits as the reference.

Needs paddlepaddle 3.3 and two references (nothing else from PaddleClas is imported):

    pip install --no-deps --target /work/ref paddleclas==2.6.0     # -> /work/ref/paddleclas/ppcls
    git clone https://github.com/PaddlePaddle/PaddleClas && \\
      git -C PaddleClas archive 3384dcaa797647b629c3faf0d8c6428e45ab52a1 \\
        ppcls/modeling/architectures | tar -x -C /tmp/pc20          # release/2.0, 2021-04-12

    python -m reference.manifests mobilenet \\
        --paddleclas /work/ref/paddleclas --paddleclas-2.0 /tmp/pc20

Each model is built in a fresh process: dygraph Paddle refuses a second parameter with a
ParamAttr name already in use, and the legacy models all name their stem "conv1".
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from reference.paddleclas import (
    legacy_names_by_order,
    load_module,
    outputs,
    paddleclas_26,
    run_with_paddleclas_20,
)

LAYOUTS = Path(__file__).resolve().parents[1] / "tests" / "layouts"
PADDLECLAS_20 = "PaddleClas release/2.0 (commit 3384dcaa, 2021-04-12)"

# Zoo architecture -> (2.6 module, 2.6 factory, source of legacy names, its module, factory).
REFERENCES = {
    "MobileNetV1": ("legendary_models/mobilenet_v1.py", "MobileNetV1",
                    "2.0", "mobilenet_v1.py", "MobileNetV1"),
    "MobileNetV2": ("model_zoo/mobilenet_v2.py", "MobileNetV2",
                    "2.6", "model_zoo/mobilenet_v2.py", "MobileNetV2"),
    "MobileNetV3_large": ("legendary_models/mobilenet_v3.py", "MobileNetV3_large_x1_0",
                          "2.0", "mobilenet_v3.py", "MobileNetV3_large_x1_0"),
    "MobileNetV3_small": ("legendary_models/mobilenet_v3.py", "MobileNetV3_small_x1_0",
                          "2.0", "mobilenet_v3.py", "MobileNetV3_small_x1_0"),
}
# Where else the same Paddle 1.x names were read (code reading, not run: fluid is gone).
ALSO_AGREE = ("The fluid programs of PaddleClas's first commit 9f39da88 "
              "(ppcls/modeling/architectures/{name}.py) and PaddleX 1.x paddlex/cv/nets/{name}.py "
              "set the same names (read, not run)")


def build_manifest(arch: str, paddleclas: str, paddleclas_20: str) -> dict:
    """Runs in its own process (see the module docstring)."""
    logging.getLogger("ppcls").setLevel(logging.ERROR)
    module_26, factory_26, legacy_from, legacy_module, legacy_factory = REFERENCES[arch]
    reference = getattr(paddleclas_26(Path(paddleclas), module_26), factory_26)(class_num=1000)
    if legacy_from == "2.6":
        named = reference
        named_source = f"PaddleClas 2.6.0 ppcls/arch/backbone/{legacy_module}, {legacy_factory}()"
    else:
        path = Path(paddleclas_20) / "ppcls" / "modeling" / "architectures" / legacy_module
        named = getattr(load_module(f"paddleclas_20_{arch}", path), legacy_factory)(class_dim=1000)
        named_source = f"{PADDLECLAS_20} ppcls/modeling/architectures/{legacy_module}, {legacy_factory}()"

    ours = reference.state_dict()
    theirs = named.state_dict()
    legacy = legacy_names_by_order(arch, reference, named)

    # Behaviour: the legacy archive read by name vs. read through the mapping.
    rng = np.random.default_rng(0)
    state = {}
    for key, tensor in ours.items():
        value = rng.standard_normal(tensor.shape).astype("float32")
        if key.endswith("_variance"):
            value = np.abs(value) + 0.5  # a variance must be positive
        state[key] = value
    archive = {name: state[key] for name, key in legacy.items()}
    image = rng.standard_normal((2, 3, 64, 64)).astype("float32")
    expected = outputs(reference, state, image)
    by_name = {k: archive[t.name] for k, t in theirs.items()}
    assert np.allclose(outputs(named, by_name, image), expected, rtol=1e-4, atol=1e-4), (
        f"{arch}: the model named by legacy names disagrees with the mapped 2.6 model")
    report = [f"{arch}: {len(legacy)} tensors, "
              f"{sum(int(np.prod(t.shape)) for t in ours.values()):,} values; mapping verified"]

    try:
        import pxcore
        from pxcore.weights import fit_state
    except ImportError:
        report.append("  (pxcore not importable: the pxcore model was not compared)")
    else:
        model = pxcore.create_model(arch, num_classes=1000)
        fitted, _ = fit_state(model.net, archive, f"{arch} legacy archive")
        got = outputs(model.net, fitted, image)
        assert np.allclose(got, expected, rtol=1e-4, atol=1e-4), (
            f"{arch}: pxcore's model differs from PaddleClas 2.6 by {np.abs(got - expected).max():.3g}")
        report.append(f"  pxcore {type(model.net).__name__} loaded the archive through "
                      "weight_aliases() and matches PaddleClas 2.6's logits")

    if named is reference:
        legacy_text = ("the ParamAttr names (tensor.name) the same 2.6 model still sets, read key "
                       "by key")
    else:
        legacy_text = (f"the ParamAttr names (tensor.name) of {named_source}, paired with the 2.6 "
                       "keys in module order, shape and tensor kind checked for every pair; "
                       "verified by behaviour: random weights loaded by legacy name into that "
                       "model and through this mapping into the 2.6 model give the same logits")
    source = (
        f"pdparams: PaddleClas 2.6.0 ppcls/arch/backbone/{module_26}, {factory_26}(class_num=1000), "
        f"its state_dict names and shapes. legacy: {legacy_text}. "
        f"{ALSO_AGREE.format(name=legacy_module.rsplit('/', 1)[-1][:-3])}. "
        "Written by plugins/mobilenet/tools/make_layouts.py."
    )
    manifest = {"model": arch, "num_classes": 1000, "source": source,
                "pdparams": {k: [int(d) for d in t.shape] for k, t in ours.items()},
                "legacy": legacy}
    return {"manifest": manifest, "report": report}


def main(argv: list[str] | None = None) -> int:
    return run_with_paddleclas_20(argv, build_manifest=build_manifest, models=list(REFERENCES),
                                  layouts=LAYOUTS, paddleclas_20=PADDLECLAS_20,
                                  description=__doc__.split("\n\n")[0])
