"""Choosing a runtime for a model: ``select_runtime`` builds the one named, or with
``runtime="auto"`` the one that runs this model fastest here, measured once.

The fastest runtime depends on the model, the machine and the runtimes' versions, so
no fixed order is right everywhere. On a model's first use, when more than one usable
runtime can run it on the device, each candidate is built and timed on a synthetic
batch at the model's input size (batch 1): one warm-up run each, then ``ROUNDS``
rounds in which each candidate in turn runs a block of consecutive runs (so that a
change of load falls on every candidate alike), after a pause of ``SETTLE_S``, until
each has had its share of about ``BUDGET_S`` seconds, with at least ``MIN_RUNS`` and at
most ``MAX_RUNS`` runs (a runtime whose runs take seconds stops at ``RUNTIME_CAP_S``).
The one whose best block has the lowest median is kept (already built) and the
others dropped; while they are timed, all of them are loaded at once.

Blocks, a pause and the best block, not single runs in turn and their median: with
single runs in turn each call met the threads the previous runtime left spinning, and
the shared cores' bursts of other work moved medians by 2x and more. Measured on 2
cores that way, MobileNetV2's medians were Paddle Inference 11.6 ms (fastest run 6.9),
ONNX Runtime 14.4 ms (4.4) and OpenVINO 39.6 ms (7.8), so "auto" took Paddle Inference,
which `px bench` (each runtime timed on its own, best round) timed at 8.2 ms against
ONNX Runtime's 4.0 and OpenVINO's 4.0. A candidate that fails
to build, or whose first run raises, is skipped with a warning.

The choice and its timings are cached (see choice_cache: keyed by the model's content,
the runtimes' versions, threads, device, precision and CPU) and reused; a cached
runtime that no longer builds is measured against the others again.

``PXCORE_RUNTIME_CHOICE=priority`` skips the measuring: "auto" then takes the usable
runtime of highest metadata priority for the device, as before measuring existed.
``px runtimes MODEL_DIR`` prints the timings behind a choice.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PxError, UnknownNameError
from .choice_cache import cache_dir, choice_key, load_choice, store_choice
from .graphs import build_runtime
from .runtime import (
    Runtime,
    RuntimeUnavailable,
    check_device,
    default_threads,
    model_refusal,
    runtime_specs,
)
from .shapes import nominal_input_size

logger = logging.getLogger("pxcore")

ENV_CHOICE = "PXCORE_RUNTIME_CHOICE"
MODES = ("measure", "priority")

BUDGET_S = 2.0  # seconds of timing in all, shared by the candidates
WARMUP_RUNS = 1
MIN_RUNS = 3
MAX_RUNS = 30
ROUNDS = 3  # blocks of runs per candidate
SETTLE_S = 0.1  # the pause before each block, for the previous runtime's threads to stop spinning
# A runtime whose runs take seconds (R-CNN at 800x1088) stops once it has spent this,
# warm-up included, with one timed run at least: fewer than MIN_RUNS then.
RUNTIME_CAP_S = 4.0


def choice_mode() -> str:
    """``PXCORE_RUNTIME_CHOICE``: "measure" (the default) or "priority"."""
    mode = os.environ.get(ENV_CHOICE) or "measure"
    if mode not in MODES:
        raise PxError(f"{ENV_CHOICE}={mode!r} is not one of {', '.join(MODES)}: 'measure' times "
                      "the usable runtimes once per model and machine, 'priority' takes the "
                      "highest-priority one without timing")
    return mode


def candidates(model_dir: Path, info: dict, device: str) -> tuple[list, dict[str, str]]:
    """(specs that are usable here and accept this model, highest priority first;
    {name: why not} for the others)."""
    usable, skipped = [], {}
    for spec in runtime_specs(device):
        reason = spec.unavailable_reason() or model_refusal(spec, info, model_dir)
        if reason is None:
            usable.append(spec)
        else:
            logger.info("runtime %s skipped: %s", spec.name, reason)
            skipped[spec.name] = reason
    return usable, skipped


def none_can_run(model_dir: Path, device: str, precision: str, skipped: dict[str, str]) -> RuntimeUnavailable:
    return RuntimeUnavailable(f"no runtime can run {model_dir} on {device} ({precision}):\n  "
                              + "\n  ".join([f"{n}: {r}" for n, r in skipped.items()]
                                            or ["none registered for this device"]))


def build(spec, model_dir: Path, info: dict, *, device: str, precision: str,
          threads: int | None) -> Runtime | str:
    """The runtime, or why it failed on this model (logged as a warning: it is usable
    here, so the user gets another runtime than they might, and should see why). A
    factory's unexpected error (SpecError) counts as a failure too: one broken runtime
    must not stop "auto" from taking another."""
    try:
        return build_runtime(spec, model_dir=model_dir, info=info, device=device, precision=precision,
                          threads=threads)
    except PxError as exc:  # RuntimeUnavailable, or SpecError wrapping the factory's error
        logger.warning("runtime='auto': the %s runtime failed on %s, trying the others: %s",
                       spec.name, model_dir, exc)
        return str(exc)


def synthetic_batch(info: dict) -> np.ndarray:
    """A batch of one at the export's input size (fixed dimensions kept)."""
    shape = list(info["inputs"][0]["shape"])
    height, width = nominal_input_size(info)
    shape = [d if isinstance(d, int) and d > 0 else (1, 3, height, width)[axis]
             for axis, d in enumerate(shape)]
    return np.random.default_rng(0).standard_normal(shape, dtype=np.float32)


