"""The core's layering, read from its source with ``ast`` (nothing is imported): no module
under pxcore/ imports a plugin's package, at any depth (lazy imports inside functions
too, and ``importlib.import_module`` of a literal name); plugins reach the core through
the registry, never the other way. Inside the core, the low layers do not import the
high ones; the inference layer imports no paddle and nothing of training; the
transforms, the Model wrapper, the tasks, the inference layer and deployment are on no
import circle.

Plugin packages are found on disk (every ``plugins/<distribution>/<package>/__init__.py``),
so a new plugin is covered without editing this file.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORE = REPO / "pxcore"
PLUGINS = REPO / "plugins"


def plugin_packages() -> set[str]:
    return {init.parent.name for init in PLUGINS.glob("*/*/__init__.py")}


def core_files(core: Path = CORE) -> list[Path]:
    return sorted(core.rglob("*.py"))


def module_name(path: Path, root: Path = REPO) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(path: Path, root: Path = REPO) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for every import in ``path``, at any depth: ``import
    a.b``, ``from a.b import c`` (as a.b and a.b.c: c may be a module), relative imports
    resolved against the file's package, and ``import_module("a.b")`` /
    ``__import__("a.b")`` with a literal name."""
    module = module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            yield node.lineno, source
            for alias in node.names:
                yield node.lineno, f"{source}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            first = node.args[0]
            if called in ("import_module", "__import__") and isinstance(first, ast.Constant) \
                    and isinstance(first.value, str):
                yield node.lineno, first.value


def plugin_imports(files: list[Path], packages: set[str], root: Path = REPO) -> list[str]:
    """Each line of ``files`` importing a plugin package, as "file:line: module"."""
    found: dict[str, str] = {}
    for path in files:
        for line, name in imported_names(path, root):
            if name.partition(".")[0] in packages:
                found.setdefault(f"{path.relative_to(root).as_posix()}:{line}", name)
    return [f"{where}: {name}" for where, name in found.items()]


def test_plugin_packages_are_found():
    packages = plugin_packages()
    # a sample that exists today; any new plugin is found the same way
    assert {"pxcore_yolov3", "pxcore_rcnn", "pxcore_runtime_onnx", "pxcore_mobilenet"} <= packages
    assert "pxcore" not in packages


def test_the_core_imports_no_plugin_package():
    offenders = plugin_imports(core_files(), plugin_packages())
    assert not offenders, ("the core imports plugin packages (reach plugins through the "
                           "registry instead):\n  " + "\n  ".join(offenders))


@pytest.mark.parametrize("source", [
    "import pxcore_yolov3\n",
    "from pxcore_rcnn.heads import RoIHead\n",
    "def f():\n    if True:\n        from pxcore_runtime_onnx import convert\n",
    "import importlib\nm = importlib.import_module('pxcore_mobilenet.plugin')\n",
])
def test_the_scan_catches_plugin_imports(tmp_path, source):
    """The check fails on a plugin import anywhere in a core file, lazy ones included."""
    core = tmp_path / "pxcore"
    (core / "nn").mkdir(parents=True)
    (core / "nn" / "__init__.py").write_text("from . import bad\n")
    (core / "nn" / "bad.py").write_text(source)
    offenders = plugin_imports(core_files(core), plugin_packages(), root=tmp_path)
    assert len(offenders) == 1 and offenders[0].startswith("pxcore/nn/bad.py:"), offenders


def test_relative_imports_resolve_against_the_package():
    names = {name for _, name in imported_names(CORE / "datasets" / "__init__.py")}
    assert {"pxcore.datasets.anchors", "pxcore.datasets.anchors.dataset_anchors"} <= names


# Inside the core: subpackage -> the core subpackages it must not import (directly).
# Only what holds today; the low layers build networks and data without the training
# engine, the tasks, deployment, the API or the CLI.
HIGH = {"api", "cli", "model", "tasks", "deploy", "testing", "recipes", "demo", "paddlex"}
FORBIDDEN = {
    "errors": {"*"},
    "specs": HIGH | {"engine", "nn", "data", "datasets", "transforms"},
    "weights": HIGH | {"engine", "nn", "data", "datasets", "transforms"},
    # transforms build configs through the registry, not pxcore.config (which reaches the
    # API): so the API, the tasks and the inference layer sit above them without a circle
    "transforms": HIGH | {"engine", "nn", "data", "datasets", "config", "inference"},
    # what a deployed model needs: deploy.yml, pre/post-processing, runtimes; no paddle
    # (see test_the_inference_layer_imports_no_paddle) and no training side
    "inference": HIGH | {"engine", "nn", "datasets", "config", "metrics"},
    # px serve's package: on top, but it serves exports through the inference layer
    # alone, so a deploy-only install (no paddle) serves too
    "serve": HIGH | {"engine", "nn", "datasets", "config", "metrics"},
    # the Model wrapper is below the API that creates it (load_model lives in api)
    "model": HIGH - {"model"} | {"config"},
    "ops": HIGH | {"engine", "nn", "data", "datasets"},
    "nn": HIGH | {"engine", "data", "datasets"},
    "metrics": HIGH | {"engine", "nn", "data", "datasets"},
    "datasets": HIGH | {"engine", "nn"},
    "engine": HIGH,
}


