"""px bench: figures per (model, runtime) beside the zoo's, and the default-runtime check."""

from __future__ import annotations

import numpy as np
import pytest

import pxcore
from pxcore.deploy.bench import default_vs_fastest, format_report, run_bench, speedup_over

pytestmark = pytest.mark.uses_installed_plugins


def test_bench_measures_every_runtime_beside_the_zoo(tmp_path):
    rows = run_bench(["MobileNetV3_small"], ["auto", "paddle", "no-such-runtime"], warmup=1,
                     repeats=3, workdir=tmp_path, rounds=1)
    measured = [r for r in rows if "ms_per_image" in r]
    default = next(r["runtime"] for r in rows if r.get("default"))
    assert default == pxcore.Predictor(tmp_path / "MobileNetV3_small").runtime
    assert {r["requested"] for r in measured} == {default, "paddle"}
    for row in measured:
        assert row["ms_per_image"] > 0 and row["peak_mb"] > 50 and 8 < row["size_mb"] < 14
        assert row["images_per_s"] == pytest.approx(1000 / row["ms_per_image"])
    failed = next(r for r in rows if r["requested"] == "no-such-runtime")
    assert "no runtime named 'no-such-runtime'" in " ".join(failed["error"])
    table = format_report(rows, batch_size=1, threads=2)
    assert "| MobileNetV3_small" in table and "12.5 MB" in table and "9.2745 ms (SD855)" in table
    assert "top1=68.2, top5=88.1" in table and "not run: " in table
    # the ratio line names the runtime auto picked and the fastest measured row, and is
    # the one's time over the other's, as the rows report them
    ms = {r["runtime"]: r["ms_per_image"] for r in measured}
    fastest = min(ms, key=ms.get)
    (ratio_row,) = default_vs_fastest(rows)
    assert ratio_row == ("MobileNetV3_small", default, fastest, pytest.approx(ms[default] / ms[fastest]))
    # a batch of 4 (the export reused): images per second over the whole batch
    (batched,) = run_bench(["MobileNetV3_small"], ["paddle"], batch_size=4, warmup=1, repeats=2,
                           workdir=tmp_path, rounds=1)
    assert batched["images_per_s"] == pytest.approx(1000 / batched["ms_per_image"])
    assert "bs=4" in format_report([batched], batch_size=4, threads=2).splitlines()[0]


def test_default_vs_fastest_picks_the_auto_row():
    rows = [{"model": "M", "requested": "paddle", "runtime": "paddle", "ms_per_image": 2.2, "default": True},
            {"model": "M", "requested": "onnxruntime", "runtime": "onnxruntime", "ms_per_image": 2.0},
            {"model": "M", "requested": "lite", "error": ["no"]}]
    assert default_vs_fastest(rows) == [("M", "paddle", "onnxruntime", pytest.approx(1.1))]


def test_speedup_over_paddle_is_a_geometric_mean_over_models():
    def row(model, runtime, ms, default=False):
        return {"model": model, "requested": runtime, "runtime": runtime, "ms_per_image": ms,
                "default": default}

    rows = [row("A", "onnxruntime", 1.0, True), row("A", "paddle", 4.0),
            row("B", "paddle", 3.0, True),                      # the default is paddle: 1x
            row("C", "openvino", 2.0, True), {"model": "C", "requested": "paddle", "error": ["no"]}]
    mean, count = speedup_over(rows, "paddle")
    assert count == 2 and mean == pytest.approx(2.0)  # sqrt(4 * 1); C has no paddle figure
    assert speedup_over([row("A", "onnxruntime", 1.0, True)]) is None


