"""Write tests/layouts/HRNet_W18.json, the weight layouts of the zoo's HRNet_W18
(PaddleClas's HRNet_W18_C), from the reference implementations, and verify them by
running those implementations.

The manifest holds (format: pxcore/testing/layouts.py)

- "pdparams": the dygraph state-dict names and shapes of PaddleClas 2.6.0's
  ``HRNet_W18_C`` (legendary_models/hrnet.py), which the zoo's .pdparams files use;
- "legacy": {Paddle 1.x variable name: dygraph name}, the zoo's .tar archive
  (HRNet_W18_C_pretrained.tar). The Paddle 1.x names come from a model built with them:
  PaddleClas release/2.0's dygraph HRNet (ppcls/modeling/architectures/hrnet.py), whose
  ParamAttr names are those of the static-graph program the archive was saved from.
  Each of its tensors' ``.name`` is the legacy name; its structured key is paired with
  the 2.6 key in module order, and every pair must agree in shape and tensor kind.

Then the pairing is checked by behaviour: random weights, loaded by legacy name into the
named model and through the manifest into the 2.6 model, must give the same logits (a
swapped pair of same-shaped tensors, of which HRNet has hundreds, would not). With
pxcore-hrnet installed, the pxcore model is also loaded through its own
``weight_aliases()`` and must give the same logits as the reference, and its backbone
must return the four branches the reference's last stage returns.

Needs paddlepaddle 3.3 and two references (nothing else from PaddleClas is imported):

    pip install --no-deps --target /work/ref paddleclas==2.6.0     # -> /work/ref/paddleclas/ppcls
    git clone https://github.com/PaddlePaddle/PaddleClas && \\
      git -C PaddleClas archive 3384dcaa797647b629c3faf0d8c6428e45ab52a1 \\
        ppcls/modeling/architectures | tar -x -C /tmp/pc20          # release/2.0, 2021-04-12

    python -m reference.manifests hrnet \\
        --paddleclas /work/ref/paddleclas --paddleclas-2.0 /tmp/pc20

The model is built in a fresh process: dygraph Paddle refuses a second parameter with a
ParamAttr name already in use.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from reference.paddleclas import (
    legacy_names_by_order,
    load_module,
    paddleclas_26,
    run_with_paddleclas_20,
)

LAYOUTS = Path(__file__).resolve().parents[1] / "tests" / "layouts"
PADDLECLAS_20 = "PaddleClas release/2.0 (commit 3384dcaa, 2021-04-12)"

# Zoo model -> (PaddleClas factory, width). Only W18 is in the zoo.
REFERENCES = {"HRNet_W18": ("HRNet_W18_C", 18)}
MODULE_26 = "legendary_models/hrnet.py"
MODULE_20 = "hrnet.py"
# Where else the same Paddle 1.x names were read (code reading, not run: fluid is gone).
ALSO_AGREE = ("The static-graph programs of PaddleClas's first commit 9f39da88 "
              "(ppcls/modeling/architectures/hrnet.py, the code the archive was trained with) "
              "and PaddleX 1.x paddlex/cv/nets/hrnet.py set the same names (read, not run)")
IMAGE_SIZE = 64  # the smallest size every branch (stride 32) still has 2x2 pixels at


def _load(net, state_by_key: dict[str, np.ndarray]):
    import paddle

    net.set_state_dict({k: paddle.to_tensor(v) for k, v in state_by_key.items()})
    net.eval()
    return net


def _outputs(net, state_by_key: dict[str, np.ndarray], image: np.ndarray) -> np.ndarray:
    import paddle

    with paddle.no_grad():
        return _load(net, state_by_key)(paddle.to_tensor(image)).numpy()


def _reference_branches(reference, image: np.ndarray) -> list[np.ndarray]:
    """The reference's last-stage output (its four branches), through its own forward
    up to st4."""
    import paddle

    captured = []
    hook = reference.st4.register_forward_post_hook(lambda layer, inputs, out: captured.append(out))
    with paddle.no_grad():
        reference(paddle.to_tensor(image))
    hook.remove()
    return [t.numpy() for t in captured[0]]


def build_manifest(arch: str, paddleclas: str, paddleclas_20: str) -> dict:
    """Runs in its own process (see the module docstring)."""
    logging.getLogger("ppcls").setLevel(logging.ERROR)
    factory, width = REFERENCES[arch]
    reference = getattr(paddleclas_26(Path(paddleclas), "legendary_models/hrnet.py"), factory)(class_num=1000)
    path_20 = Path(paddleclas_20) / "ppcls" / "modeling" / "architectures" / MODULE_20
    named = getattr(load_module("paddleclas_20_hrnet", path_20), factory)(class_dim=1000)

    ours = reference.state_dict()
    theirs = named.state_dict()
    legacy = legacy_names_by_order(arch, reference, named)

    # Behaviour: the legacy archive read by name vs. read through the mapping.
    rng = np.random.default_rng(0)
    state = {}
    for key, tensor in ours.items():
        # Scaled so that the activations keep their size through ~300 convs: with unit
        # normal weights they overflow, and an overflow would hide any difference.
        fan_in = int(np.prod(tensor.shape[1:])) if len(tensor.shape) > 1 else 1
        value = rng.standard_normal(tensor.shape).astype("float32") / np.sqrt(fan_in)
        if key.endswith("_variance"):
            value = np.abs(value) + 0.5  # a variance must be positive
        state[key] = value.astype("float32")
    archive = {name: state[key] for name, key in legacy.items()}
    image = rng.standard_normal((2, 3, IMAGE_SIZE, IMAGE_SIZE)).astype("float32")
    expected = _outputs(reference, state, image)
    assert np.isfinite(expected).all() and np.abs(expected).max() > 1e-3, "degenerate logits"
    by_name = {k: archive[t.name] for k, t in theirs.items()}
    got = _outputs(named, by_name, image)
    assert np.allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max()), (
        f"{arch}: the model named by legacy names disagrees with the mapped 2.6 model "
        f"by {np.abs(got - expected).max():.3g}")
    count = sum(int(np.prod(t.shape)) for t in ours.values())
    report = [f"{arch}: {len(legacy)} tensors, {count:,} values; mapping verified "
              f"(logits agree to {np.abs(got - expected).max():.2g}, scale {np.abs(expected).max():.2g})"]

    try:
        import pxcore
        from pxcore.weights import fit_state
    except ImportError:
        report.append("  (pxcore not importable: the pxcore model was not compared)")
    else:
        model = pxcore.create_model(arch, num_classes=1000)
        assert list(model.net.state_dict()) == list(ours), f"{arch}: pxcore's keys or their order differ"
        assert model.net.weight_aliases() == legacy, f"{arch}: pxcore's weight_aliases() differ"
        fitted, _ = fit_state(model.net, archive, f"{arch} legacy archive")
        got = _outputs(model.net, fitted, image)
        assert np.allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max()), (
            f"{arch}: pxcore's model differs from PaddleClas 2.6 by {np.abs(got - expected).max():.3g}")
        backbone = _load(pxcore.create_backbone(arch), fitted)  # the classifier's tensors dropped
        import paddle

        with paddle.no_grad():
            levels = [t.numpy() for t in backbone(paddle.to_tensor(image))]
        for level, branch in zip(levels, _reference_branches(reference, image), strict=True):
            assert level.shape == branch.shape and np.allclose(level, branch, rtol=1e-4, atol=1e-5)
        report.append(f"  pxcore {type(model.net).__name__} loaded the archive through "
                      "weight_aliases() and matches PaddleClas 2.6's logits; its backbone "
                      "returns the reference's four st4 branches")

    named_source = f"{PADDLECLAS_20} ppcls/modeling/architectures/{MODULE_20}, {factory}()"
    source = (
        f"pdparams: PaddleClas 2.6.0 ppcls/arch/backbone/{MODULE_26}, {factory}(class_num=1000), "
        f"its state_dict names and shapes. legacy: the ParamAttr names (tensor.name) of "
        f"{named_source}, paired with the 2.6 keys in module order, shape and tensor kind "
        "checked for every pair; verified by behaviour: random weights loaded by legacy name "
        "into that model and through this mapping into the 2.6 model give the same logits. "
        f"{ALSO_AGREE}. Written by plugins/hrnet/tools/make_layouts.py."
    )
    manifest = {"model": arch, "num_classes": 1000, "source": source,
                "pdparams": {k: [int(d) for d in t.shape] for k, t in ours.items()},
                "legacy": legacy}
    return {"manifest": manifest, "report": report}


def main(argv: list[str] | None = None) -> int:
    return run_with_paddleclas_20(argv, build_manifest=build_manifest, models=list(REFERENCES),
                                  layouts=LAYOUTS, paddleclas_20=PADDLECLAS_20,
                                  description=__doc__.split("\n\n")[0])
