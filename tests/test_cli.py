"""The px command line."""

from __future__ import annotations

import json
import re

import pytest

from pxcore.cli import main


def test_models_prints_all_52_rows_grouped_by_task(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    ids = re.findall(r"^  (\S+\.(?:imagenet|coco|cityscapes))\s", out, flags=re.M)
    assert len(ids) == 52 and len(set(ids)) == 52
    for header in ("classification: 23 rows", "detection: 14 rows",
                   "instance segmentation: 7 rows", "semantic segmentation: 8 rows"):
        assert header in out
    assert "32.523048 ms (SD855)" in out and "21.29M params" in out
    assert "no: pip install pxcore-yolov3 pxcore-darknet" in out


def test_models_json_has_every_field(capsys):
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    zoo_rows = [r for r in rows if r["zoo"]]
    assert len(zoo_rows) == 52
    for row in zoo_rows:
        for field in ("id", "task", "dataset", "size_mb", "params_m", "latency_ms",
                      "latency_device", "metrics", "weights_url", "installed", "plugins"):
            assert field in row
    assert any(r["name"] == "ImageClassifier" and not r["zoo"] for r in rows)


def test_models_filters(capsys, good_plugin):
    main(["models", "--task", "detection", "--json"])
    assert {r["task"] for r in json.loads(capsys.readouterr().out)} == {"detection"}
    main(["models", "YOLO*", "--installed", "--json"])
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["YOLOv3-DarkNet53"]
    main(["models", "--dataset", "cityscapes", "--missing", "--json"])
    assert len(json.loads(capsys.readouterr().out)) == 4


def test_plugins_shows_failures_with_their_error(capsys, monkeypatch):
    monkeypatch.setenv("PXCORE_PLUGINS", "no_such_plugin_module,fixture_env_plugin")
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"no_such_plugin_module\s+-\s+env\s+FAILED", out)
    assert re.search(r"fixture_env_plugin\s+-\s+env\s+ok\s+1 backbone: EnvNet", out)
    assert "No module named 'no_such_plugin_module'" in out
    main(["plugins", "--json"])
    records = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert records["pxcore"]["error"] is None and records["no_such_plugin_module"]["error"]


def test_info_and_errors(capsys):
    assert main(["info", "FasterRCNN - HRNet_W18-FPN"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == "FasterRCNN-HRNet_W18-FPN.coco"
    assert main(["info", "ResNet50vd"]) == 1
    assert "did you mean 'ResNet50_vd'" in capsys.readouterr().err


def test_doctor_reports_versions_and_devices(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "pxcore" in out and "paddle" in out and "current device" in out


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "models" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["models", "--task", "nope"], ["bogus"]])
def test_bad_arguments_exit_nonzero(argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
