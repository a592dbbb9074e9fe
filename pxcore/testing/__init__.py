"""Conformance checks any pxcore plugin runs against itself, ours or a third party's.

In a plugin's test suite::

    import pytest
    from pxcore.testing import check_spec, conformance_params

    @pytest.mark.parametrize("spec", conformance_params("my-plugin"))
    def test_conformance(spec):
        check_spec(spec)

Each check fails with an AssertionError that names the spec, its distribution and what
did not hold. What is checked, by kind:

- every spec: its factory imports and is callable;
- backbone: it builds, reports ``out_features`` (FeatureInfo per level), returns one
  tensor per reported level with the reported channels and stride, honours
  ``out_indices``, and gives the same outputs after ``paddle.jit.to_static``;
- head and neck: built from feature shapes, forward on features of those shapes;
- model: ``create_model`` builds it, forward on a small input (classifiers return
  ``[batch, num_classes]``, segmenters logits ``[batch, num_classes, H, W]`` at the
  input's size, also non-square, and in training those or a list weighted by
  ``loss_weights``), same outputs after ``paddle.jit.to_static``;
- runtime: its probe imports and, called directly (not through
  ``unavailable_reason()``, which turns an exception into a reason), answers None or a
  reason without raising;
- zoo rows (``px_register_zoo``): each row's preset is registered for its task, its
  metric keys are known, and its distributions include the plugin itself.

``pxcore.testing.layouts.check_weight_layouts`` checks that a model takes its zoo row's
official weight layouts (.pdparams, Paddle 1.x per-variable directories and archives).

``pxcore.testing.pytest_plugin`` is pxcore's pytest plugin, registered under the
``pytest11`` entry point: wherever pxcore is installed, pytest loads it (no paddle until a
test uses it) and every suite has its ``scratch`` fixture (``tmp_path``, removed after
the test). Its helpers replace what plugin suites would otherwise repeat; the two lines
above become ``test_conformance = conformance_test("my-plugin")`` (``slow=`` names to
mark slow, ``leave_out=`` specs not to run), and ``check_entry_point``,
``check_classifier_presets``, ``check_segmenter_preset``, ``check_parameter_count``,
``check_weights_refused``, ``by_model``, ``save_pdparams``,
``write_legacy_archive``, ``check_backbone_takes_classifier_weights`` and
``check_backbone_takes_legacy_archive`` are there too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..contract import Detector, GivesExampleInputs, check_network, declared
from ..plugins import get_registry
from ..specs import Spec, resolve
from .zoo import zoo_row_failures

DEFAULT_INPUT_SIZE = 64
TEST_NUM_CLASSES = 3


def plugin_specs(distribution: str) -> list[Spec]:
    """Every spec the named plugin registered."""
    return [spec for spec in get_registry().all_specs() if spec.distribution == distribution]


def conformance_params(distribution: str) -> list:
    """pytest params, one per spec of the plugin, with readable ids."""
    import pytest

    specs = plugin_specs(distribution)
    if not specs:
        from ..plugins import plugin_records

        record = next((r for r in plugin_records() if r.name == distribution), None)
        why = record.error if record and record.error else "it is not installed or registered nothing"
        raise AssertionError(f"plugin {distribution!r} has no specs to check: {why}")
    return [pytest.param(spec, id=f"{spec.kind}:{spec.name}") for spec in specs]


def check_plugin(distribution: str, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> int:
    """Run every check on every spec of a plugin; report all failures together.
    ``overrides`` maps spec names to build arguments the checks need. Returns the count."""
    overrides = overrides or {}
    specs = plugin_specs(distribution)
    assert specs, f"plugin {distribution!r} registered no specs"
    failures = []
    for spec in specs:
        try:
            check_spec(spec, **overrides.get(spec.name, {}))
        except AssertionError as exc:
            failures.append(str(exc))
    failures += zoo_row_failures(distribution)  # its zoo rows, if it registers any
    assert not failures, "\n\n".join(failures)
    return len(specs)


def check_spec(spec: Spec, **overrides: Any) -> None:
    """Run the checks for this spec's kind (see the module docstring)."""
    label = f"{spec.kind} {spec.name!r} from {spec.distribution!r}"
    try:
        spec.load()
    except Exception as exc:
        raise AssertionError(f"{label}: factory {spec.factory!r} does not load: {exc}") from exc
    check = _CHECKS.get(spec.kind)
    if check is not None:
        try:
            check(spec, label, **overrides)
        except AssertionError:
            raise
        except Exception as exc:
            raise AssertionError(f"{label}: {type(exc).__name__}: {exc}") from exc


