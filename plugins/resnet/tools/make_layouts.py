"""Write the weight-layout manifests in tests/layouts/ from the reference implementations.

What it needs:

- PaddleClas 2.6.0, for the dygraph names and shapes (``legendary_models/resnet.py``),
  unpacked where pip puts it (``python -m reference.install paddleclas`` does)::

      pip install --no-deps --target /work/ref paddleclas==2.6.0   # -> /work/ref/paddleclas/ppcls

- a git clone of PaddleClas with its ``release/2.1`` and ``release/static`` branches, for
  the Paddle 1.x variable names::

      git clone https://github.com/PaddlePaddle/PaddleClas /tmp/PaddleClas

Then, with pxcore and this plugin installed in the environment that runs it::

    python -m reference.manifests resnet --paddleclas /work/ref/paddleclas --legacy-repo /tmp/PaddleClas

How the legacy names are established, for every architecture:

1. ``release/2.1``'s ``ppcls/modeling/architectures/resnet.py`` / ``resnet_vd.py`` build
   the nets with ``ParamAttr(name=...)``, so each tensor's ``.name`` is its Paddle 1.x
   variable name. Its state dict is matched to the legendary one position by position;
   every pair must agree in shape and in layer role (stem conv, block, branch, conv or
   BatchNorm tensor), or the tool stops.
2. ``release/static``'s files of the same names are the static-graph code of the zoo's
   archives (that branch's README publishes them). They run here under a stand-in for
   ``paddle.fluid`` that records each parameter's name and shape; the record must equal
   step 1's names and shapes, in order.
3. The plugin's rule-made ``weight_aliases()`` must equal the resulting map, and our
   network's state dict must equal the legendary one (keys, order, shapes).
4. Numerically: with random weights (BatchNorm statistics included) the release/2.1 net
   and ours, loaded through the legacy names, must give the same logits, and so must the
   legendary net and ours given the same ``.pdparams`` state. A swapped pair of
   same-shaped tensors (say a BatchNorm's mean and variance) fails here.

Manifests are written for the zoo's architectures; the family's other depths and
variants that the references also have (ResNet18_vd ... ResNet200_vd) are checked alike.
"""

from __future__ import annotations

import argparse
import math
import re
import tempfile
from pathlib import Path

import numpy as np

from reference import fluid, manifests
from reference.history import git_file, module_from_text
from reference.manifests import dumps
from reference.paddleclas import add_paddleclas_argument, paddleclas_26, paddleclas_version

MANIFEST_MODELS = ("ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet50_vd", "ResNet101_vd")
# the family's other depths that all three references have: checked the same way, not written
CHECKED_ONLY = ("ResNet18_vd", "ResNet34_vd", "ResNet152", "ResNet152_vd", "ResNet200_vd")
LEGACY_FILES = {"b": "ppcls/modeling/architectures/resnet.py",
                "vd": "ppcls/modeling/architectures/resnet_vd.py"}
DYGRAPH_BRANCH, STATIC_BRANCH = "release/2.1", "release/static"
LEGENDARY_FILE = "ppcls/arch/backbone/legendary_models/resnet.py"


# --- the references ---------------------------------------------------------------------

# --- running the static-graph code under reference/fluid.py's recording stand-in ----------

def static_parameters(text: str, name: str, model: str, workdir: Path) -> list[tuple[str, list[int]]]:
    layers = fluid.RecordingLayers()
    with fluid.recording(layers):
        module = module_from_text(text, name, workdir)
        getattr(module, model)().net(fluid.Var([-1, 3, 224, 224]), class_dim=1000)
    return layers.params


# --- matching ---------------------------------------------------------------------------

# release/2.1 tensor attribute path -> legendary one
_ROLES = {"_conv.weight": "conv.weight", "_batch_norm.weight": "bn.weight",
          "_batch_norm.bias": "bn.bias", "_batch_norm._mean": "bn._mean",
          "_batch_norm._variance": "bn._variance"}


def _split_role(key: str, roles) -> tuple[str, str]:
    for role in roles:
        if key.endswith("." + role):
            return key[: -len(role) - 1], role
    raise AssertionError(f"{key}: not a conv, BatchNorm or fc tensor")