def time_runtimes(runtimes: dict[str, Runtime], batch: np.ndarray, budget_s: float | None = None,
                  ) -> tuple[dict[str, list[float]], dict[str, str]]:
    """(each runtime's blocks of seconds per run on ``batch``, warm-up excluded; {name: why} for
    those whose warm-up run raised, which are not timed). In each of ``ROUNDS`` rounds
    every runtime, after a ``SETTLE_S`` pause, runs a block until it has spent its share
    of that round (warm-up counted in the first) and has its share of ``MIN_RUNS``; over
    all rounds it stops at ``MAX_RUNS``, or once it has spent ``RUNTIME_CAP_S`` and has a run."""
    budget_s = BUDGET_S if budget_s is None else budget_s
    spent = dict.fromkeys(runtimes, 0.0)
    failed: dict[str, str] = {}
    for name, runtime in runtimes.items():
        try:
            for _ in range(WARMUP_RUNS):
                start = time.perf_counter()
                runtime.run([batch])
                spent[name] += time.perf_counter() - start
        except Exception as exc:  # a runtime that builds yet cannot run the model
            failed[name] = f"its run on a {'x'.join(map(str, batch.shape))} input failed: " \
                           f"{type(exc).__name__}: {exc}"
            logger.warning("runtime='auto': the %s runtime failed on a synthetic input, "
                           "trying the others: %s", name, failed[name])
    runtimes = {name: runtime for name, runtime in runtimes.items() if name not in failed}
    share = budget_s / max(len(runtimes), 1)
    blocks: dict[str, list[list[float]]] = {name: [] for name in runtimes}

    def done(name, round_):
        """Whether ``name``'s block in round ``round_`` (0-based) is complete."""
        runs, part = sum(map(len, blocks[name])), (round_ + 1) / ROUNDS
        return (runs >= MAX_RUNS or (runs >= 1 and spent[name] >= RUNTIME_CAP_S)
                or (runs >= -(-MIN_RUNS * (round_ + 1) // ROUNDS) and spent[name] >= share * part))

    for round_ in range(ROUNDS):
        for name, runtime in runtimes.items():
            if done(name, round_):
                continue
            time.sleep(SETTLE_S)
            blocks[name].append([])
            while not done(name, round_):
                start = time.perf_counter()
                runtime.run([batch])
                elapsed = time.perf_counter() - start
                blocks[name][-1].append(elapsed)
                spent[name] += elapsed
    return blocks, failed


def figure(blocks: list[list[float]]) -> float:
    """A runtime's time: the median of its best block. The best, as ``px bench`` keeps
    its best round: on shared cores a block that met a burst of other work is slower,
    never faster, than the runtime is."""
    return min(float(np.median(block)) for block in blocks if block)


def measure(specs, skipped: dict[str, str], model_dir: Path, info: dict, *, device: str,
            precision: str, threads: int | None) -> tuple[Runtime, dict[str, Any]]:
    """Builds every spec, times those that build, keeps the fastest: (it, the record)."""
    skipped = dict(skipped)
    built: dict[str, Runtime] = {}
    for spec in specs:
        runtime = build(spec, model_dir, info, device=device, precision=precision, threads=threads)
        if isinstance(runtime, str):
            skipped[spec.name] = runtime
        else:
            built[spec.name] = runtime
    if not built:
        raise none_can_run(model_dir, device, precision, skipped)
    record: dict[str, Any] = {"model": info.get("model"), "model_dir": str(model_dir),
                              "skipped": skipped, "timings_ms": {}}
    if len(built) == 1:
        (name, runtime), = built.items()
        return runtime, {**record, "chosen": name}
    batch = synthetic_batch(info)
    blocks, failed = time_runtimes(built, batch)
    skipped.update(failed)
    if not blocks:
        raise none_can_run(model_dir, device, precision, skipped)
    figures = {name: figure(runs) for name, runs in blocks.items()}
    chosen = min(figures, key=figures.get)
    record.update(chosen=chosen, input_shape=list(batch.shape),
                  measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  timings_ms={name: {"median": figures[name] * 1000,
                                     "runs": sum(len(b) for b in blocks[name]),
                                     "min": min(min(b) for b in blocks[name] if b) * 1000}
                              for name in sorted(figures, key=figures.get)})
    logger.info("runtime='auto' chose %s for %s: %s", chosen, model_dir,
                ", ".join(f"{n} {t['median']:.2f} ms" for n, t in record["timings_ms"].items()))
    return built[chosen], record


_unwritten: dict[str, dict[str, Any]] = {}  # choices the cache folder would not take


def choose(model_dir: Path, info: dict, *, device: str = "cpu", precision: str = "fp32",
           threads: int | None = None, remeasure: bool = False, build_cached: bool = True,
           ) -> tuple[Runtime | None, dict[str, Any]]:
    """(the runtime "auto" takes for this model, the record of the choice: "chosen",
    "timings_ms" {name: {median, min, runs}}, "skipped" {name: why}, "cached" (read from
    the cache), "cache_file"). With ``build_cached=False`` a cached choice is returned
    without building its runtime (None in its place)."""
    model_dir = Path(model_dir)
    specs, skipped = candidates(model_dir, info, device)
    if not specs:
        raise none_can_run(model_dir, device, precision, skipped)
    if len(specs) == 1:  # nothing to compare
        runtime, record = measure(specs, skipped, model_dir, info, device=device,
                                  precision=precision, threads=threads)
        return runtime, {**record, "cached": False, "cache_file": None}
    key, depends = choice_key(model_dir, info, specs, device=device, precision=precision,
                              threads=threads or default_threads())
    record = None if remeasure else load_choice(key) or _unwritten.get(key)
    by_name = {spec.name: spec for spec in specs}
    if record is not None and record["chosen"] in by_name:
        path = cache_dir() / f"{key}.json"
        if not build_cached:
            return None, {**record, "cached": True, "cache_file": str(path)}
        runtime = build(by_name[record["chosen"]], model_dir, info, device=device,
                        precision=precision, threads=threads)
        if not isinstance(runtime, str):
            return runtime, {**record, "cached": True, "cache_file": str(path)}
        skipped[record["chosen"]] = runtime
        specs = [spec for spec in specs if spec.name != record["chosen"]]
    runtime, record = measure(specs, skipped, model_dir, info, device=device, precision=precision,
                              threads=threads)
    path = store_choice(key, {**record, "depends_on": depends}) if record["timings_ms"] else None
    if record["timings_ms"] and path is None:
        _unwritten[key] = record
        logger.info("runtime='auto': could not write its choice under %s; it holds for this "
                    "process only", cache_dir())
    return runtime, {**record, "depends_on": depends, "cached": False,
                     "cache_file": None if path is None else str(path)}


def select_runtime(model_dir: Path, info: dict, runtime: str = "auto", *, device: str = "cpu",
                   precision: str = "fp32", threads: int | None = None,
                   runtime_options: dict[str, Any] | None = None) -> Runtime:
    """Build the named runtime, or with "auto" the fastest one for this model here.
    ``device``: "cpu", "gpu" or "gpu:N". ``runtime_options``: keyword arguments of the
    named runtime (e.g. Paddle Inference's ``trt_shape_range``); "auto" takes none,
    since they are specific to one runtime.

    "auto" considers the runtimes for the device that are usable here and can run the
    model (one that is not installed, not for this device or cannot convert the model's
    graph is skipped quietly, at info level). Where more than one is left, the first use
    of the model on this machine times each briefly (about 2 s in all) and keeps the
    fastest; the choice is cached under ``$XDG_CACHE_HOME/pxcore/runtime-choice/`` and
    reused (see pxcore.inference.runtime_choice). A runtime that is usable here but fails
    on this model is skipped with a warning naming it and its error.
    ``PXCORE_RUNTIME_CHOICE=priority`` takes the usable runtime of highest metadata
    priority instead, without timing. ``px runtimes MODEL_DIR`` shows the timings."""
    from ..plugins import get_registry

    check_device(device, precision)
    if runtime_options and runtime == "auto":
        raise PxError(f"runtime_options ({', '.join(runtime_options)}) belong to one runtime; "
                      "name it, e.g. runtime='paddle'")
    if runtime != "auto":
        spec = get_registry().find("runtime", runtime)
        if spec is None:
            names = [s.name for s in runtime_specs()]
            raise UnknownNameError(f"no runtime named {runtime!r}; registered: {', '.join(names)} "
                                   "(`px runtimes` shows which run here)", name=runtime, kind="runtime")
        reason = spec.unavailable_reason()
        if reason is not None:
            raise RuntimeUnavailable(f"runtime {spec.name!r} cannot run here: {reason}")
        refusal = model_refusal(spec, info, model_dir)
        if refusal is not None:
            raise RuntimeUnavailable(refusal)
        return build_runtime(spec, model_dir=model_dir, info=info, device=device, precision=precision,
                          threads=threads, **(runtime_options or {}))
    if choice_mode() == "measure":
        return choose(model_dir, info, device=device, precision=precision,
                      threads=threads)[0]
    return by_priority(model_dir, info, device=device, precision=precision, threads=threads)


def by_priority(model_dir: Path, info: dict, *, device: str = "cpu", precision: str = "fp32",
                threads: int | None = None) -> Runtime:
    """The usable runtime of highest metadata priority for the device that loads this
    model (``PXCORE_RUNTIME_CHOICE=priority``), without timing any."""
    tried = []
    for spec in runtime_specs(device):
        reason = spec.unavailable_reason() or model_refusal(spec, info, model_dir)
        if reason is None:
            try:
                return build_runtime(spec, model_dir=model_dir, info=info, device=device,
                                  precision=precision, threads=threads)
            except RuntimeUnavailable as exc:
                reason = str(exc)
                # Usable here, yet it failed on this model: the user gets another runtime
                # than the best one, and should see which failed and why.
                logger.warning("runtime='auto': the %s runtime failed on %s, trying the next "
                               "one: %s", spec.name, model_dir, reason)
        else:
            logger.info("runtime %s skipped: %s", spec.name, reason)
        tried.append(f"{spec.name}: {reason}")
    raise RuntimeUnavailable(f"no runtime can run {model_dir} on {device} ({precision}):\n  "
                             + "\n  ".join(tried or ["none registered for this device"]))