def _input_size(spec: Spec) -> int:
    """Metadata "test_input_size" if given, else the default raised to the network's
    "min_input_size" (a classifier with fixed fully connected layers needs its size)."""
    fallback = max(DEFAULT_INPUT_SIZE, int(spec.metadata.get("min_input_size", 0)))
    return int(spec.metadata.get("test_input_size", fallback))


def _image(spec: Spec, batch: int = 2):
    import paddle

    paddle.seed(0)
    size = _input_size(spec)
    return paddle.rand([batch, 3, size, size])


def _as_list(outputs) -> list:
    if isinstance(outputs, dict):
        return [outputs[k] for k in sorted(outputs)]
    if isinstance(outputs, list | tuple):
        return [t for o in outputs for t in _as_list(o)]
    return [outputs]


def check_static_parity(net, inputs: list, label: str, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """The network gives the same outputs after ``paddle.jit.to_static`` (what export uses)."""
    import numpy as np
    import paddle

    net.eval()
    if hasattr(net, "deploy_graphs"):
        return _check_graphs_static_parity(net, inputs, label, rtol, atol)
    with paddle.no_grad():
        eager = [t.numpy() for t in _as_list(net(*inputs))]
        static_net = paddle.jit.to_static(net, full_graph=True)
        static = [t.numpy() for t in _as_list(static_net(*inputs))]
    assert len(eager) == len(static), f"{label}: to_static returns {len(static)} outputs, eager {len(eager)}"
    for i, (a, b) in enumerate(zip(eager, static, strict=True)):
        assert a.shape == b.shape, f"{label}: output {i} is {b.shape} after to_static, {a.shape} eager"
        assert np.allclose(a, b, rtol=rtol, atol=atol), (
            f"{label}: output {i} differs after to_static by up to {np.abs(a - b).max():.3g}")


def _check_graphs_static_parity(net, inputs: list, label: str, rtol: float, atol: float) -> None:
    """A network exported as several graphs (``deploy_graphs``, with numpy between them:
    pxcore.inference.graphs): each graph gives after ``to_static`` what it gives eagerly,
    on the inputs the network's own pipeline hands it for ``inputs``."""
    import numpy as np
    import paddle

    seen: dict[str, list] = {}

    def run(name, arrays):
        seen.setdefault(name, [np.asarray(a) for a in arrays])
        return net.run_graph(name, arrays)

    net.pipeline(run, *[np.asarray(x) for x in inputs])
    graphs = net.deploy_graphs([1, *inputs[0].shape[1:]])
    assert set(seen) <= set(graphs), f"{label}: the pipeline runs graphs {sorted(seen)}, exported {sorted(graphs)}"
    for name, arrays in seen.items():
        layer = graphs[name]["layer"]
        tensors = [paddle.to_tensor(a) for a in arrays]
        with paddle.no_grad():
            eager = [t.numpy() for t in _as_list(layer(tensors))]
            static = [t.numpy() for t in _as_list(paddle.jit.to_static(layer, full_graph=True)(tensors))]
        assert len(eager) == len(static), f"{label}: graph {name} gives {len(static)} outputs after to_static, {len(eager)} eager"
        for i, (a, b) in enumerate(zip(eager, static, strict=True)):
            assert a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=atol), (
                f"{label}: graph {name} output {i} differs after to_static "
                f"({b.shape} against {a.shape}, up to {np.abs(a - b).max() if a.shape == b.shape else '-'})")


