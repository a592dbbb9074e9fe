"""runtime="auto" chooses by measurement: fake runtimes whose runs sleep a known time
(registered without the core's Paddle Inference, so the candidates are known), and one
real export timed on Paddle Inference and ONNX Runtime."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter

import numpy as np
import pytest
import yaml

import pxcore
from pxcore.cli import main
from pxcore.errors import PxError
from pxcore.inference import RuntimeUnavailable, runtime_choice, select_runtime
from pxcore.inference.choice_cache import cache_dir, choice_key, cpu_identity
from pxcore.inference.runtime import Runtime
from pxcore.plugins import BUILTIN, ENV_DISABLE

BUILDS: Counter = Counter()
RUNS: Counter = Counter()
SHAPES: list = []
BROKEN: set[str] = set()  # runtimes whose factory raises RuntimeUnavailable
ABSENT: set[str] = set()  # runtimes whose probe says they cannot run here
CRASHING: set[str] = set()  # runtimes whose run raises


class Sleeper(Runtime):
    delay = 0.0

    def __init__(self, model_dir, info, **kwargs):
        if self.name in BROKEN:
            raise RuntimeUnavailable(f"{self.name} cannot load this graph")
        super().__init__(model_dir, info, **kwargs)
        BUILDS[self.name] += 1

    def run(self, inputs):
        RUNS[self.name] += 1
        SHAPES.append(inputs[0].shape)
        if self.name in CRASHING:
            raise RuntimeError("kernel not implemented for this shape")
        time.sleep(self.delay)
        return [np.zeros((inputs[0].shape[0], 4), np.float32)]


class Fast(Sleeper):
    name, delay = "fast", 0.001


class Medium(Sleeper):
    name, delay = "medium", 0.005


class Slow(Sleeper):
    name, delay = "slow", 0.010


def _probe(name):
    return f"{name}-lib is not installed" if name in ABSENT else None


def probe_fast():
    return _probe("fast")


def probe_medium():
    return _probe("medium")


def probe_slow():
    return _probe("slow")


def not_installed():
    return "absent-lib is not installed"


class Runtimes:
    """The fixed priority order is the slowest first: measuring must overturn it."""

    @pxcore.hookimpl
    def px_register_runtimes(self, registry):
        for cls, priority in ((Slow, 30), (Medium, 20), (Fast, 10)):
            registry.add(name=cls.name, factory=f"{__name__}:{cls.__name__}",
                         probe=f"{__name__}:probe_{cls.name}",
                         metadata={"devices": ["cpu"], "priority": {"cpu": priority}})
        registry.add(name="absent", factory=f"{__name__}:Fast", probe=f"{__name__}:not_installed",
                     metadata={"devices": ["cpu"], "priority": {"cpu": 99}})


@pytest.fixture
def fakes(monkeypatch, tmp_path):
    """Only the fake runtimes registered (the core's plugin, with Paddle Inference, off),
    counters cleared, short timing bounds, and a cache of this test's own."""
    monkeypatch.setenv(ENV_DISABLE, BUILTIN)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(runtime_choice.ENV_CHOICE, raising=False)
    monkeypatch.setattr(runtime_choice, "MAX_RUNS", 8)
    monkeypatch.setattr(runtime_choice, "SETTLE_S", 0.0)
    pxcore.plugins.reset()
    pxcore.register_plugin(Runtimes(), name="fake-runtimes")
    for state in (BUILDS, RUNS, BROKEN, ABSENT, CRASHING):
        state.clear()
    SHAPES.clear()


def _export(folder, params=b"weights"):
    """An export's files as far as the choice looks at them (content, deploy.yml)."""
    folder.mkdir(exist_ok=True)
    (folder / "model.json").write_bytes(b"program")
    (folder / "model.pdiparams").write_bytes(params)
    info = {"format": "pxcore-deploy/1", "model": "Fake", "task": "classification", "num_classes": 4,
            "inputs": [{"name": "image", "shape": [-1, 3, -1, -1]}], "input_size": [48, 40],
            "files": {"program": "model.json", "params": "model.pdiparams"},
            "transforms": None}  # (nothing to build: the core plugin is off)
    (folder / "deploy.yml").write_text(yaml.safe_dump(info))
    return folder, info


def _choices():
    return sorted(cache_dir().glob("*.json")) if cache_dir().is_dir() else []


def test_tests_never_write_the_real_user_cache():
    from pathlib import Path

    assert not str(cache_dir()).startswith(str(Path.home() / ".cache"))
    assert "pxcore-test-cache-" in str(cache_dir())


def test_auto_takes_the_fastest_it_measured_and_keeps_the_one_it_built(fakes, tmp_path):
    out, info = _export(tmp_path / "m")
    runtime, record = runtime_choice.choose(out, info, threads=2)
    assert isinstance(runtime, Fast) and record["chosen"] == "fast"
    assert BUILDS == {"fast": 1, "medium": 1, "slow": 1}  # each once; the chosen not rebuilt
    timings = record["timings_ms"]
    assert timings["fast"]["median"] < timings["medium"]["median"] < timings["slow"]["median"]
    assert timings["slow"]["median"] >= 10
    # one warm-up, then runs within the bounds, all on one batch at deploy.yml's size
    for name in timings:
        assert runtime_choice.MIN_RUNS <= timings[name]["runs"] <= 8 == RUNS[name] - 1
    assert set(SHAPES) == {(1, 3, 48, 40)}
    assert record["skipped"] == {"absent": "absent-lib is not installed"}
    (stored,) = _choices()
    assert json.loads(stored.read_text())["chosen"] == "fast"


def test_timing_stops_at_its_share_of_the_budget(fakes, monkeypatch):
    monkeypatch.setattr(runtime_choice, "MAX_RUNS", 1000)
    runtimes = {"slow": Slow(".", {}), "fast": Fast(".", {})}
    start = time.perf_counter()
    times, failed = runtime_choice.time_runtimes(runtimes, np.zeros((1, 3, 8, 8), np.float32), budget_s=0.2)
    assert failed == {}
    assert time.perf_counter() - start < 0.6
    # each stopped once it had spent its 0.1 s (so the fast one ran more)
    runs = {name: sum(map(len, blocks)) for name, blocks in times.items()}
    assert runtime_choice.MIN_RUNS <= runs["slow"] <= 11 and runs["fast"] > 2 * runs["slow"]


def test_each_runtime_runs_in_blocks_after_a_pause(fakes, monkeypatch):
    """Consecutive runs per runtime, ROUNDS blocks each, a pause before every block: a
    runtime's idle threads spinning after its calls must not slow the next one's."""
    order, pauses = [], []

    class Recording(Fast):
        def run(self, inputs):
            order.append(self.label)
            return super().run(inputs)

    runtimes = {}
    for label in ("a", "b"):
        runtimes[label] = Recording(".", {})
        runtimes[label].label = label
    sleep = time.sleep  # the fakes' own runs sleep too: only the settling pause is recorded
    monkeypatch.setattr(time, "sleep", lambda s: pauses.append(s) if s == 0.25 else sleep(s))
    monkeypatch.setattr(runtime_choice, "SETTLE_S", 0.25)
    monkeypatch.setattr(runtime_choice, "MAX_RUNS", 1000)  # the budget ends each block
    times, _ = runtime_choice.time_runtimes(runtimes, np.zeros((1, 3, 8, 8), np.float32), budget_s=0.05)
    timed = order[2:]  # after one warm-up run each
    blocks = [label for i, label in enumerate(timed) if i == 0 or timed[i - 1] != label]
    assert blocks == ["a", "b"] * runtime_choice.ROUNDS
    assert pauses == [0.25] * len(blocks)
    assert all(sum(map(len, t)) >= runtime_choice.MIN_RUNS and len(t) == runtime_choice.ROUNDS for t in times.values())


def test_a_runtime_whose_runs_take_long_stops_at_its_cap(fakes, monkeypatch):
    monkeypatch.setattr(runtime_choice, "RUNTIME_CAP_S", 0.015)
    times, _ = runtime_choice.time_runtimes({"slow": Slow(".", {})}, np.zeros((1, 3, 8, 8), np.float32),
                                            budget_s=10)
    # its warm-up and one run take 20 ms at least, past the cap: one timed run, not MIN_RUNS
    assert sum(map(len, times["slow"])) == 1 and RUNS["slow"] == 2


def test_the_choice_is_measured_once_and_reused_by_the_next_predictor(fakes, tmp_path):
    out, _ = _export(tmp_path / "m")
    first = pxcore.Predictor(out, threads=2)
    assert first.runtime == "fast"
    (stored,) = _choices()
    stamp, runs = stored.stat().st_mtime_ns, dict(RUNS)
    second = pxcore.Predictor(out, threads=2)
    assert second.runtime == "fast"
    assert dict(RUNS) == runs  # nothing timed
    assert BUILDS == {"fast": 2, "medium": 1, "slow": 1}  # only the chosen one built again
    assert _choices() == [stored] and stored.stat().st_mtime_ns == stamp


def test_threads_the_model_files_and_the_cpu_are_in_the_key(fakes, tmp_path, monkeypatch):
    out, info = _export(tmp_path / "m")
    specs = runtime_choice.candidates(out, info, "cpu")[0]

    def key(threads=2, **kwargs):
        return choice_key(out, info, specs, device="cpu", precision="fp32", threads=threads, **kwargs)[0]

    base = key()
    assert key() == base and key(threads=1) != base
    assert choice_key(out, info, specs, device="cpu", precision="fp16", threads=2)[0] != base
    assert choice_key(out, info, specs[:2], device="cpu", precision="fp32", threads=2)[0] != base
    runtime_choice.choose(out, info, threads=2)
    runtime_choice.choose(out, info, threads=1)
    assert len(_choices()) == 2 and BUILDS["slow"] == 2  # measured for each thread count
    _export(out, params=b"retrained weights")
    assert key() != base
    runtime_choice.choose(out, info, threads=2)
    assert len(_choices()) == 3 and BUILDS["slow"] == 3
    from pxcore.inference import choice_cache

    monkeypatch.setattr(choice_cache, "cpu_identity", lambda: {**cpu_identity(), "flags": "other"})
    assert key() not in {base, *[p.stem for p in _choices()]}


def test_a_cached_runtime_that_no_longer_runs_is_measured_again(fakes, tmp_path, caplog):
    out, info = _export(tmp_path / "m")
    assert runtime_choice.choose(out, info, threads=2)[1]["chosen"] == "fast"
    # it fails on the model now (same runtimes, same key): a warning, then the others timed
    BROKEN.add("fast")
    builds = dict(BUILDS)
    with caplog.at_level(logging.WARNING, logger="pxcore"):
        runtime, record = runtime_choice.choose(out, info, threads=2)
    assert isinstance(runtime, Medium) and not record["cached"]
    assert BUILDS["medium"] == builds["medium"] + 1 and BUILDS["slow"] == builds["slow"] + 1
    assert "fast cannot load this graph" in record["skipped"]["fast"]
    assert any("fast" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert runtime_choice.choose(out, info, threads=2)[1]["cached"]
    # it is not usable here any more: measured among the others
    BROKEN.clear()
    ABSENT.add("fast")
    builds = dict(BUILDS)
    runtime, record = runtime_choice.choose(out, info, threads=2)
    assert isinstance(runtime, Medium) and not record["cached"] and BUILDS["slow"] == builds["slow"] + 1
    assert record["skipped"]["fast"] == "fast-lib is not installed"


def test_a_runtime_whose_run_fails_is_skipped_with_a_warning(fakes, tmp_path, caplog):
    out, info = _export(tmp_path / "m")
    CRASHING.add("fast")
    with caplog.at_level(logging.WARNING, logger="pxcore"):
        runtime, record = runtime_choice.choose(out, info, threads=2)
    assert isinstance(runtime, Medium) and set(record["timings_ms"]) == {"medium", "slow"}
    assert record["skipped"]["fast"] == ("its run on a 1x3x48x40 input failed: RuntimeError: kernel not "
                                         "implemented for this shape")
    assert RUNS["fast"] == 1 and any("fast" in r.getMessage() for r in caplog.records)
    CRASHING.update({"medium", "slow"})
    with pytest.raises(RuntimeUnavailable, match="(?s)no runtime can run.*slow: its run on"):
        runtime_choice.choose(out, info, threads=2, remeasure=True)


def test_priority_mode_takes_the_fixed_order_without_timing(fakes, tmp_path, monkeypatch):
    out, info = _export(tmp_path / "m")
    monkeypatch.setenv(runtime_choice.ENV_CHOICE, "priority")
    assert isinstance(select_runtime(out, info, "auto"), Slow)
    assert BUILDS == {"slow": 1} and not RUNS and not _choices()
    monkeypatch.setenv(runtime_choice.ENV_CHOICE, "fastest")
    with pytest.raises(PxError, match="PXCORE_RUNTIME_CHOICE='fastest' is not one of measure, priority"):
        select_runtime(out, info, "auto")
    # a named runtime is still forced
    monkeypatch.delenv(runtime_choice.ENV_CHOICE)
    assert isinstance(select_runtime(out, info, "medium"), Medium) and not RUNS


def test_a_single_candidate_is_not_measured(fakes, tmp_path):
    out, info = _export(tmp_path / "m")
    ABSENT.update({"slow", "medium"})
    runtime, record = runtime_choice.choose(out, info, threads=2)
    assert isinstance(runtime, Fast) and not RUNS and not _choices() and record["timings_ms"] == {}
    # nor where the others are usable but fail on the model
    ABSENT.clear()
    BROKEN.update({"slow", "fast"})
    assert isinstance(select_runtime(out, info, "auto"), Medium) and not RUNS and not _choices()
    BROKEN.add("medium")
    with pytest.raises(RuntimeUnavailable, match="(?s)no runtime can run .*medium cannot load"):
        select_runtime(out, info, "auto")


def test_px_runtimes_model_dir_prints_the_timings_behind_the_choice(fakes, tmp_path, capsys):
    out, info = _export(tmp_path / "m")
    assert main(["runtimes", str(out), "--threads", "2"]) == 0
    text = capsys.readouterr().out
    record = json.loads(_choices()[0].read_text())
    assert "runtime='auto' for Fake" in text and "2 threads: fast" in text
    lines = {line.split()[0]: line for line in text.splitlines()[2:] if line.strip()}
    for name, figures in record["timings_ms"].items():
        assert f"{figures['median']:.2f}" in lines[name]
    assert "chosen" in lines["fast"] and "x the chosen" in lines["slow"]
    assert "synthetic 1x3x48x40 input" in text and "measured now" in text
    assert "absent: absent-lib is not installed" in text
    runs = dict(RUNS)
    assert main(["runtimes", str(out), "--threads", "2"]) == 0
    assert "cached in" in capsys.readouterr().out and dict(RUNS) == runs and BUILDS["fast"] == 1
    assert main(["runtimes", str(out), "--threads", "2", "--remeasure", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert RUNS["fast"] > runs["fast"] and again["chosen"] == "fast" and not again["cached"]


@pytest.mark.slow  # an export, its ONNX conversion, and about 0.4 s of timing
def test_auto_measures_paddle_and_onnxruntime_on_a_real_export(good_plugin, tmp_path, monkeypatch):
    pytest.importorskip("pxcore_runtime_onnx")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("paddle2onnx")
    import paddle

    from pxcore.transforms import Compose, Normalize, Resize

    monkeypatch.delenv(runtime_choice.ENV_CHOICE, raising=False)
    monkeypatch.setattr(runtime_choice, "BUDGET_S", 0.4)
    pxcore.register_plugin("pxcore_runtime_onnx.plugin")
    paddle.seed(0)
    model = pxcore.create_model("FixtureNet_cls", num_classes=3)
    model.eval_transforms = Compose([Resize(32), Normalize()])
    out = model.export(tmp_path / "inference")
    predictor = pxcore.Predictor(out, threads=2)
    _, record = runtime_choice.choose(out, predictor.info, threads=2, build_cached=False)
    assert record["cached"] and record["chosen"] == predictor.runtime
    timings = record["timings_ms"]
    assert set(timings) == {"paddle", "onnxruntime"}
    assert timings[predictor.runtime]["median"] == min(t["median"] for t in timings.values())
    assert record["input_shape"] == [1, 3, 32, 32]
    image = np.zeros((40, 48, 3), np.uint8)
    assert predictor.predict(image, topk=3) == pxcore.Predictor(out, runtime=predictor.runtime).predict(image, topk=3)


def test_a_runtime_counts_by_its_best_block():
    # a block that met a burst of other work on the shared cores is slower, never faster
    assert runtime_choice.figure([[0.009, 0.010, 0.030], [0.004, 0.005, 0.006], []]) == 0.005
