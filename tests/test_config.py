"""Building from config dicts and YAML files with `type:` keys."""

from __future__ import annotations

import pytest

import pxcore
from pxcore.errors import ConfigError, UnknownNameError


def test_build_model_and_nested_backbone_from_a_dict(good_plugin):
    cfg = {"type": "ImageClassifier", "num_classes": 5,
           "backbone": {"type": "FixtureNet", "widths": [4, 8, 8]}}
    model = pxcore.build(cfg)
    assert isinstance(model, pxcore.Model) and model.num_classes == 5
    assert model.net.backbone.out_features[-1].channels == 8


def test_build_from_yaml(good_plugin, tmp_path):
    path = tmp_path / "model.yml"
    path.write_text("type: FixtureNet_cls\nnum_classes: 3\n")
    assert pxcore.build(path).num_classes == 3
    assert pxcore.build(str(path)).num_classes == 3
    backbone = pxcore.build({"type": "FixtureNet", "out_indices": [1]}, "backbone")
    assert [f.name for f in backbone.out_features] == ["c2"]


def test_config_errors_say_what_is_wrong(good_plugin, tmp_path):
    with pytest.raises(ConfigError, match="needs a 'type' key"):
        pxcore.build({"num_classes": 3})
    with pytest.raises(UnknownNameError, match="did you mean 'FixtureNet'"):
        pxcore.build({"type": "FixtureNt"}, "backbone")
    with pytest.raises(ConfigError, match="does not exist"):
        pxcore.build(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yml"
    bad.write_text("type: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        pxcore.build(bad)
    with pytest.raises(ConfigError, match="cannot build a 'widget'"):
        pxcore.build("x", "widget")


def test_built_objects_pass_through():
    sentinel = object()
    assert pxcore.build(sentinel, "backbone") is sentinel
