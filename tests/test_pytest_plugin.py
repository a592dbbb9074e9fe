"""pxcore's pytest plugin (pxcore.testing.pytest_plugin): found through its pytest11 entry
point, loaded without paddle, and its parameter helpers select and mark what they say."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pxcore.testing import pytest_plugin as kit


def test_pytest_loads_it_through_its_entry_point(request):
    # pytest names a plugin it loads from an entry point after the entry point and
    # records the distribution (importlib's entry_points() is not asked: a stale
    # pxcore.egg-info in the working directory would shadow the installed metadata)
    manager = request.config.pluginmanager
    assert manager.get_plugin("pxcore") is kit
    assert any(plugin is kit and dist.metadata["Name"] == "pxcore" for plugin, dist in manager.list_plugin_distinfo())


def test_loading_it_imports_no_paddle():
    code = ("import sys, pxcore.testing.pytest_plugin\n"
            "print(sorted(m for m in ('paddle', 'numpy', 'cv2') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _slow(param) -> bool:
    return any(mark.name == "slow" for mark in param.marks)


def test_by_model_marks_the_slow_names():
    params = kit.by_model(["a", "b", "c"], {"b"})
    assert [p.id for p in params] == ["a", "b", "c"] and [p.values for p in params] == [("a",), ("b",), ("c",)]
    assert [_slow(p) for p in params] == [False, True, False]
    assert [_slow(p) for p in kit.by_model(["a", "bb"], lambda name: len(name) > 1)] == [False, True]
    assert [_slow(p) for p in kit.by_model(["a", "b"], True)] == [True, True]


def test_conformance_test_runs_check_spec_on_the_chosen_specs(good_plugin):
    test = kit.conformance_test("fixture-good", slow={"FixtureNet"}, leave_out={"YOLOv3-DarkNet53"},
                                only=lambda spec: spec.kind == "backbone" or spec.name.startswith(("Fixture", "YOLO")))
    (mark,) = test.pytestmark
    assert mark.name == "parametrize" and mark.args[0] == "spec"
    params = mark.args[1]
    assert [p.id for p in params] == ["backbone:FixtureNet", "model:FixtureNet_cls"]
    assert [_slow(p) for p in params] == [True, False]
    test(params[1].values[0])  # the checks themselves pass on a conforming spec


def test_check_entry_point_refuses_a_plugin_registered_by_hand(good_plugin):
    with pytest.raises(AssertionError, match="fixture-good was registered from .*, not found through its entry point"):
        kit.check_entry_point("fixture-good", {"backbone": ["FixtureNet"]})
    with pytest.raises(AssertionError, match="no plugin 'not-installed'.*pip install -e"):
        kit.check_entry_point("not-installed", {})
