"""PaddleX 1.3's segmentation networks (``paddlex/cv/nets/segmentation``) as the layout
mappings of the UNet and Fast-SCNN families use them: the static program built through
reference/fluid.py's stand-in (Paddle 1.x's resize semantics; the softmax's input and
each resize's output recorded with the name scope it was built in, so the logits and
auxiliary logits can be fetched), pxcore's network with random weights (batch norms
calibrated), PaddleSeg 2.x's network counted for the notes, and the comparisons.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import numpy as np

from pxcore.testing.random_weights import random_tensor

from . import fluid
from .tools import LEGACY_STATIC, run_in_child


def install(recorded: list) -> types.ModuleType:
    """The stand-in with fluid's resize semantics; ``softmax`` (its input) and each
    resize (its output) append (kind, name scope, variable) to ``recorded``."""
    def scope_now() -> str:
        libs = sys.modules.get("paddlex.cv.nets.segmentation.model_utils.libs")
        return libs.name_scope if libs is not None else ""

    return fluid.install(resize="fluid", record=lambda kind, variable: recorded.append(
        (kind, scope_now(), variable)))


def stub_paddlex_segmentation(root: Path) -> types.ModuleType:
    """PaddleX 1.3's ``cv/nets/segmentation`` package without its ``__init__`` (which
    imports every network) and with its losses stubbed (never called in test mode)."""
    nets = root / "paddlex" / "cv" / "nets"
    fluid.package("paddlex", root / "paddlex")
    fluid.package("paddlex.cv", root / "paddlex" / "cv")
    fluid.package("paddlex.cv.nets", nets)
    fluid.package("paddlex.cv.nets.segmentation", nets / "segmentation")
    fluid.package("paddlex.cv.nets.segmentation.model_utils", nets / "segmentation" / "model_utils")
    fluid.module("paddlex.cv.nets.segmentation.model_utils.loss", softmax_with_loss=None,
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
    install(recorded)
    stub_paddlex_segmentation(Path(root))
    cls = getattr(importlib.import_module(f"paddlex.cv.nets.segmentation.{module}"), factory)
    main, startup = paddle.static.Program(), paddle.static.Program()
    with paddle.static.program_guard(main, startup):
        data = paddle.static.data("image", [-1, *image.shape[1:]], "float32")
        cls(mode="test", **args).build_net({"image": data})
    results = fluid.run(main, startup, archive, {"image": image}, [v for _, _, v in recorded])
    outputs = [(kind, where, r) for (kind, where, _), r in zip(recorded, results, strict=True)]
    return {"variables": fluid.variables(main), "recorded": outputs}


def paddleseg_inventory(root: str, module: str, factory: str, args: dict) -> dict[str, list[int]]:
    """In its own process: the state-dict keys and shapes of PaddleSeg 2.x's network
    (``paddleseg/models/<module>.py``), imported with its registry and utilities stubbed
    and only the layer modules it uses (``models/layers/``: activation, layer_libs,
    pyramid_pool)."""
    base = Path(root) / "paddleseg"
    fluid.package("paddleseg", base)
    manager = fluid.module("paddleseg.cvlibs.manager",
                           MODELS=types.SimpleNamespace(add_component=lambda cls: cls))
    fluid.module("paddleseg.cvlibs", __path__=[], manager=manager)
    utils = fluid.module("paddleseg.utils", load_entire_model=None, logger=None)
    utils.utils = utils
    fluid.package("paddleseg.models", base / "models")
    layers = fluid.module("paddleseg.models.layers", __path__=[str(base / "models" / "layers")])
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


def static_run(root: str, *args) -> dict:
    """``run_static`` in a fresh process in legacy static mode."""
    return run_in_child(run_static, root, *args, env=LEGACY_STATIC)


def check_variables(label: str, variables: dict, shapes: dict, legacy: dict) -> None:
    expected = {name: shapes[key] for name, key in legacy.items()}
    assert variables == expected, (
        f"{label}: the static program's variables differ from the legacy names: only in the "
        f"program {sorted(set(variables) - set(expected))[:5]}, only in ours "
        f"{sorted(set(expected) - set(variables))[:5]}, shapes differ "
        f"{[k for k in expected if variables.get(k, expected[k]) != expected[k]][:5]}")
    assert sorted(legacy.values()) == sorted(shapes), f"{label}: not every tensor of ours is named once"