def core_imports_by_subpackage() -> dict[str, set[tuple[str, str]]]:
    """core subpackage -> {(imported core subpackage, where)} for imports across them."""
    found: dict[str, set[tuple[str, str]]] = {}
    for path in core_files():
        parts = module_name(path).split(".")
        own = parts[1] if len(parts) > 1 else "__init__"
        for line, name in imported_names(path):
            target = name.split(".")
            if target[0] == "pxcore" and len(target) > 1 and target[1] != own:
                found.setdefault(own, set()).add((target[1], f"{path.relative_to(REPO)}:{line}"))
    return found


def test_low_core_layers_do_not_import_high_ones():
    imports = core_imports_by_subpackage()
    assert set(FORBIDDEN) <= {p.stem if p.suffix else p.name for p in CORE.iterdir()}
    wrong = sorted(f"{where}: pxcore.{own} imports pxcore.{target}"
                   for own, forbidden in FORBIDDEN.items()
                   for target, where in imports.get(own, ())
                   if "*" in forbidden or target in forbidden)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", ["inference", "serve"])
def test_the_inference_layer_imports_no_paddle(package):
    """At any depth, lazy imports too: a deployed model runs (and is served) where paddle
    is not installed (tests/test_inference_layer.py runs one in a fresh process)."""
    wrong = sorted(f"{path.relative_to(REPO)}:{line}: {name}"
                   for path in core_files(CORE / package)
                   for line, name in imported_names(path)
                   if name.partition(".")[0] in ("paddle", "paddle2onnx", "paddlelite"))
    assert not wrong, "\n".join(wrong)


def import_graph(core: Path = CORE, root: Path = REPO) -> dict[str, set[str]]:
    """core module -> the core modules it imports, at any depth. ``from pxcore import
    __version__`` is not an edge: the root package is the facade on top, imported before
    any of its submodules anyway."""
    files = {module_name(path, root): path for path in core_files(core)}
    top = core.name
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        graph[module] = set()
        for _, name in imported_names(path, root):
            while name and name not in files:
                name = name.rpartition(".")[0]
            if name and name not in (module, top):
                graph[module].add(name)
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start), on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target), on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, ())))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        circles.append(sorted(component))
    return circles


# Modules that once imported each other in a circle (api, config, model, tasks and the
# transforms, through transforms building configs with pxcore.config) and the inference
# layer: none of them may be on an import circle again. (api, compose and config still
# build parts recursively, a nested config through create_backbone; that circle stays
# within one layer.)
ACYCLIC = ("pxcore.transforms", "pxcore.inference", "pxcore.model", "pxcore.tasks", "pxcore.deploy")


def test_transforms_model_tasks_and_inference_are_on_no_import_circle():
    circles = [c for c in import_circles(import_graph())
               if any(m == p or m.startswith(p + ".") for m in c for p in ACYCLIC)]
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_the_circle_check_finds_a_lazy_circle(tmp_path):
    core = tmp_path / "pxcore"
    (core / "transforms").mkdir(parents=True)
    (core / "__init__.py").write_text("from .api import f\n")
    (core / "api.py").write_text("from .transforms import t\ndef f():\n    pass\n")
    (core / "transforms" / "__init__.py").write_text(
        "from .. import __version__\ndef t():\n    from ..api import f\n")
    circles = import_circles(import_graph(core, tmp_path))
    assert circles == [["pxcore.api", "pxcore.transforms"]]


def test_only_the_cli_imports_the_cli():
    wrong = sorted(f"{where}: pxcore.{own}" for own, targets in core_imports_by_subpackage().items()
                   for target, where in targets if target == "cli")
    assert not wrong, "\n".join(wrong)


# The core reaching a plugin's runtime: through the registry, by its registered name.

def test_onnx_runtime_outputs_without_the_plugin_says_what_to_install(tmp_path):
    """Entry-point plugins are not loaded here (conftest), so no "onnxruntime" runtime is
    registered: the helper says which plugin to install instead of failing on an import."""
    from pxcore.deploy import RuntimeUnavailable
    from pxcore.testing.runtimes import onnx_runtime_outputs

    with pytest.raises(RuntimeUnavailable, match="pip install plugins/runtime-onnx"):
        onnx_runtime_outputs(tmp_path, [])


@pytest.mark.slow  # paddle2onnx in a child process: a few seconds
@pytest.mark.uses_installed_plugins
def test_onnx_runtime_outputs_runs_the_registered_runtime(tmp_path):
    pytest.importorskip("pxcore_runtime_onnx")
    pytest.importorskip("onnxruntime")
    import numpy as np
    import paddle

    from pxcore.testing.runtimes import check_outputs, onnx_runtime_outputs, save_dynamic

    paddle.seed(0)
    net = paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 3, padding=1), paddle.nn.ReLU())
    rng = np.random.default_rng(0)
    images = [rng.standard_normal(shape).astype("float32") for shape in [(1, 3, 8, 8), (2, 3, 5, 7)]]
    eager = save_dynamic(net, images, tmp_path)
    check_outputs(onnx_runtime_outputs(tmp_path, images), eager, "ONNX Runtime")
