"""Plugin discovery and isolation: broken plugins are reported, the rest keep working."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import fixture_plugins
import pxcore
from pxcore.errors import DuplicateNameError, PluginError, SpecError, UnknownNameError
from pxcore.plugins import ENV_DISABLE, ENV_EXTRA, get_registry, plugin_records
from pxcore.specs import BackboneSpec, ModelSpec


def _record(name):
    return next(r for r in plugin_records() if r.name == name)


def test_builtin_plugin_registers_through_the_hooks():
    builtin = _record("pxcore")
    assert builtin.ok and builtin.source == "builtin"
    assert builtin.provides["head"] == ["LinearClsHead"]
    assert builtin.provides["model"] == ["ImageClassifier"]
    assert builtin.provides["dataset"] == ["ImageNet", "ImageFolder", "VOCDetection", "CocoDetection",
                                           "SegDataset", "Cityscapes"]
    assert builtin.provides["metric"] == ["TopKAccuracy", "CocoDetectionMetric", "VOCMetric",
                                          "ConfusionMatrix"]
    assert "RandomCrop" in builtin.provides["transform"]
    assert get_registry().get("head", "LinearClsHead").distribution == "pxcore"


def test_specs_remember_their_distribution(good_plugin):
    assert get_registry().get("backbone", "FixtureNet").distribution == "fixture-good"
    assert good_plugin.provides["backbone"] == ["FixtureNet"]


def test_a_hook_that_raises_is_recorded_and_nothing_of_it_is_kept(good_plugin):
    with pytest.raises(PluginError, match="this plugin's model hook fails"):
        pxcore.register_plugin(fixture_plugins.RaisesInHook(), name="fixture-raises")
    record = _record("fixture-raises")
    assert "ValueError: this plugin's model hook fails" in record.error
    assert "Traceback" in record.traceback
    # its backbone hook ran before the failure, but nothing of a failed plugin is kept
    assert get_registry().find("backbone", "NeverSeen") is None
    assert get_registry().find("backbone", "FixtureNet") is not None
    assert "FixtureNet_cls" in pxcore.list_models()


def test_a_name_registered_twice_names_both_distributions():
    with pytest.raises(PluginError) as info:
        pxcore.register_plugin(fixture_plugins.Duplicate(), name="fixture-dup")
    message = str(info.value)
    assert "'LinearClsHead' is registered twice" in message
    assert "'pxcore'" in message and "'fixture-dup'" in message
    assert get_registry().get("head", "LinearClsHead").distribution == "pxcore"


def test_registry_add_raises_duplicate_directly():
    registry = get_registry()
    spec = registry.get("head", "LinearClsHead")
    import attrs

    with pytest.raises(DuplicateNameError, match="by 'pxcore'.*by 'other'"):
        registry.add(attrs.evolve(spec, distribution="other"))


def test_a_hook_may_only_add_its_own_kind():
    with pytest.raises(PluginError, match="px_register_models may add ModelSpecs only"):
        pxcore.register_plugin(fixture_plugins.WrongKind(), name="fixture-wrong-kind")


def test_an_unknown_hook_name_is_an_error():
    with pytest.raises(PluginError, match="unknown hook 'px_register_modles'"):
        pxcore.register_plugin(fixture_plugins.TypoHook(), name="fixture-typo")


def test_a_factory_that_raises_names_the_distribution():
    pxcore.register_plugin(fixture_plugins.FactoryRaises(), name="fixture-explodes")
    with pytest.raises(SpecError, match=r"model 'Exploding' \(from 'fixture-explodes'\) failed to build.*boom"):
        pxcore.create_model("Exploding")
    assert "Exploding" in pxcore.list_models()  # the registry is still whole


def test_plugin_given_by_module_name_and_env_var(monkeypatch):
    record = pxcore.register_plugin("fixture_env_plugin")
    assert record.provides == {"backbone": ["EnvNet"]}
    pxcore.plugins.reset()
    monkeypatch.setenv(ENV_EXTRA, "fixture_env_plugin")
    assert _record("fixture_env_plugin").source == "env"
    assert get_registry().find("backbone", "EnvNet") is not None


def test_env_plugin_that_cannot_import_is_recorded(monkeypatch):
    monkeypatch.setenv(ENV_EXTRA, "no_such_module_xyz, fixture_env_plugin")
    assert "import failed: ModuleNotFoundError" in _record("no_such_module_xyz").error
    assert _record("fixture_env_plugin").ok


def test_disable_one_plugin(monkeypatch):
    monkeypatch.setenv(ENV_EXTRA, "fixture_env_plugin")
    monkeypatch.setenv(ENV_DISABLE, "fixture_env_plugin")
    assert _record("fixture_env_plugin").disabled
    assert get_registry().find("backbone", "EnvNet") is None


def test_registrar_accepts_specs_or_fields():
    from pxcore.registry import Registrar

    reg = Registrar("model", "dist")
    a = reg.add(name="A", factory="m:f", task="classification")
    b = reg.add(ModelSpec(name="B", factory="m:f", task="detection"))
    assert (a.distribution, b.distribution) == ("dist", "dist")
    with pytest.raises(SpecError, match="factory 'not a reference'"):
        reg.add(name="C", factory="not a reference", task="classification")
    with pytest.raises(SpecError, match="task 'cooking'"):
        reg.add(name="D", factory="m:f", task="cooking")
    with pytest.raises(SpecError, match="px_register_models may add ModelSpecs only"):
        reg.add(BackboneSpec(name="E", factory="m:f"))


def test_unknown_name_lists_the_registry_and_closest_names(good_plugin):
    with pytest.raises(UnknownNameError) as info:
        get_registry().get("backbone", "FixtureNett")
    assert "pxcore backbone registry" in str(info.value)
    assert info.value.suggestions[0] == "FixtureNet"


def test_listing_never_imports_paddle():
    code = ("import sys, pxcore\n"
            "pxcore.list_models(); pxcore.model_info('ResNet50')\n"
            "from pxcore.cli import main\n"
            "main(['models', '--json']); main(['plugins'])\n"
            "assert 'paddle' not in sys.modules, 'paddle was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


class _Dist:
    def __init__(self, name):
        self.metadata = {"Name": name}
        self.version = "1.2.3"


class _EntryPoint:
    """What importlib.metadata gives for a pip-installed plugin, named after its
    distribution as pxcore's plugins are."""

    def __init__(self, dist, load):
        self.name = self.value = dist
        self.dist = _Dist(dist)
        self.load = load