def test_path_overhead_times_predict_against_its_own_network_input(tmp_path):
    from pxcore.data.images import read_image
    from pxcore.deploy.bench import _export, _photo, path_overhead

    exported = _export("MobileNetV3_small", tmp_path)
    photo = _photo(tmp_path / "photo.jpg")
    row = path_overhead(exported, photo, "auto", None, warmup=1, repeats=12, budget_s=0.0)
    height, width = read_image(photo).shape[:2]
    assert row["task"] == "classification" and row["image"] == f"{width}x{height}"
    assert row["rounds"] == 10  # the budget spent, it stops once 10 rounds are in
    assert row["runtime"] == pxcore.Predictor(exported).runtime
    assert 0 < row["bare_ms"] and 0 < row["whole_ms"] and 0 < row["decode_ms"]


def test_network_input_is_what_predict_hands_the_runtime():
    from types import SimpleNamespace

    from pxcore.deploy.bench import network_input
    from pxcore.inference import classification, detection, segmentation
    from pxcore.transforms import CenterCrop, Compose, Normalize, Resize, ResizeByShort

    pixels = np.random.default_rng(0).integers(0, 256, (123, 201, 3), dtype=np.uint8)
    seen = []

    def run(batch):
        seen.append(np.array(batch))
        return [np.zeros((len(batch), 4, *batch.shape[2:]), np.float32)]

    cases = [("classification", Compose([ResizeByShort(40), CenterCrop(32), Normalize()]),
              lambda t: classification.predict_images(pixels, t, lambda b: [run(b)[0][:, :, 0, 0]], None, 4)),
             ("detection", Compose([Resize(64, interp="CUBIC"), Normalize()]),
              lambda t: detection.predict_images(pixels, t, run, lambda o, s, i: [np.zeros((0, 6))], None)),
             ("semantic_segmentation", Compose([Normalize((0.5,) * 3, (0.5,) * 3)]),
              lambda t: segmentation.predict_images(pixels, t, run, 1, 32))]
    for task, transforms, predict in cases:
        seen.clear()
        predict(transforms)
        info = {"postprocess": {"size_divisor": 32}}
        batch = network_input(SimpleNamespace(task=task, transforms=transforms, info=info), pixels)
        assert batch.flags.c_contiguous and np.array_equal(batch, seen[0]), task


def test_format_overhead_marks_each_row_against_its_task_target():
    from pxcore.deploy.bench import format_overhead

    rows = [{"model": "A", "runtime": "onnxruntime", "task": "classification", "bare_ms": 1.0,
             "whole_ms": 1.08, "decode_ms": 1.2, "image": "224x224"},
            {"model": "B", "runtime": "paddle", "task": "detection", "bare_ms": 100.0, "whole_ms": 106.0,
             "decode_ms": 1.2, "image": "640x427"},
            {"model": "C", "error": ["no model named 'C'"]}]
    lines = format_overhead(rows).splitlines()
    assert [c.strip() for c in lines[0].split("|")[1:-1]] == ["model", "image", "runtime", "bare ms",
                                                             "whole ms", "overhead", "target", "decode ms"]
    assert "+8.0% ok" in lines[2] and "| 10%" in lines[2] and "1.20" in lines[2] and "| 224x224 |" in lines[2]
    assert "+6.0% OVER" in lines[3] and "| 5% " in lines[3] and "| 640x427 |" in lines[3]
    assert "not run: no model named 'C'" in lines[4]


def test_the_photo_at_another_size_and_the_size_option(tmp_path):
    import argparse

    from pxcore.cli.bench import _image_size
    from pxcore.data.images import read_image
    from pxcore.deploy.bench import _photo

    own = read_image(_photo(tmp_path / "a.jpg"))
    assert read_image(_photo(tmp_path / "b.jpg", (224, 224))).shape == (224, 224, 3)
    assert read_image(_photo(tmp_path / "c.jpg", (1000, 700))).shape == (700, 1000, 3)
    assert read_image(_photo(tmp_path / "d.jpg", own.shape[1::-1])).shape == own.shape
    assert _image_size("224x224") == (224, 224) and _image_size("640X427") == (640, 427)
    assert _image_size("photo") is None
    for bad in ("224", "0x5", "ax3", "-3x4"):
        with pytest.raises(argparse.ArgumentTypeError):
            _image_size(bad)


