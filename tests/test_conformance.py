"""pxcore.testing: the checks pass on good parts and catch bad ones."""

from __future__ import annotations

import pytest

import pxcore
from pxcore.testing import check_plugin, check_spec, conformance_params, plugin_specs


class _Liars:
    @pxcore.hookimpl
    def px_register_backbones(self, registry):
        registry.add(name="LyingNet", factory="fixture_nets:LyingNet")
        registry.add(name="WrongStrideNet", factory="fixture_nets:WrongStrideNet")
        registry.add(name="Unimportable", factory="no_such_module:Thing")


def test_core_parts_conform(good_plugin):
    tiny = {"type": "FixtureNet"}
    specs = plugin_specs("pxcore")
    assert {s.kind for s in specs} == {"head", "model", "dataset", "transform", "metric", "runtime"}
    assert check_plugin("pxcore", overrides={"ImageClassifier": {"backbone": tiny}}) == len(specs)


@pytest.mark.parametrize("name", ["FixtureNet", "FixtureNet_cls"])
def test_fixture_parts_conform(good_plugin, name):
    registry = pxcore.get_registry()
    spec = registry.find("backbone", name) or registry.find("model", name)
    check_spec(spec)


@pytest.mark.parametrize("name, problem", [
    ("LyingNet", "level c3 reports 99 channels, returns 16"),
    ("WrongStrideNet", "level c3 reports stride 4, but a 64px input gives 8px"),
    ("Unimportable", "does not load"),
])
def test_checks_catch_what_a_backbone_gets_wrong(name, problem):
    pxcore.register_plugin(_Liars(), name="liars")
    with pytest.raises(AssertionError, match=problem):
        check_spec(pxcore.get_registry().get("backbone", name))


class _WrongOutput:
    @pxcore.hookimpl
    def px_register_models(self, registry):
        # returns its input image, not [batch, num_classes]
        registry.add(name="WrongOut", factory="fixture_nets:Passthrough", task="classification")


def test_a_classifier_with_the_wrong_output_shape_fails():
    pxcore.register_plugin(_WrongOutput(), name="wrong-out")
    with pytest.raises(AssertionError, match=r"must return \[batch, num_classes\] = \[2, 3\]"):
        check_spec(pxcore.get_registry().get("model", "WrongOut"))


def test_conformance_params_name_each_spec(good_plugin):
    ids = [p.id for p in conformance_params("fixture-good")]
    assert "backbone:FixtureNet" in ids and "model:FixtureNet_cls" in ids
    with pytest.raises(AssertionError, match="no specs to check"):
        conformance_params("not-installed")


def _raising_probe():
    raise RuntimeError("probe broke")


def _empty_probe():
    return ""


def _refusing_probe():
    return "needs a GPU"


class _Probes:
    @pxcore.hookimpl
    def px_register_runtimes(self, registry):
        for name, probe in (("raises", _raising_probe), ("empty", _empty_probe),
                            ("refuses", _refusing_probe)):
            registry.add(name=f"probe-{name}", probe=f"{__name__}:{probe.__name__}",
                         factory="pxcore.deploy.paddle_inference:PaddleInferenceRuntime")


def test_a_runtime_whose_probe_raises_fails_conformance():
    pxcore.register_plugin(_Probes(), name="probes")
    spec = pxcore.get_registry().get("runtime", "probe-raises")
    # what `px runtimes` sees: the exception as a reason, as if the runtime merely could
    # not run here; the check must not take that for an answer
    assert "raised RuntimeError: probe broke" in spec.unavailable_reason()
    with pytest.raises(AssertionError, match=r"probe .*_raising_probe' raised RuntimeError: probe broke"):
        check_spec(spec)


def test_a_runtime_probe_answers_none_or_a_reason():
    pxcore.register_plugin(_Probes(), name="probes")
    registry = pxcore.get_registry()
    check_spec(registry.get("runtime", "probe-refuses"))
    with pytest.raises(AssertionError, match="non-empty reason string, got ''"):
        check_spec(registry.get("runtime", "probe-empty"))
