"""Writing a plugin's weight layouts from PaddleClas's own implementations, and checking
them by running those implementations (the harness behind the PaddleClas families'
mappings, plugins/<family>/tools/make_layouts.py: ``python -m reference.manifests
FAMILY --paddleclas ... --paddleclas-static ...``). For each model it

- reads the manifest from PaddleClas 2.6.0's model: its state-dict names and shapes (the
  dygraph .pdparams), and the ``ParamAttr`` name each tensor was built with, which is its
  Paddle 1.x variable name (the zoo's .tar archives);
- runs PaddleClas's static-graph code (branch release/static, the Paddle 1.x programs the
  archives were saved from) in Paddle 3's legacy static mode, through reference/fluid.py's
  stand-in for the removed ``paddle.fluid`` API: its variables must be exactly the
  manifest's legacy names and shapes;
- requires the same logits from random weights (batch-norm statistics calibrated, so a
  misplaced tensor anywhere shows) set by key into PaddleClas 2.6, by key into pxcore's
  model, through ``weight_aliases()`` into pxcore's model, and by variable name into the
  Paddle 1.x program.

Each reference runs in a fresh process: dygraph Paddle refuses a second parameter with
a ParamAttr name already in use, and the static program needs FLAGS_enable_pir_api=0
set before Paddle starts. Needs paddlepaddle 3.3, pxcore with the family's plugin, and
the two PaddleClas trees (nothing else from PaddleClas is imported):

    pip install --no-deps --target /work/ref paddleclas==2.6.0     # -> /work/ref/paddleclas/ppcls
    git clone https://github.com/PaddlePaddle/PaddleClas && \\
      git -C PaddleClas archive fc43c9140acd9066a58671bc9f89dc97c75963ad \\
        ppcls/modeling/architectures | tar -x -C /tmp/pcstatic      # release/static, 2022-06-21

    python -m reference.manifests FAMILY \\
        --paddleclas /work/ref/paddleclas --paddleclas-static /tmp/pcstatic
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import types
from pathlib import Path
from typing import NamedTuple

import numpy as np

from pxcore.testing.random_weights import calibrate_batch_norm, random_tensor

from . import fluid
from .loader import load_module
from .manifests import publish
from .tools import LEGACY_STATIC, run_in_child

PADDLECLAS_STATIC = "PaddleClas release/static (commit fc43c914, 2022-06-21)"


class Reference(NamedTuple):
    """Where a zoo model lives in the two PaddleClas trees, and its input size."""

    module_26: str  # under ppcls/arch/backbone/ of PaddleClas 2.6, e.g. "model_zoo/alexnet.py"
    factory_26: str
    module_static: str  # under ppcls/modeling/architectures/ of release/static
    factory_static: str
    size: int


def add_paddleclas_argument(parser) -> None:
    """``--paddleclas``: PaddleClas 2.6.0's root, as the tools all take it."""
    parser.add_argument("--paddleclas", type=Path, required=True,
                        help="PaddleClas 2.6.0's root (the directory holding ppcls/; "
                             "python -m reference.install paddleclas puts it in .reference/)")


def paddleclas_version(root: Path) -> str:
    """The version the PaddleClas tree at ``root`` says it is (its version.txt)."""
    version = Path(root) / "version.txt"
    return version.read_text().strip() if version.is_file() else "2.6"


