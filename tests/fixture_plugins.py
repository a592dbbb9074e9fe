"""Plugins the tests register in-process. None of them imports paddle."""

from __future__ import annotations

import pxcore
from pxcore.specs import BackboneSpec


class Good:
    """Registers a backbone, a classifier preset over it, and presets named like zoo rows
    whose factory only records its arguments (for the PaddleX spelling tests)."""

    @pxcore.hookimpl
    def px_register_backbones(self, registry):
        registry.add(name="FixtureNet", factory="fixture_nets:FixtureNet")

    @pxcore.hookimpl
    def px_register_models(self, registry):
        registry.add(name="FixtureNet_cls", factory="pxcore.nn.classifier:ImageClassifier",
                     defaults={"backbone": "FixtureNet"}, task="classification")
        for name, task in [("FasterRCNN-ResNet50_vd-FPN", "detection"),
                           ("FasterRCNN-ResNet50", "detection"),
                           ("YOLOv3-DarkNet53", "detection"),
                           ("DeepLabv3_MobileNetV2_x1.0", "semantic_segmentation")]:
            registry.add(name=name, factory="fixture_plugins:record_args", task=task)


class PaddleXDeepLab:
    """PaddleX's own DeepLabv3p network on MobileNetV2 (ASPP and decoder), a preset beside
    the zoo row whose archives hold neither (pxcore-deeplab registers both)."""

    @pxcore.hookimpl
    def px_register_models(self, registry):
        registry.add(name="DeepLabv3_MobileNetV2_x1.0-paddlex", factory="fixture_plugins:record_args",
                     task="semantic_segmentation",
                     paddlex={"class": "DeepLabv3p", "backbone": "MobileNetV2_x1.0"})


def record_args(**kwargs):
    """A stand-in network for presets: returns the arguments it was built with."""
    return {"built_with": kwargs}


class RaisesInHook:
    @pxcore.hookimpl
    def px_register_backbones(self, registry):
        registry.add(name="NeverSeen", factory="nowhere:Nothing")

    @pxcore.hookimpl
    def px_register_models(self, registry):
        raise ValueError("this plugin's model hook fails")


class Duplicate:
    @pxcore.hookimpl
    def px_register_heads(self, registry):
        registry.add(name="LinearClsHead", factory="fixture_plugins:record_args")


class WrongKind:
    @pxcore.hookimpl
    def px_register_models(self, registry):
        registry.add(BackboneSpec(name="Misplaced", factory="fixture_plugins:record_args"))


class TypoHook:
    @pxcore.hookimpl
    def px_register_modles(self, registry):  # sic: not a pxcore hook
        pass


class FactoryRaises:
    @pxcore.hookimpl
    def px_register_models(self, registry):
        registry.add(name="Exploding", factory="fixture_plugins:explode", task="classification")


def explode(**kwargs):
    raise RuntimeError("boom while building")


class Segmenter:
    """A small semantic segmentation preset (fixture_nets.TinySegmenter)."""

    @pxcore.hookimpl
    def px_register_models(self, registry):
        registry.add(name="TinySeg", factory="fixture_nets:TinySegmenter", task="semantic_segmentation",
                     defaults={"num_classes": 3},
                     metadata={"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "test_input_size": 64})