def match_legacy(old: list[tuple[str, str, list[int]]], legendary: list[tuple[str, list[int]]],
                 label: str) -> dict[str, str]:
    """{legacy name: legendary key}, pairing the two state dicts position by position and
    requiring equal shapes, equal roles and a consistent one-to-one pairing of layers."""
    assert len(old) == len(legendary), f"{label}: {len(old)} legacy tensors, {len(legendary)} legendary"
    layer_pairs: dict[str, str] = {}
    block_pairs: dict[str, str] = {}
    mapping: dict[str, str] = {}
    for (old_key, legacy_name, old_shape), (key, shape) in zip(old, legendary, strict=True):
        assert old_shape == shape, f"{label}: {old_key} {old_shape} pairs with {key} {shape}"
        if old_key.startswith("out."):
            assert key == "fc." + old_key[4:], f"{label}: {old_key} pairs with {key}"
        else:
            old_layer, old_role = _split_role(old_key, _ROLES)
            layer, role = _split_role(key, _ROLES.values())
            assert _ROLES[old_role] == role, f"{label}: {old_key} pairs with {key}"
            # a block's convs are conv0/conv1/conv2/short on both sides
            old_leaf, leaf = old_layer.rsplit(".", 1)[-1], layer.rsplit(".", 1)[-1]
            assert (old_leaf == leaf) or layer.startswith("stem."), f"{label}: {old_key} pairs with {key}"
            assert layer_pairs.setdefault(old_layer, layer) == layer, f"{label}: {old_layer} pairs twice"
            if not layer.startswith("stem."):
                old_block, block = old_layer.rsplit(".", 1)[0], layer.rsplit(".", 1)[0]
                assert block_pairs.setdefault(old_block, block) == block, f"{label}: {old_block} pairs twice"
        assert legacy_name not in mapping, f"{label}: legacy name {legacy_name} twice"
        mapping[legacy_name] = key
    for pairs in (layer_pairs, block_pairs):
        assert len(set(pairs.values())) == len(pairs), f"{label}: layers pair many-to-one"
    return mapping