def paddleclas_26(root: Path, relative: str) -> types.ModuleType:
    """One backbone module of PaddleClas 2.6 (``relative`` under ppcls/arch/backbone/)
    without importing ppcls, whose __init__ pulls in every model and their dependencies:
    the packages stubbed, the pretrained-weights helper stubbed (only used for
    pretrained=True), a plain logger, and the two helper modules the legendary models
    import loaded from their files."""
    backbone = Path(root) / "ppcls" / "arch" / "backbone"
    for package in ("ppcls", "ppcls.utils", "ppcls.arch", "ppcls.arch.backbone",
                    "ppcls.arch.backbone.base", "ppcls.arch.backbone.legendary_models",
                    "ppcls.arch.backbone.model_zoo"):
        if package not in sys.modules:
            module = types.ModuleType(package)
            # the real folder, so subpackages (legendary resnet's base.dbb) load from it
            module.__path__ = [str(Path(root, *package.split(".")))]
            sys.modules[package] = module
    sys.modules["ppcls.utils"].logger = logging.getLogger("ppcls")
    save_load = types.ModuleType("ppcls.utils.save_load")
    save_load.load_dygraph_pretrain = None
    sys.modules["ppcls.utils.save_load"] = save_load
    load_module("ppcls.arch.backbone.base.theseus_layer", backbone / "base" / "theseus_layer.py")
    load_module("ppcls.arch.backbone.legendary_models.custom_devices_layers",
                backbone / "legendary_models" / "custom_devices_layers.py")
    name = "ppcls.arch.backbone." + relative.removesuffix(".py").replace("/", ".")
    return load_module(name, backbone / relative)


def _static_program(paddleclas_static: Path, module: str, factory: str, size: int):
    """The release/static network's program, its startup program and its logits."""
    import paddle

    paddle.enable_static()
    fluid.install()
    path = paddleclas_static / "ppcls" / "modeling" / "architectures" / module
    network = getattr(load_module(f"paddleclas_static_{module[:-3]}", path), factory)()
    main, startup = paddle.static.Program(), paddle.static.Program()
    with paddle.static.program_guard(main, startup):
        image = paddle.static.data("image", [-1, 3, size, size], "float32")
        logits = network.net(image, class_dim=1000)
    return main, startup, logits


def run_static_reference(paddleclas_static: str, reference: Reference, archive: dict[str, np.ndarray],
                         image: np.ndarray) -> dict:
    """In a process with FLAGS_enable_pir_api=0: the Paddle 1.x variables and the logits
    of the program with ``archive`` set by variable name."""

    _, _, module, factory, size = reference
    main, startup, logits = _static_program(Path(paddleclas_static), module, factory, size)
    (out,) = fluid.run(main, startup, archive, {"image": image}, [logits])
    return {"variables": fluid.variables(main), "logits": out}


def legacy_names_by_order(arch: str, reference, named) -> dict[str, str]:
    """{static variable name: 2.6 key}: PaddleClas 2.0's network ``named`` (whose tensors
    carry the static names) paired with 2.6's ``reference`` tensor by tensor, in order;
    every pair must have one shape and one kind (weight, bias, mean...)."""
    ours, theirs = reference.state_dict(), named.state_dict()
    assert len(ours) == len(theirs), f"{arch}: {len(ours)} tensors in 2.6, {len(theirs)} named"
    legacy = {}
    for (key, tensor), (named_key, named_tensor) in zip(ours.items(), theirs.items(), strict=True):
        assert list(tensor.shape) == list(named_tensor.shape), (
            f"{arch}: {key} {tensor.shape} pairs with {named_key} {named_tensor.shape}")
        assert key.rsplit(".", 1)[-1] == named_key.rsplit(".", 1)[-1], (
            f"{arch}: {key} pairs with {named_key}, another kind of tensor")
        assert named_tensor.name not in legacy, f"{arch}: legacy name {named_tensor.name} twice"
        legacy[named_tensor.name] = key
    return legacy


def random_named_state(named_shapes, seed: int) -> dict[str, np.ndarray]:
    """Small random values for (name, shape) pairs read from Paddle 1.x code (no network
    to calibrate against); batch-norm variances positive."""
    rng = np.random.default_rng(seed)
    state = {}
    for name, shape in named_shapes:
        value = (rng.standard_normal(shape) * 0.2).astype("float32")
        state[name] = np.abs(value) + 0.5 if name.endswith("variance") else value
    return state