def test_cli_path_overhead_prints_the_table(capsys):
    from pxcore.cli import main

    assert main(["bench", "--path-overhead", "MobileNetV3_small", "--warmup", "1", "--repeats", "3"]) == 0
    out = capsys.readouterr().out
    # by default the photo as it is and the same photo at 224x224, a row each
    assert "one 640x427 / 224x224 photo" in out and "| 10% " in out
    assert "| MobileNetV3_small | 640x427 |" in out and "| MobileNetV3_small | 224x224 |" in out
    assert main(["bench", "--path-overhead", "MobileNetV3_small", "--image-size", "160x120",
                 "--warmup", "1", "--repeats", "3"]) == 0
    out = capsys.readouterr().out
    assert "| MobileNetV3_small | 160x120 |" in out and "640x427 |" not in out


def test_bench_measures_at_a_precision_and_shows_it(tmp_path, monkeypatch):
    import pxcore.deploy.bench as bench
    from pxcore.inference import RuntimeUnavailable

    # run_bench hands the precision to each child, "auto"'s included ...
    calls = []

    def child(args):
        calls.append(args)
        if args[0] == "default":
            return {"runtime": "openvino"}
        if args[2] == "onnxruntime":
            return {"error": ["refused"]}
        return {"runtime": args[2], "precision": args[-1], "ms_per_image": 2.0, "images_per_s": 500.0,
                "size_mb": 9.0, "peak_mb": 300.0}

    monkeypatch.setattr(bench, "_child", child)
    monkeypatch.setattr(bench, "_export", lambda name, root, legacy=False: tmp_path / name)
    rows = run_bench(["MobileNetV3_small"], ["auto", "onnxruntime"], workdir=tmp_path, rounds=1,
                     precision="bf16")
    out = str(tmp_path / "MobileNetV3_small")
    assert calls == [["default", out, "bf16"], ["measure", out, "openvino", "1", "0", "10", "30", "bf16"],
                     ["measure", out, "onnxruntime", "1", "0", "10", "30", "bf16"]]
    table = format_report(rows, batch_size=1, threads=2).splitlines()
    assert [line.split("|")[3].strip() for line in table[0:1] + table[2:]] == ["precision", "bf16", "bf16"]
    monkeypatch.undo()
    # ... and the child's Predictor runs at it: OpenVINO in bf16, ONNX Runtime refuses
    exported = bench._export("MobileNetV3_small", tmp_path / "real")
    with pytest.raises(RuntimeUnavailable, match="for bf16 use runtime='openvino'"):
        bench.measure(exported, "onnxruntime", 1, 2, 1, 2, precision="bf16")
    from pxcore_runtime_openvino.runtime import check_precision

    try:
        check_precision("bf16")
    except RuntimeUnavailable:  # a CPU without bf16: the refusal is tested in the plugin
        return
    figures = bench.measure(exported, "openvino", 1, 2, 1, 2, precision="bf16")
    assert figures["runtime"] == "openvino" and figures["precision"] == "bf16"
    assert figures["ms_per_image"] > 0


def test_px_bench_passes_precision_on(monkeypatch, capsys):
    import pxcore.deploy.bench as bench
    from pxcore.cli import main

    seen = {}

    def fake_run_bench(models, runtimes, *args, precision=None):
        seen.update(models=models, runtimes=runtimes, precision=precision)
        return [{"model": models[0], "requested": runtimes[0], "precision": precision, "error": ["x"]}]

    monkeypatch.setattr(bench, "run_bench", fake_run_bench)
    assert main(["bench", "MobileNetV3_small", "--runtime", "openvino", "--precision", "bf16"]) == 0
    assert seen == {"models": ["MobileNetV3_small"], "runtimes": ["openvino"], "precision": "bf16"}
    assert "| bf16 " in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["bench", "MobileNetV3_small", "--precision", "int4"])
