"""The zoo catalog: all 52 rows of the seed, with every field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pxcore import zoo

# The project's spec text of the zoo (PaddleX's model library tables), copied verbatim
# into the repository so that the check of the catalog against it runs in any clone.
SEED_COPY = Path(__file__).with_name("data") / "zoo_seed.md"
# Where the spec lives beside a checkout of the project's workspace, when it does.
SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "000_6ca5340e86e116d9.txt"


def test_row_counts_per_task():
    counts = {}
    for e in zoo.catalog():
        counts[e.task] = counts.get(e.task, 0) + 1
    assert len(zoo.catalog()) == 52
    assert counts == {"classification": 23, "detection": 14,
                      "instance_segmentation": 7, "semantic_segmentation": 8}


def test_ids_are_unique_and_every_name_resolves_to_one_default():
    ids = [e.id for e in zoo.catalog()]
    assert len(set(ids)) == len(ids)
    for name in {e.name for e in zoo.catalog()}:
        rows = zoo.lookup(name)
        assert sum(r.default for r in rows) == 1
        assert rows[0].default


def test_repeated_names_are_told_apart_by_task_and_dataset():
    assert [e.id for e in zoo.lookup("HRNet_W18")] == ["HRNet_W18.imagenet", "HRNet_W18.cityscapes"]
    assert zoo.lookup("HRNet_W18", task="semantic_segmentation")[0].id == "HRNet_W18.cityscapes"
    assert zoo.lookup("HRNet_W18", task="semantic_segmentation")[0].model == "HRNet_W18_seg"
    deeplab = zoo.lookup("DeepLabv3_MobileNetV2_x1.0")
    assert [e.dataset for e in deeplab] == ["COCO", "Cityscapes"]
    assert zoo.lookup("DeepLabv3_Xception65", dataset="cityscapes")[0].metrics == {"miou": 79.3}
    assert zoo.lookup("DeepLabv3_Xception65.coco")[0].metrics == {"miou": None}


def test_seed_spellings_resolve():
    assert zoo.lookup("densenet121")[0].name == "DenseNet121"
    assert zoo.lookup("FasterRCNN - HRNet_W18-FPN")[0].id == "FasterRCNN-HRNet_W18-FPN.coco"
    assert zoo.lookup("MaskRCNN - HRNet_W18-FPN")[0].task == "instance_segmentation"
    assert zoo.lookup("ResNet50vd") == []


def test_hrnet_classification_size_is_a_parameter_count():
    row = zoo.lookup("HRNet_W18", task="classification")[0]
    assert row.size_mb is None and row.params_m == 21.29
    assert all(e.params_m is None for e in zoo.catalog() if e is not row)


def test_devices_metrics_and_plugins():
    for e in zoo.catalog():
        assert e.weights_url.startswith("https://")
        assert e.plugins and all(p in zoo.source_plugin_paths() for p in e.plugins)
        if e.latency_ms is not None:
            assert e.latency_device in ("SD855", "T4", "V100")
        expected = {"classification": {"top1", "top5"}, "detection": {"box_ap"},
                    "instance_segmentation": {"box_ap", "mask_ap"},
                    "semantic_segmentation": {"miou"}}[e.task]
        assert set(e.metrics) == expected
    assert zoo.lookup("MobileNetV1")[0].latency_device == "SD855"
    assert zoo.lookup("ResNet50")[0].latency_device == "T4"
    assert zoo.lookup("YOLOv3-DarkNet53")[0].latency_device == "V100"
    assert zoo.lookup("YOLOv3-DarkNet53")[0].plugins == ("pxcore-yolov3", "pxcore-darknet")
    assert zoo.lookup("MaskRCNN-HRNet_W18-FPN")[0].plugins == ("pxcore-rcnn", "pxcore-hrnet")


def _parse_seed(text: str):
    """(seed name, size, latency, metrics, url) for every table row of the seed."""
    rows = []
    for line in text.splitlines():
        m = re.match(r"^\|\s*\[([^\]]+)\]\((https?://[^)]+)\)\s*\|(.*)\|\s*$", line)
        if not m:
            continue
        cells = [c.strip() for c in m.group(3).split("|")]
        number = lambda c: None if c.strip("-") == "" else float(re.sub(r"[^\d.]", "", c))  # noqa: E731
        rows.append((m.group(1).strip(), number(cells[0]), number(cells[1]),
                     [number(c) for c in cells[2:]], m.group(2)))
    return rows


def test_catalog_matches_the_seed_table_for_table():
    seed_rows = _parse_seed(SEED_COPY.read_text(encoding="utf-8"))
    assert len(seed_rows) == 52
    for entry, (name, size, latency, metrics, url) in zip(zoo.catalog(), seed_rows, strict=True):
        assert entry.seed_name == name
        assert (entry.size_mb if entry.params_m is None else entry.params_m) == size
        assert entry.latency_ms == latency
        assert list(entry.metrics.values()) == metrics
        assert entry.weights_url == url


def test_the_in_repository_copy_is_the_seed():
    if not SEED.exists():
        pytest.skip(f"the seed file is not beside this checkout ({SEED}), so {SEED_COPY} "
                    "cannot be compared with it")
    assert SEED_COPY.read_bytes() == SEED.read_bytes(), (
        f"{SEED_COPY} differs from {SEED}: copy the seed again (verbatim)")


def test_as_dict_is_plain_json():
    import json

    data = json.loads(json.dumps([e.as_dict() for e in zoo.catalog()]))
    fields = {"id", "name", "seed_name", "task", "dataset", "num_classes", "size_mb", "params_m",
              "latency_ms", "latency_device", "latency_setting", "metrics", "weights_url",
              "model", "plugins", "paddlex", "legacy_args", "default", "evaluate_keys"}
    assert all(set(row) == fields for row in data)