def _check_backbone(spec: Spec, label: str, **overrides: Any) -> None:
    from ..api import create_backbone
    from ..nn.features import FeatureInfo

    args = {k: v for k, v in overrides.items() if k != "out_indices"}
    net = create_backbone(spec.name, **args)
    net.eval()
    _check_contract(net, label)
    reported = net.out_features
    assert reported and all(isinstance(f, FeatureInfo) for f in reported), (
        f"{label}: out_features must be a non-empty list of FeatureInfo, got {reported!r}")
    x = _image(spec)
    size = _input_size(spec)
    outputs = net(x)
    assert isinstance(outputs, list | tuple), f"{label}: forward must return a list of tensors"
    assert len(outputs) == len(reported), (
        f"{label}: reports {len(reported)} levels but returns {len(outputs)} tensors")
    for info, out in zip(reported, outputs, strict=True):
        shape = list(out.shape)
        assert shape[1] == info.channels, (
            f"{label}: level {info.name} reports {info.channels} channels, returns {shape[1]}")
        assert shape[2] in (size // info.stride, math.ceil(size / info.stride)), (
            f"{label}: level {info.name} reports stride {info.stride}, but a {size}px input "
            f"gives {shape[2]}px (stride {size / shape[2]:g})")
    deepest = _rebuilt_from(net, lambda: create_backbone(spec.name, out_indices=(-1,), **args))
    deepest.eval()
    assert deepest.out_features == [reported[-1]], (
        f"{label}: with out_indices=(-1,) it reports {deepest.out_features}, "
        f"not only the deepest level {reported[-1]}")
    assert len(deepest(x)) == 1, f"{label}: with out_indices=(-1,) it must return one tensor"
    check_static_parity(net, [x], label)


def _rebuilt_from(net, build):
    """``build()`` under ``paddle.LazyGuard``, its values then taken from ``net`` where
    the names and shapes match and initialised where not: a second copy of a network
    without paying twice for initialising its values. A network that cannot be built
    without values (one that reads a parameter while it builds) is built as usual."""
    import paddle

    try:
        with paddle.LazyGuard():
            other = build()
    except Exception:
        return build()
    shapes = {k: list(v.shape) for k, v in other.state_dict().items()}
    other.set_state_dict({k: v for k, v in net.state_dict().items()
                          if shapes.get(k) == list(v.shape)})
    for param in other.parameters():
        if hasattr(param, "_is_initialized") and not param._is_initialized():
            param.initialize()
    return other