def named_agreement(name: str, reference, ours) -> tuple[float, float]:
    """How far pxcore's ``ours`` is from PaddleClas 2.6's ``reference`` (largest absolute
    logit difference on a 64 px batch): loaded through pxcore's rules from random weights
    under the reference's Paddle 1.x names, and with one random .pdparams state set into
    both by key. Each must stay under 1e-4 (float32 in another order; a misplaced tensor
    is far off)."""
    from pxcore.weights import fit_state

    reference_state = reference.state_dict()
    named = [(v.name, [int(d) for d in v.shape]) for v in reference_state.values()]
    pdparams = [(k, [int(d) for d in v.shape]) for k, v in reference_state.items()]
    image = np.random.default_rng(1).standard_normal((2, 3, 64, 64)).astype("float32")
    archive = random_named_state(named, seed=2)
    expected = outputs(reference, {k: archive[v.name] for k, v in reference_state.items()}, image)
    fitted, _ = fit_state(ours, archive, f"{name} random legacy archive")
    legacy_diff = float(np.abs(outputs(ours, fitted, image) - expected).max())
    assert legacy_diff < 1e-4, f"{name}: loaded through the legacy names, logits differ by {legacy_diff}"
    state = random_named_state(pdparams, seed=3)
    pdparams_diff = float(np.abs(outputs(ours, state, image) - outputs(reference, state, image)).max())
    assert pdparams_diff < 1e-4, f"{name}: on the same .pdparams state, logits differ by {pdparams_diff}"
    return legacy_diff, pdparams_diff


def outputs(net, state_by_key: dict[str, np.ndarray], image: np.ndarray) -> np.ndarray:
    """``net``'s eval-mode output for ``image`` with ``state_by_key`` set."""
    import paddle

    net.set_state_dict({k: paddle.to_tensor(v) for k, v in state_by_key.items()})
    net.eval()
    with paddle.no_grad():
        return net(paddle.to_tensor(image)).numpy()


def build_manifest(arch: str, reference: Reference, paddleclas: str) -> dict:
    """Runs in its own process (see the module docstring): the manifest from PaddleClas
    2.6, random weights, and the logits of PaddleClas 2.6 and of pxcore's model."""
    import pxcore
    from pxcore.weights import fit_state

    logging.getLogger("ppcls").setLevel(logging.ERROR)
    module_26, factory_26, _, _, size = reference
    reference = getattr(paddleclas_26(Path(paddleclas), module_26), factory_26)(class_num=1000)
    state_dict = reference.state_dict()
    legacy = {}
    for key, tensor in state_dict.items():
        # a name Paddle made up (conv2d_0.w_0, ...) would mean the reference set none
        assert not re.fullmatch(r"\w+_\d+\.(w|b)_\d+", tensor.name), f"{arch}: {key} is unnamed"
        assert tensor.name not in legacy, f"{arch}: legacy name {tensor.name} twice"
        legacy[tensor.name] = key

    rng = np.random.default_rng(0)
    state = {key: random_tensor(rng, key, [int(d) for d in t.shape]) for key, t in state_dict.items()}
    image = rng.standard_normal((2, 3, size, size)).astype("float32")
    state = calibrate_batch_norm(reference, state, image)
    expected = outputs(reference, state, image)

    model = pxcore.create_model(arch, num_classes=1000)
    by_key = outputs(model.net, state, image)
    archive = {name: state[key] for name, key in legacy.items()}
    fitted, _ = fit_state(model.net, archive, f"{arch} legacy archive")
    by_alias = outputs(model.net, fitted, image)
    assert model.net.weight_aliases() == legacy, f"{arch}: weight_aliases() differs from 2.6's names"
    manifest = {
        "model": arch, "num_classes": 1000,
        "pdparams": {k: [int(d) for d in t.shape] for k, t in state_dict.items()},
        "legacy": legacy,
    }
    return {"manifest": manifest, "archive": archive, "image": image, "expected": expected,
            "by_key": by_key, "by_alias": by_alias}


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return np.allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())


