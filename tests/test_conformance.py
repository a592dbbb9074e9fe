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