def _check_head(spec: Spec, label: str, **overrides: Any) -> None:
    import paddle

    from ..nn.features import FeatureInfo

    shapes = [FeatureInfo("c4", 8, 16), FeatureInfo("c5", 16, 32)]
    args = {"input_shapes": shapes, "num_classes": TEST_NUM_CLASSES, **overrides}
    head = spec.build(**args)
    head.eval()
    features = [paddle.rand([2, f.channels, 64 // f.stride, 64 // f.stride]) for f in shapes]
    outputs = _as_list(head(features))
    assert outputs and all(int(o.shape[0]) == 2 for o in outputs), (
        f"{label}: output batch size must match the input's (2)")


def _check_neck(spec: Spec, label: str, **overrides: Any) -> None:
    import paddle

    from ..nn.features import FeatureInfo

    shapes = [FeatureInfo("c3", 8, 8), FeatureInfo("c4", 16, 16), FeatureInfo("c5", 32, 32)]
    neck = spec.build(**{"input_shapes": shapes, **overrides})
    neck.eval()
    features = [paddle.rand([2, f.channels, 64 // f.stride, 64 // f.stride]) for f in shapes]
    outputs = _as_list(neck(features))
    reported = getattr(neck, "out_features", None)
    if reported is not None:
        assert len(outputs) == len(reported), f"{label}: reports {len(reported)} levels, returns {len(outputs)}"
        for info, out in zip(reported, outputs, strict=True):
            assert int(out.shape[1]) == info.channels, (
                f"{label}: level {info.name} reports {info.channels} channels, returns {out.shape[1]}")


def _check_model(spec: Spec, label: str, **overrides: Any) -> None:
    from ..api import create_model

    args = dict(overrides)
    if spec.task == "classification" or "num_classes" in spec.defaults:
        args.setdefault("num_classes", TEST_NUM_CLASSES)
    model = create_model(spec.name, **args)
    net, inputs = check_model_outputs(model, spec, label)
    _check_contract(net, label)
    check_static_parity(net, inputs, label)


def check_model_outputs(model, spec: Spec, label: str):
    """One forward pass of ``model`` (a built pxcore Model of preset ``spec``) in eval
    mode on a small input, and the checks its task's outputs must pass; returns the
    network and the inputs it ran on."""
    net = model.net
    net.eval()
    inputs = list(net.example_inputs(2)) if isinstance(net, GivesExampleInputs) else [_image(spec)]
    outputs = net(*inputs)
    if spec.task == "classification":
        shape = list(outputs.shape)
        assert shape == [2, model.num_classes], (
            f"{label}: a classifier must return [batch, num_classes] = [2, {model.num_classes}], got {shape}")
    if spec.task in ("detection", "instance_segmentation"):
        names = declared(net, "output_names")
        if names is None:
            assert isinstance(outputs, list | tuple) and all(
                len(o.shape) == 4 and int(o.shape[0]) == 2 for o in outputs), (
                f"{label}: a detector returns its raw output levels, [batch, channels, H, W] "
                "each, or names its outputs (output_names)")
        else:
            assert isinstance(outputs, list | tuple) and len(outputs) == len(names), (
                f"{label}: output_names names {len(names)} outputs, forward returns "
                f"{len(outputs) if isinstance(outputs, list | tuple) else type(outputs).__name__}")
        assert isinstance(net, Detector) and callable(net.loss) and callable(net.postprocess), (
            f"{label}: a detector's network needs loss() and postprocess (pxcore.contract.Detector)")
    if spec.task == "semantic_segmentation":
        _check_segmenter(spec, label, net, inputs, outputs, model.num_classes)
    return net, inputs


def _check_contract(net, label: str) -> None:
    """The contract attributes the network declares have their documented form
    (``pxcore.contract``): a misspelt or mistyped one fails here, not silently later."""
    problems = check_network(net, label)
    assert not problems, "\n".join(problems)


def _check_segmenter(spec: Spec, label: str, net, inputs: list, outputs, num_classes: int) -> None:
    """Logits [N, num_classes, H, W] at the input's size, also for a non-square input,
    and in training either those or a list of them weighted by ``loss_weights``."""
    import paddle

    size = _input_size(spec)
    expected = [2, num_classes, size, size]
    assert isinstance(outputs, paddle.Tensor) and list(outputs.shape) == expected, (
        f"{label}: a segmenter returns logits {expected} (batch, classes, input size) in eval "
        f"mode, got {list(outputs.shape) if hasattr(outputs, 'shape') else type(outputs).__name__}")
    divisor = int(spec.metadata.get("size_divisor", 32))
    wide = paddle.rand([1, 3, size, size + divisor])
    assert list(net(wide).shape) == [1, num_classes, size, size + divisor], (
        f"{label}: a {size}x{size + divisor} (HxW) input must give logits of that size")
    net.train()
    trained = net(*inputs)
    net.eval()
    trained = trained if isinstance(trained, list | tuple) else [trained]
    weights = declared(net, "loss_weights") or (1.0,)
    assert len(weights) == len(trained), (
        f"{label}: training returns {len(trained)} outputs but loss_weights has {len(weights)}")
    for out in trained:
        assert list(out.shape) == expected, (
            f"{label}: a training output is {list(out.shape)}, not logits {expected}")


def _check_runtime(spec: Spec, label: str, **overrides: Any) -> None:
    """The probe itself, called directly: ``spec.unavailable_reason()`` turns anything the
    probe raises into a reason string (so that ``px runtimes`` survives a broken plugin),
    which would let a probe that always raises pass as "not usable here"."""
    if spec.probe is None:
        return
    try:
        probe = resolve(spec.probe)
    except Exception as exc:
        raise AssertionError(f"{label}: its probe {spec.probe!r} does not load: {exc}") from exc
    assert callable(probe), f"{label}: its probe {spec.probe!r} is not callable"
    try:
        reason = probe()
    except Exception as exc:
        raise AssertionError(
            f"{label}: its probe {spec.probe!r} raised {type(exc).__name__}: {exc} (a probe "
            "returns None or a reason why the runtime cannot run here; it must not raise)") from exc
    assert reason is None or isinstance(reason, str) and reason.strip(), (
        f"{label}: its probe must return None or a non-empty reason string, got {reason!r}")


_CHECKS = {
    "backbone": _check_backbone,
    "head": _check_head,
    "neck": _check_neck,
    "model": _check_model,
    "runtime": _check_runtime,
}
