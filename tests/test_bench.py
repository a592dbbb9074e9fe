"""px bench: figures per (model, runtime) beside the zoo's, and the default-runtime check."""

from __future__ import annotations

import pytest

import pxcore
from pxcore.deploy.bench import default_vs_fastest, format_report, run_bench

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