def verify(arch: str, reference: Reference, paddleclas: str, paddleclas_static: str, *,
           also_agree: str, tool: str) -> dict:
    built = run_in_child(build_manifest, arch, reference, paddleclas)
    manifest = built["manifest"]
    assert _close(built["by_key"], built["expected"]), f"{arch}: pxcore differs from PaddleClas 2.6"
    assert _close(built["by_alias"], built["expected"]), f"{arch}: weight_aliases() misplaces tensors"

    static = run_in_child(run_static_reference, paddleclas_static, reference, built["archive"],
                          built["image"], env=LEGACY_STATIC)
    shapes = {name: manifest["pdparams"][key] for name, key in manifest["legacy"].items()}
    assert static["variables"] == shapes, (
        f"{arch}: the Paddle 1.x program's variables differ from the manifest: "
        f"only in the program {sorted(set(static['variables']) - set(shapes))[:5]}, "
        f"only in the manifest {sorted(set(shapes) - set(static['variables']))[:5]}")
    assert _close(static["logits"], built["expected"]), (
        f"{arch}: the Paddle 1.x program, given the weights by name, differs from PaddleClas 2.6 "
        f"by {np.abs(static['logits'] - built['expected']).max():.3g}")

    module_26, factory_26, module_static, factory_static, size = reference
    manifest["source"] = (
        f"pdparams: PaddleClas 2.6.0 ppcls/arch/backbone/{module_26}, {factory_26}(class_num=1000), "
        "its state_dict names and shapes. legacy: the ParamAttr names (tensor.name) the same 2.6 "
        f"model sets, read key by key; verified against {PADDLECLAS_STATIC} "
        f"ppcls/modeling/architectures/{module_static}, {factory_static}().net(), the Paddle 1.x "
        "program the archives were saved from, run in Paddle 3.3's legacy static mode: its "
        "variables are exactly these names and shapes, and random weights set by variable name "
        "into it, by key into PaddleClas 2.6 and through weight_aliases() into pxcore give the "
        f"same logits ({size} px). {also_agree}. Written by {tool}."
    )
    report = [f"{arch}: {len(manifest['legacy'])} tensors, "
              f"{sum(int(np.prod(s)) for s in manifest['pdparams'].values()):,} values",
              "  PaddleClas 2.6 == pxcore by key == pxcore through weight_aliases() "
              "== the Paddle 1.x program by variable name"]
    return {"manifest": {k: manifest[k] for k in ("model", "num_classes", "source", "pdparams", "legacy")},
            "report": report}


def run(argv: list[str] | None, *, references: dict[str, Reference], also_agree: str,
         layouts: Path, tool: str, description: str) -> int:
    """The command line of a PaddleClas family's mapping (its ``references``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--paddleclas", required=True,
                        help="PaddleClas 2.6.0's root (the directory holding ppcls/)")
    parser.add_argument("--paddleclas-static", dest="paddleclas_static", required=True,
                        help=f"a tree of {PADDLECLAS_STATIC} holding ppcls/modeling/architectures/")
    parser.add_argument("--out", type=Path, default=layouts, help="the folder to write to")
    parser.add_argument("models", nargs="*", default=list(references))
    args = parser.parse_args(argv)
    for arch in args.models:
        result = verify(arch, references[arch], args.paddleclas, args.paddleclas_static,
                        also_agree=also_agree, tool=tool)
        publish(args.out, arch, result)
    return 0


def run_with_paddleclas_20(argv: list[str] | None, *, build_manifest, models: list[str], layouts: Path,
                           paddleclas_20: str, description: str) -> int:
    """The command line of a mapping whose legacy names come from PaddleClas 2.6 or a
    PaddleClas 2.0 tree (MobileNet, HRNet): ``build_manifest(model, paddleclas,
    paddleclas_20)`` runs in a fresh process per model and returns the manifest and a
    report."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--paddleclas", required=True,
                        help="PaddleClas 2.6.0's root (the directory holding ppcls/)")
    parser.add_argument("--paddleclas-2.0", dest="paddleclas_20", required=True,
                        help=f"a tree of {paddleclas_20} holding ppcls/modeling/architectures/")
    parser.add_argument("--out", type=Path, default=layouts, help="the folder to write to")
    parser.add_argument("models", nargs="*", default=models)
    args = parser.parse_args(argv)
    for model in args.models:
        result = run_in_child(build_manifest, model, args.paddleclas, args.paddleclas_20)
        publish(args.out, model, result)
    return 0
