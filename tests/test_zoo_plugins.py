"""Zoo rows come from plugins (px_register_zoo): the catalog merges them with the index
of the seed's rows; the installed in-tree plugins' rows are the seed's tables, and the
index is exactly their rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pxcore
import pxcore.plugins
from pxcore import zoo
from pxcore.errors import DuplicateNameError, PluginNotInstalledError, SpecError
from pxcore.testing import check_plugin
from pxcore.testing.zoo import check_against_seed, check_zoo_rows, seed_mismatches, zoo_row_failures
from pxcore.zoo_tables import T4, ZooTable

SEED_COPY = Path(__file__).with_name("data") / "zoo_seed.md"


def _row(**fields):
    base = dict(name="FixtureZooNet", task="classification", dataset="Digits", num_classes=10,
                size_mb=1.5, latency_ms=0.5, latency_device="CPU", latency_setting="32x32, batch 1",
                metrics={"top1": 91.0}, weights_url="https://example.com/fixture.pdparams")
    return zoo.ZooEntry(**{**base, **fields})


class _ZooFixture:
    """A preset and its zoo row, as a third party writes them."""

    @pxcore.hookimpl
    def px_register_models(self, registry):
        registry.add(name="FixtureZooNet", factory="pxcore.nn.classifier:ImageClassifier",
                     defaults={"backbone": "FixtureNet"}, task="classification")

    @pxcore.hookimpl
    def px_register_zoo(self, registry):
        registry.add(_row())


@pytest.fixture
def fixture_zoo(good_plugin):  # good_plugin registers the backbone FixtureNet
    return pxcore.register_plugin(_ZooFixture(), name="px-fixture-zoo")


def test_a_plugin_adds_a_row_after_the_seeds(fixture_zoo, capsys):
    assert fixture_zoo.zoo == ["FixtureZooNet.digits"]
    assert fixture_zoo.provides == {"model": ["FixtureZooNet"]}
    rows = zoo.catalog()
    assert len(rows) == 53 and rows[:52] == zoo.catalog()[:52]
    row = rows[-1]
    assert row.id == "FixtureZooNet.digits" and row.default and row.model == "FixtureZooNet"
    assert row.distribution == "px-fixture-zoo" and row.plugins == ("px-fixture-zoo",)
    assert row.seed_name == "FixtureZooNet" and row.paddlex == {}
    assert zoo.lookup("fixturezoonet") == [row]
    assert zoo.entries(dataset="digits") == [row]
    model = pxcore.create_model("FixtureZooNet")
    assert model.entry == row and model.num_classes == 10  # the row's class count
    info = pxcore.model_info("FixtureZooNet")
    assert info["installed"] and info["provided_by"] == "px-fixture-zoo"
    assert info["metrics"] == {"top1": 91.0} and info["evaluate_keys"] == {"top1": "acc1"}
    assert "FixtureZooNet" in dir(pxcore.cls)

    from pxcore.cli import main

    assert main(["models", "Fixture*"]) == 0
    out = capsys.readouterr().out
    assert "classification: 1 rows, 1 installed" in out
    assert "FixtureZooNet.digits" in out and "0.5 ms (CPU)" in out and "top1=91.0" in out
    assert "yes (px-fixture-zoo)" in out
    main(["plugins"])
    assert "1 model: FixtureZooNet; 1 zoo row: FixtureZooNet.digits" in capsys.readouterr().out


def test_a_registered_row_takes_the_place_of_the_index_row_of_its_id():
    class Better:
        @pxcore.hookimpl
        def px_register_zoo(self, registry):
            registry.add(T4.row("ResNet50", 100.0, 3.0, 80.0, 95.0, plugins=("px-better",)))

    before = [e.id for e in zoo.catalog()]
    pxcore.register_plugin(Better(), name="px-better")
    after = zoo.catalog()
    assert [e.id for e in after] == before
    row = zoo.lookup("ResNet50")[0]
    assert row is after[before.index("ResNet50.imagenet")]
    assert row.metrics == {"top1": 80.0, "top5": 95.0} and row.default
    assert row.distribution == "px-better"
    with pytest.raises(PluginNotInstalledError, match="pip install px-better"):
        pxcore.create_model("ResNet50")  # its row is there, its preset is not


def test_rows_are_all_or_nothing_and_a_duplicate_names_both(fixture_zoo):
    class Clash:
        @pxcore.hookimpl
        def px_register_models(self, registry):
            registry.add(name="ClashNet", factory="fixture_plugins:record_args",
                         task="classification")

        @pxcore.hookimpl
        def px_register_zoo(self, registry):
            registry.add(_row(dataset="CIFAR10"))
            registry.add(_row(dataset="digits"))  # ids ignore case: FixtureZooNet.digits

    with pytest.raises(pxcore.PluginError, match=r"zoo row 'FixtureZooNet.digits' is registered "
                                                 r"twice: by 'px-fixture-zoo' and by 'px-clash'"):
        pxcore.register_plugin(Clash(), name="px-clash")
    registry = pxcore.get_registry()
    assert registry.find("model", "ClashNet") is None
    assert registry.find_zoo_row("FixtureZooNet.cifar10") is None
    with pytest.raises(DuplicateNameError, match="registered twice"):
        registry.add_zoo_row(registry.find_zoo_row("FIXTUREZOONET.digits"))
    assert [e.id for e in zoo.catalog()][-1] == "FixtureZooNet.digits"


def test_malformed_rows_are_refused():
    with pytest.raises(SpecError, match=r"unknown metric keys \['acc'\]"):
        _row(metrics={"acc": 90.0})
    with pytest.raises(SpecError, match="task 'segmentation' is not one of"):
        _row(task="segmentation")
    with pytest.raises(SpecError, match="num_classes must be a positive integer"):
        _row(num_classes=0)
    with pytest.raises(SpecError, match="must not contain spaces"):
        _row(name="Fixture Zoo Net")
    with pytest.raises(ValueError, match="1 metric values for the columns"):
        ZooTable(task="classification", dataset="x", num_classes=2, metrics=("top1", "top5")).row(
            "X", None, None, 1.0)
    assert _row(seed_name="fixture zoo net").seed_name == "fixture zoo net"

    class NotARow:
        @pxcore.hookimpl
        def px_register_zoo(self, registry):
            registry.add(pxcore.ModelSpec(name="X", factory="a:b", task="classification"))

    with pytest.raises(pxcore.PluginError, match="px_register_zoo may add ZooEntry rows only"):
        pxcore.register_plugin(NotARow(), name="px-not-a-row")

    class Both:
        @pxcore.hookimpl
        def px_register_zoo(self, registry):
            registry.add(_row(), name="Other")

    with pytest.raises(pxcore.PluginError, match="either a ZooEntry or its fields"):
        pxcore.register_plugin(Both(), name="px-both")


def test_a_row_given_as_fields_and_the_hookspec_argument_check():
    class Fields:
        @pxcore.hookimpl
        def px_register_zoo(self, registry):
            registry.add(name="FieldNet", task="detection", dataset="VOC", num_classes=20,
                         metrics={"box_ap": None})

    record = pxcore.register_plugin(Fields(), name="px-fields")
    row = pxcore.get_registry().find_zoo_row("fieldnet.voc")
    assert record.zoo == ["FieldNet.voc"] and row.weights_url is None and row.size_mb is None
    assert row.as_dict()["evaluate_keys"] == {"box_ap": "bbox_mmap"}
    assert "distribution" not in row.as_dict()

    class WrongArgument:
        @pxcore.hookimpl
        def px_register_zoo(self, table):
            pass

    with pytest.raises(pxcore.PluginError, match="invalid hooks"):
        pxcore.register_plugin(WrongArgument(), name="px-wrong-argument")


def test_install_hint_names_the_checkouts_directories_only_in_a_checkout(monkeypatch):
    paths = zoo.source_plugin_paths()
    assert paths["pxcore-yolov3"] == "plugins/yolov3"
    assert paths["pxcore-runtime-onnx"] == "plugins/runtime-onnx"
    assert {p for e in zoo.index() for p in e.plugins} <= set(paths)
    row = zoo.lookup("YOLOv3-DarkNet53")[0]
    assert row.install_hint() == ("pip install pxcore-yolov3 pxcore-darknet  (in this "
                                  "repository: pip install plugins/yolov3 plugins/darknet)")
    assert _row(plugins=("px-elsewhere",)).install_hint() == "pip install px-elsewhere"
    monkeypatch.setattr(zoo, "source_plugin_paths", lambda: {})
    assert row.install_hint() == "pip install pxcore-yolov3 pxcore-darknet"


def test_conformance_checks_a_plugins_rows(fixture_zoo):
    assert check_zoo_rows("px-fixture-zoo") == 1
    assert check_plugin("px-fixture-zoo") == 1  # its preset; its row is checked too

    class Wrong:
        @pxcore.hookimpl
        def px_register_models(self, registry):
            registry.add(name="WrongZooNet", factory="fixture_plugins:record_args",
                         task="detection")

        @pxcore.hookimpl
        def px_register_zoo(self, registry):
            registry.add(_row(name="WrongZooNet"))  # a classification row
            registry.add(_row(name="Unbuilt", plugins=("px-other",)))

    pxcore.register_plugin(Wrong(), name="px-wrong")
    failures = zoo_row_failures("px-wrong")
    assert len(failures) == 3, failures
    assert "it is a classification row, but preset 'WrongZooNet' is a detection model" in failures[0]
    assert "its model preset 'Unbuilt' is not registered" in failures[1]
    assert "['px-other'], do not include 'px-wrong'" in failures[2]
    with pytest.raises(AssertionError, match="Unbuilt"):
        check_zoo_rows("px-wrong")


def test_the_seed_check_finds_what_differs():
    text = SEED_COPY.read_text(encoding="utf-8")
    check_against_seed(zoo.index(), text)
    rows = list(zoo.index())
    rows[0] = _row(name="MobileNetV1", dataset="ImageNet", metrics={"top1": 71.0, "top5": 89.0},
                   size_mb=17.4, latency_ms=32.523048,
                   weights_url="https://paddle-imagenet-models-name.bj.bcebos.com/MobileNetV1_pretrained.tar")
    problems = seed_mismatches([*rows[:-1], _row()], text)
    assert problems == [
        "seed row 'MobileNetV1' (classification, ImageNet): metrics is (71.0, 89.0), the seed "
        "says (71.0, 89.7)",
        "seed row 'Fast-SCNN' (semantic_segmentation, Cityscapes): 0 rows have it",
        "zoo row 'FixtureZooNet.digits' is not in the seed",
    ]


# --- the installed in-tree plugins ----------------------------------------------------------


@pytest.mark.uses_installed_plugins
def test_the_installed_plugins_rows_are_the_seeds_four_tables():
    """Every seed row once, with its figures, and no other row from an in-tree plugin."""
    rows = zoo.in_tree_rows()
    assert {row.distribution for row in rows} == {
        "pxcore-mobilenet", "pxcore-shufflenet", "pxcore-resnet", "pxcore-darknet",
        "pxcore-xception", "pxcore-densenet", "pxcore-hrnet", "pxcore-alexnet", "pxcore-yolov3",
        "pxcore-rcnn", "pxcore-deeplab", "pxcore-unet", "pxcore-fastscnn"}, \
        "an in-tree plugin failed to load: see `px plugins`"
    check_against_seed(rows, SEED_COPY.read_text(encoding="utf-8"))


@pytest.mark.uses_installed_plugins
def test_each_row_belongs_to_its_head_plugin_and_passes_the_conformance_checks():
    rows = zoo.in_tree_rows()
    for row in rows:
        assert row.plugins[0] == row.distribution, row.id  # the head's plugin, then its backbone's
    for distribution in {row.distribution for row in rows}:
        assert check_zoo_rows(distribution) >= 1
    owners = {row.id: row.distribution for row in rows}
    assert owners["YOLOv3-DarkNet53.coco"] == owners["PPYOLO.coco"] == "pxcore-yolov3"
    assert owners["MaskRCNN-HRNet_W18-FPN.coco"] == "pxcore-rcnn"
    assert owners["DeepLabv3_Xception65.cityscapes"] == "pxcore-deeplab"
    assert owners["HRNet_W18.cityscapes"] == owners["HRNet_W18.imagenet"] == "pxcore-hrnet"
    assert owners["Xception65.imagenet"] == "pxcore-xception"


@pytest.mark.uses_installed_plugins
def test_the_index_is_exactly_the_in_tree_plugins_rows(tmp_path):
    written = tmp_path / "zoo_index.py"
    assert zoo.write_index(written) == 52
    assert written.read_text(encoding="utf-8") == zoo.INDEX_FILE.read_text(encoding="utf-8"), (
        "pxcore/zoo_index.py differs from the plugins' zoo rows: if the plugins are right, "
        'rewrite it with python -c "from pxcore import zoo; zoo.write_index()"')


@pytest.mark.uses_installed_plugins
def test_the_catalog_is_the_same_with_the_plugins_and_without(monkeypatch):
    with_plugins = zoo.catalog()
    assert all(row.distribution is not None for row in with_plugins)
    monkeypatch.setenv(pxcore.plugins.ENV_DISABLE_AUTOLOAD, "1")
    pxcore.plugins.reset()
    without = zoo.catalog()
    assert all(row.distribution is None for row in without)
    assert json.dumps([e.as_dict() for e in with_plugins]) == json.dumps([e.as_dict() for e in without])