def _random_state(named_shapes, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    state = {}
    for name, shape in named_shapes:
        if name.endswith("_variance"):  # BatchNorm variances must be positive
            state[name] = rng.uniform(0.5, 2.0, shape).astype("float32")
        else:
            state[name] = (rng.standard_normal(shape) * 0.2).astype("float32")
    return state


def _logits(net, image) -> np.ndarray:
    import paddle

    net.eval()
    with paddle.no_grad():
        return net(paddle.to_tensor(image)).numpy()


# --- one architecture -------------------------------------------------------------------

def build_manifest(name: str, depth: int, variant: str, legendary_module, legacy_modules,
                   static_params, provenance: dict[str, str]) -> dict:
    import paddle

    from pxcore.weights import fit_state
    from pxcore_resnet.resnet import ResNetClassifier

    legendary_net = getattr(legendary_module, name)()
    legendary = [(k, [int(d) for d in v.shape]) for k, v in legendary_net.state_dict().items()]
    ours_net = ResNetClassifier(depth=depth, variant=variant, num_classes=1000)
    ours = [(k, [int(d) for d in v.shape]) for k, v in ours_net.state_dict().items()]
    assert ours == legendary, f"{name}: our state dict differs from the legendary one"

    old_factory = getattr(legacy_modules[variant], f"ResNet{depth}" + ("_vd" if variant == "vd" else ""))
    with paddle.utils.unique_name.guard():  # the ParamAttr names may exist once per guard
        old_net = old_factory()
    old = [(k, v.name, [int(d) for d in v.shape]) for k, v in old_net.state_dict().items()]
    assert [(n, s) for _, n, s in old] == static_params, (
        f"{name}: the release/2.1 names and shapes differ from the static code's")
    legacy = match_legacy(old, legendary, name)
    assert ours_net.weight_aliases() == legacy, (
        f"{name}: weight_aliases() differs from the reference names: "
        f"{sorted(set(ours_net.weight_aliases().items()) ^ set(legacy.items()))[:6]}")

    image = np.random.default_rng(1).standard_normal((2, 3, 64, 64)).astype("float32")
    by_legacy = _random_state([(n, s) for _, n, s in old], seed=2)
    old_net.set_state_dict({k: by_legacy[v.name] for k, v in old_net.state_dict().items()})
    fitted, _ = fit_state(ours_net, by_legacy, "release/2.1 random weights")
    ours_net.set_state_dict(fitted)
    legacy_diff = float(np.abs(_logits(old_net, image) - _logits(ours_net, image)).max())
    assert legacy_diff < 1e-4, f"{name}: loaded through the legacy names, logits differ by {legacy_diff}"

    by_key = _random_state(legendary, seed=3)
    legendary_net.set_state_dict(by_key)
    ours_net.set_state_dict(by_key)
    pdparams_diff = float(np.abs(_logits(legendary_net, image) - _logits(ours_net, image)).max())
    assert pdparams_diff < 1e-4, f"{name}: on the same .pdparams state, logits differ by {pdparams_diff}"

    source = (
        f"pdparams: the state dict (names, shapes) of {name}() in PaddleClas "
        f"{provenance['legendary']} {LEGENDARY_FILE}. legacy: the ParamAttr names of the same "
        f"net in PaddleClas {DYGRAPH_BRANCH} {LEGACY_FILES[variant]} (commit "
        f"{provenance['dygraph_' + variant]}), paired with the legendary keys position by "
        "position with equal shapes and layer roles; the static-graph code whose README "
        f"publishes the zoo's .tar archives ({STATIC_BRANCH} {LEGACY_FILES[variant]}, commit "
        f"{provenance['static_' + variant]}), run under a recording stand-in for paddle.fluid, "
        "creates the same names and shapes in the same order; PaddleX 1.x "
        "paddlex/cv/nets/resnet.py names them by the same rules. Checked with random weights "
        "(BatchNorm statistics included) on a 64px batch: the release/2.1 net and pxcore's "
        f"loaded through these names agree to {legacy_diff:.1e}, the legendary net and "
        f"pxcore's on the same .pdparams state to {pdparams_diff:.1e}. "
        "Written by plugins/resnet/tools/make_layouts.py."
    )
    return {"model": name, "num_classes": 1000, "source": source,
            "pdparams": dict(legendary), "legacy": legacy}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_paddleclas_argument(parser)
    parser.add_argument("--legacy-repo", type=Path, required=True,
                        help="a git clone of PaddleClas with the release/2.1 and release/static branches")
    manifests.add_out_argument(parser, "resnet")
    args = parser.parse_args(argv)

    legendary_module = paddleclas_26(args.paddleclas, "legendary_models/resnet.py")
    provenance = {"legendary": paddleclas_version(args.paddleclas)}
    legacy_modules, static_texts = {}, {}
    with tempfile.TemporaryDirectory(prefix="resnet-refs-") as tmp:
        for variant, path in LEGACY_FILES.items():
            text, provenance[f"dygraph_{variant}"] = git_file(args.legacy_repo, DYGRAPH_BRANCH, path)
            legacy_modules[variant] = module_from_text(text, f"paddleclas21_resnet_{variant}", Path(tmp))
            static_texts[variant], provenance[f"static_{variant}"] = git_file(
                args.legacy_repo, STATIC_BRANCH, path)
        args.out.mkdir(parents=True, exist_ok=True)
        for name in MANIFEST_MODELS + CHECKED_ONLY:
            depth, vd = re.fullmatch(r"ResNet(\d+)(_vd)?", name).groups()
            depth, variant = int(depth), "vd" if vd else "b"
            static = static_parameters(static_texts[variant], f"static_resnet_{variant}_{depth}",
                                       name, Path(tmp))
            manifest = build_manifest(name, depth, variant, legendary_module, legacy_modules,
                                      static, provenance)
            summary = (f"{len(manifest['pdparams'])} tensors, "
                       f"{sum(math.prod(s) for s in manifest['pdparams'].values()):,} values")
            if name not in MANIFEST_MODELS:
                print(f"{name}: checked, {summary}")
                continue
            target = args.out / f"{name}.json"
            target.write_text(dumps(manifest, shapes_inline=False), encoding="utf-8")
            print(f"{target}: {summary}")
    return 0