def _broken_import():
    raise ImportError("px-broken-import needs a module that is not installed")


@pytest.mark.uses_installed_plugins
def test_installed_plugins_that_fail_are_reported_by_distribution_and_the_rest_work(
        monkeypatch, capsys):
    """Entry-point plugins, as pip installs them: one raises while registering, one
    cannot import, one's model factory raises; each is reported under its distribution
    name and the good one beside them, and the core, keep working."""
    entry_points = [_EntryPoint("px-fixture-good", fixture_plugins.Good),
                    _EntryPoint("px-raises-while-registering", fixture_plugins.RaisesInHook),
                    _EntryPoint("px-broken-import", _broken_import),
                    _EntryPoint("px-factory-raises", fixture_plugins.FactoryRaises)]
    monkeypatch.setattr(pxcore.plugins, "metadata", type("metadata", (), {
        "entry_points": staticmethod(lambda group: list(entry_points))}))
    records = {r.name: r for r in plugin_records()}
    assert records["px-fixture-good"].ok and records["px-fixture-good"].version == "1.2.3"
    assert "ValueError: this plugin's model hook fails" in records["px-raises-while-registering"].error
    assert "import failed: ImportError: px-broken-import needs" in records["px-broken-import"].error
    assert records["px-factory-raises"].ok  # it registered; its factory fails when called
    assert records["pxcore"].ok
    registry = get_registry()
    assert registry.find("backbone", "NeverSeen") is None  # nothing of the failed one is kept
    assert registry.get("backbone", "FixtureNet").distribution == "px-fixture-good"
    assert {"FixtureNet_cls", "Exploding", "ResNet50"} <= set(pxcore.list_models())
    with pytest.raises(SpecError, match=r"model 'Exploding' \(from 'px-factory-raises'\) "
                                        r"failed to build.*boom while building"):
        pxcore.create_model("Exploding")
    assert "FixtureNet_cls" in pxcore.list_models()  # the failing factory harmed nothing
    from pxcore.cli import main

    main(["plugins"])
    out = capsys.readouterr().out
    for name in ("px-raises-while-registering", "px-broken-import"):
        assert re.search(rf"{name} +1\.2\.3 +entry-point +FAILED", out), out
    assert re.search(r"px-fixture-good +1\.2\.3 +entry-point +ok", out), out
    assert "2 plugin(s) failed; the others work" in out
