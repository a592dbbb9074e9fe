"""Checks that a model takes the official weight layouts of its zoo row.

A layout manifest (JSON, kept in the plugin's tests) records, from the reference
implementation, every tensor of the official checkpoint:

    {"model": "ResNet50", "num_classes": 1000, "source": "where the names come from",
     "pdparams": {"stem.0.conv.weight": [32, 3, 3, 3], ...},
     "legacy": {"conv1_weights": "stem.0.conv.weight", ...}}

``pdparams`` are the Paddle suites' dygraph names with shapes; ``legacy`` maps each
Paddle 1.x variable name (the zoo's .tar archives) to the dygraph name it is. The check
writes random weights in each layout (a .pdparams file, a per-variable directory, a .tar
of it), loads them with ``create_model(..., pretrained=...)``, and requires every tensor
placed where the manifest says, none missing and none left over.
"""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def load_manifest(path: str | os.PathLike) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def random_state(shapes: Mapping[str, Any], seed: int = 0) -> dict[str, np.ndarray]:
    """Standard normal float32 tensors, one per ``{name: shape}``."""
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape, dtype=np.float32) for name, shape in shapes.items()}


def write_pickled_state(path: str | os.PathLike, state: Mapping[str, np.ndarray]) -> Path:
    """A pickled ``{name: array}`` (protocol 2), as Paddle 1.x's fluid.save and the Paddle
    suites' .pdparams files are."""
    import pickle

    with open(path, "wb") as file:
        pickle.dump(dict(state), file, protocol=2)
    return Path(path)


def legacy_archive(manifest: Mapping[str, Any], seed: int = 0,
                   velocities: bool = True) -> dict[str, np.ndarray]:
    """Random tensors under the manifest's Paddle 1.x names, as the zoo's archives hold
    them: with ``velocities`` also each trainable tensor's momentum velocity
    (``NAME_velocity_0``, zeros), the optimizer state the training snapshots kept."""
    rng = np.random.default_rng(seed)
    state = {}
    for name, key in manifest["legacy"].items():
        shape = manifest["pdparams"][key]
        state[name] = rng.standard_normal(shape).astype("float32")
        if velocities and not key.endswith(("._mean", "._variance")):
            state[f"{name}_velocity_0"] = np.zeros(shape, "float32")
    return state


def manifest_parameter_count(manifest: Mapping[str, Any]) -> int:
    return int(sum(np.prod(shape) for shape in manifest["pdparams"].values()))


def assert_placed(net, expected: Mapping[str, np.ndarray], label: str) -> None:
    """``net`` holds exactly the ``expected`` tensors, every one loaded."""
    state = net.state_dict()
    assert set(state) == set(expected), (
        f"{label}: the model's tensors differ from the official layout: "
        f"only in the model {sorted(set(state) - set(expected))[:5]}, "
        f"only in the layout {sorted(set(expected) - set(state))[:5]}")
    for key, value in expected.items():
        got = state[key].numpy()
        assert got.shape == value.shape and np.array_equal(got, value), (
            f"{label}: {key} was not loaded from the weight file")


def check_weight_layouts(manifest: Mapping[str, Any] | str | os.PathLike, workdir: str | os.PathLike,
                         **create_args: Any) -> None:
    """Load random weights in every layout the manifest names; see the module docstring."""
    import paddle

    from ..api import create_model
    from ..weights import write_legacy_tensor

    if not isinstance(manifest, Mapping):
        manifest = load_manifest(manifest)
    name, workdir = manifest["model"], Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    args = {"num_classes": manifest.get("num_classes", 1000), **create_args}
    state = random_state(manifest["pdparams"])

    pdparams = workdir / f"{name}.pdparams"
    paddle.save({k: paddle.to_tensor(v) for k, v in state.items()}, str(pdparams))
    assert_placed(create_model(name, pretrained=pdparams, **args).net, state, f"{name} from .pdparams")

    legacy = manifest.get("legacy")
    if not legacy:
        return
    assert set(legacy.values()) == set(state), (
        f"{name}: the manifest's legacy names do not cover its dygraph names one to one")
    folder = workdir / f"{name}_pretrained"
    folder.mkdir(exist_ok=True)
    for legacy_name, dygraph_name in legacy.items():
        write_legacy_tensor(folder / legacy_name, state[dygraph_name])
    assert_placed(create_model(name, pretrained=folder, **args).net, state, f"{name} from a legacy directory")
    archive = workdir / f"{name}_pretrained.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(folder, arcname=folder.name)
    assert_placed(create_model(name, pretrained=archive, **args).net, state, f"{name} from a legacy .tar")
