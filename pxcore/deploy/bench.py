"""``px bench``: deployed latency measured the way the zoo's table was, beside its figures.

Each (model, runtime) runs in its own process so its peak memory is its own. A model
is exported once (ImageNet class count, untrained weights: latency does not depend on
the values), then ``Predictor.run`` is timed on a batch at the model's input size:
warm-up runs dropped, mean milliseconds per image over the repeated runs and images per
second (what a larger ``--batch-size`` buys), copies in and out included (the runtime
takes and returns host arrays).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import zoo
from ..contract import declared
from ..inference.shapes import typical_input_size


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM belongs to the address space,
    so it starts afresh in a child; ru_maxrss is kept across exec from the parent that
    forked it, so it would report the parent's peak instead."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _export(name: str, root: Path, legacy: bool = False) -> Path:
    """The model exported once (with the pre-PIR program too if Paddle Lite will run it)."""
    import pxcore

    out = root / name
    if not (out / "deploy.yml").is_file() or (legacy and not (out / "legacy").is_dir()):
        model = pxcore.create_model(name)
        # a model whose graph has no pre-PIR form is measured without Lite (which says why)
        legacy = legacy and not declared(model.net, "legacy_export_refusal")
        model.export(out, legacy=legacy)
    return out


def bare_call(predictor, batch: np.ndarray):
    """The bare runtime call on ``batch`` as a function of nothing: ``run(batch)``, or for
    a graph with its own NMS (a PaddleX 2.x detector export) ``run_graph`` with the
    batch's im_shape and a scale factor of 1."""
    if predictor.takes_final_boxes_feed:
        count, _, height, width = batch.shape
        feed = {"image": batch, "im_shape": np.tile(np.float32([height, width]), (count, 1)),
                "scale_factor": np.ones((count, 2), np.float32)}
        return lambda: predictor.run_graph(feed)
    return lambda: predictor.run(batch)


def measure(model_dir: Path, runtime: str, batch_size: int, threads: int | None, warmup: int,
            repeats: int, precision: str | None = None) -> dict[str, Any]:
    """One runtime on one exported model (runs in the child process)."""
    from ..inference.graphs import graph_files
    from ..inference.predictor import Predictor

    predictor = Predictor(model_dir, runtime=runtime, threads=threads, precision=precision)
    height, width = predictor.info.get("input_size") or typical_input_size(predictor.transforms)
    batch = np.random.default_rng(0).random((batch_size, 3, height, width), dtype=np.float32)
    call = bare_call(predictor, batch)
    for _ in range(warmup):
        call()
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    elapsed = time.perf_counter() - start
    weights = graph_files(predictor.info, ("params",))  # one graph's, or each graph's
    return {"runtime": predictor.runtime, "precision": predictor._runtime.precision,
            "ms_per_image": elapsed / repeats / batch_size * 1000,
            "images_per_s": repeats * batch_size / elapsed,
            "size_mb": sum((model_dir / name).stat().st_size for name in weights) / 2**20,
            "peak_mb": peak_rss_mb()}


#: What ``predict()`` may add to the bare runtime call, per task (issue 20).
OVERHEAD_TARGETS = {"classification": 0.10, "detection": 0.05, "instance_segmentation": 0.05,
                    "semantic_segmentation": 0.05}
#: ``px bench --path-overhead`` without models: the smallest classifier (its network
#: the fastest, so the overhead shows most), two more, a YOLO row and a segmenter.
OVERHEAD_MODELS = ("MobileNetV3_small", "MobileNetV1", "ResNet50", "YOLOv3-MobileNetV1", "Fast-SCNN")


def network_input(predictor, pixels: np.ndarray) -> np.ndarray:
    """The contiguous batch of one that ``predictor.predict(pixels)`` hands the runtime."""
    from ..inference import classification, detection, segmentation

    if predictor.task == "semantic_segmentation":
        divisor = int(predictor.info["postprocess"].get("size_divisor", 32))
        hwc = segmentation.preprocess(pixels, predictor.transforms)[0]
        batch = segmentation._pad_batch([hwc], divisor)
    elif predictor.task == "classification":
        batch = classification.preprocess(pixels, predictor.transforms)[None]
    else:
        batch = detection.preprocess(pixels, predictor.transforms)[0][None]
    return np.ascontiguousarray(batch, np.float32)


def path_overhead(model_dir: Path, image: Path, runtime: str, threads: int | None, warmup: int,
                  repeats: int, budget_s: float = 30.0) -> dict[str, Any]:
    """``predictor.predict`` on the decoded photo (an RGB array: pre-processing, run,
    post-processing) against the bare runtime call on its network input, interleaved
    (each goes first every other round), medians; decoding the JPEG timed on its own,
    being the caller's I/O. Stops after ``budget_s`` once 10 rounds are in."""
    from ..data.images import read_image
    from ..inference.predictor import Predictor

    predictor = Predictor(model_dir, runtime=runtime, threads=threads)
    pixels = read_image(image)
    bare = bare_call(predictor, network_input(predictor, pixels))
    for _ in range(warmup):
        bare()
        predictor.predict(pixels)
    timed = {"bare": (bare, []), "whole": (lambda: predictor.predict(pixels), []),
             "decode": (lambda: read_image(image), [])}
    deadline = time.perf_counter() + budget_s
    for round_ in range(repeats):
        for key in (("bare", "whole") if round_ % 2 == 0 else ("whole", "bare")) + ("decode",):
            call, times = timed[key]
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        if round_ >= 9 and time.perf_counter() > deadline:
            break
    height, width = pixels.shape[:2]
    return {"runtime": predictor.runtime, "task": predictor.task, "image": f"{width}x{height}",
            "rounds": len(timed["bare"][1]),
            **{f"{key}_ms": float(np.median(times)) * 1000 for key, (_, times) in timed.items()}}


def _photo(path: Path, size: tuple[int, int] | None = None) -> Path:
    """A real 640x427 photo (scikit-learn ships it) for the decode cost; a synthetic
    640x480 JPEG with a photo's gradients and noise where scikit-learn is missing.
    ``size`` (width, height): the same photo resized to it (area interpolation when
    shrinking, bilinear when enlarging)."""
    import cv2

    try:
        from sklearn.datasets import load_sample_image

        image = load_sample_image("china.jpg")
    except ImportError:
        rng = np.random.default_rng(0)
        y, x = np.mgrid[0:480, 0:640]
        image = np.stack([x / 640 * 255, y / 480 * 255, (x + y) / 1120 * 255], -1)
        image = np.clip(image + rng.normal(0, 20, image.shape), 0, 255).astype(np.uint8)
    if size is not None and tuple(size) != (image.shape[1], image.shape[0]):
        shrink = size[0] * size[1] < image.shape[0] * image.shape[1]
        image = cv2.resize(image, tuple(size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


def overhead_rows(models: list[str], sizes: list[tuple[int, int] | None], runtime: str = "auto",
                  threads: int | None = None, warmup: int = 10, repeats: int = 100,
                  workdir: Path | None = None) -> list[dict[str, Any]]:
    """``path_overhead`` for every model at every image size (None: the photo as it is;
    (width, height): the photo resized to it), each in its own process; a model that
    cannot be exported gives its reason."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="pxbench-"))
    photos = {size: _photo(workdir / ("photo.jpg" if size is None else f"photo-{size[0]}x{size[1]}.jpg"), size)
              for size in dict.fromkeys(sizes)}
    rows = []
    for name in models:
        try:
            exported = _export(name, workdir)
        except Exception as exc:  # an unknown name, a model without export: its row says so
            rows.append({"model": name, "error": [str(exc).splitlines()[0] if str(exc) else type(exc).__name__]})
            continue
        for size, photo in photos.items():
            figures = _child(["overhead", str(exported), str(photo), runtime, str(threads or 0),
                              str(warmup), str(repeats)])
            rows.append({"model": name, **figures})
            print(f"  {name}, {figures.get('image', size)}: "
                  + (f"{figures['whole_ms']:.2f} ms against {figures['bare_ms']:.2f} ms"
                     if "error" not in figures else f"not run: {figures['error']}"),
                  file=sys.stderr, flush=True)
    return rows


def format_overhead(rows: list[dict[str, Any]]) -> str:
    """One line per model and image: the bare call, the whole predict() path, what the
    path adds against its task's target, and the decode a path input would add on top."""
    header = ["model", "image", "runtime", "bare ms", "whole ms", "overhead", "target", "decode ms"]
    table = []
    for row in rows:
        if "error" in row:
            table.append([row["model"], "-", "-", "-", "-", f"not run: {' '.join(row['error'])[:60]}",
                          "-", "-"])
            continue
        extra = row["whole_ms"] / row["bare_ms"] - 1
        target = OVERHEAD_TARGETS[row["task"]]
        table.append([row["model"], row.get("image", "-"), row["runtime"], f"{row['bare_ms']:.2f}",
                      f"{row['whole_ms']:.2f}",
                      f"{extra:+.1%} {'ok' if extra <= target else 'OVER'}", f"{target:.0%}",
                      f"{row['decode_ms']:.2f}"])
    widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(len(header))]
    lines = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
             for r in [header, *table]]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _child(args: list[str]) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", "pxcore.deploy.bench", *args],
                            capture_output=True, text=True)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        return {"error": (result.stderr or result.stdout).strip().splitlines()[-1:] or ["failed"]}
    return json.loads(lines[-1])


def seed_row(name: str) -> zoo.ZooEntry | None:
    rows = zoo.lookup(name)
    return rows[0] if rows else None


def run_bench(models: list[str], runtimes: list[str], batch_size: int = 1, threads: int | None = None,
              warmup: int = 10, repeats: int = 30, workdir: Path | None = None,
              rounds: int = 2, precision: str | None = None) -> list[dict[str, Any]]:
    """Figures for every (model, runtime); a runtime that cannot run a model (or not at
    ``precision``; None: the export's own) gives its reason. "auto" stands for the runtime the Predictor picks by
    default at that precision. Runtimes are
    measured in interleaved rounds and the best round kept, so that a noisy machine
    does not decide which runtime looks faster."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="pxbench-"))
    rows = []
    for name in models:
        exported = _export(name, workdir, legacy="lite" in runtimes)
        at = [precision] if precision else []
        default = _child(["default", str(exported), *at]).get("runtime")
        chosen = list(dict.fromkeys(r for r in (default if r == "auto" else r for r in runtimes) if r))
        runs: dict[str, list[dict[str, Any]]] = {runtime: [] for runtime in chosen}
        for _ in range(rounds):
            for runtime in chosen:
                runs[runtime].append(_child(["measure", str(exported), runtime, str(batch_size),
                                             str(threads or 0), str(warmup), str(repeats), *at]))
        best = {}
        for runtime, figures in runs.items():
            good = [f for f in figures if "ms_per_image" in f]
            best[runtime] = ({**min(good, key=lambda f: f["ms_per_image"]),
                              "peak_mb": max(f["peak_mb"] for f in good)} if good else figures[-1])
        for runtime in chosen:
            figures = best[runtime]
            rows.append({"model": name, "requested": runtime, "default": runtime == default,
                         "precision": precision or "-", **figures})
            print(f"  {name} on {runtime}{' (default)' if runtime == default else ''}: "
                  + (f"{figures['ms_per_image']:.2f} ms/image" if "ms_per_image" in figures
                     else f"not run: {figures['error']}"), file=sys.stderr, flush=True)
    return rows


def format_report(rows: list[dict[str, Any]], batch_size: int, threads: int | None) -> str:
    """The zoo's columns (model, size, latency, metric), ours beside the seed's."""
    header = ["model", "runtime", "precision", "size MB", f"ms/image (CPU, bs={batch_size}, {threads or os.cpu_count()} thr)",
              "images/s", "peak MB", "zoo size", "zoo latency", "zoo metric"]
    table = []
    for row in rows:
        entry = seed_row(row["model"])
        zoo_size = ("-" if entry is None else f"{entry.params_m}M params" if entry.params_m
                    else f"{entry.size_mb} MB")
        zoo_latency = ("-" if entry is None or entry.latency_ms is None
                       else f"{entry.latency_ms} ms ({entry.latency_device})")
        zoo_metric = "-" if entry is None else ", ".join(
            f"{k}={'-' if v is None else v}" for k, v in entry.metrics.items())
        if "error" in row:
            table.append([row["model"], row["requested"], row.get("precision", "-"), "-", f"not run: {' '.join(row['error'])[:60]}",
                          "-", "-", zoo_size, zoo_latency, zoo_metric])
            continue
        runtime = f"{row['runtime']} (default)" if row.get("default") else row["runtime"]
        table.append([row["model"], runtime, row.get("precision", "-"), f"{row['size_mb']:.1f}", f"{row['ms_per_image']:.2f}",
                      f"{row['images_per_s']:.1f}", f"{row['peak_mb']:.0f}", zoo_size, zoo_latency,
                      zoo_metric])
    widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(len(header))]
    lines = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
             for r in [header, *table]]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def default_vs_fastest(rows: list[dict[str, Any]]) -> list[tuple[str, str, str, float]]:
    """Per model measured on several runtimes: (model, default runtime, fastest, ratio)."""
    out = []
    for name in dict.fromkeys(r["model"] for r in rows):
        measured = [r for r in rows if r["model"] == name and "ms_per_image" in r]
        default = next((r for r in measured if r.get("default")), None)
        if default is None or len(measured) < 2:
            continue
        fastest = min(measured, key=lambda r: r["ms_per_image"])
        out.append((name, default["runtime"], fastest["runtime"],
                    default["ms_per_image"] / fastest["ms_per_image"]))
    return out


def speedup_over(rows: list[dict[str, Any]], baseline: str = "paddle") -> tuple[float, int] | None:
    """The geometric mean over models of ``baseline``'s time over the default runtime's
    (how much faster the default Predictor is), and how many models it covers; None
    when no model has both."""
    ratios = []
    for name in dict.fromkeys(r["model"] for r in rows):
        measured = {r["runtime"]: r for r in rows if r["model"] == name and "ms_per_image" in r}
        default = next((r for r in measured.values() if r.get("default")), None)
        if default is not None and baseline in measured:  # the default may be the baseline: 1x
            ratios.append(measured[baseline]["ms_per_image"] / default["ms_per_image"])
    if not ratios:
        return None
    return float(np.exp(np.mean(np.log(ratios)))), len(ratios)


def _main(argv: list[str]) -> int:
    """Child-process entry: ``default DIR [PRECISION]``, ``measure DIR RUNTIME B THREADS
    WARMUP REPEATS [PRECISION]`` or ``overhead DIR IMAGE RUNTIME THREADS WARMUP REPEATS``; prints one JSON
    line."""
    import warnings

    warnings.filterwarnings("ignore")
    kind, *rest = argv
    if kind == "default":
        from ..inference.predictor import Predictor

        model_dir, *precision = rest  # precision: optional, the export's own unless given
        figures = {"runtime": Predictor(Path(model_dir), precision=(precision or [None])[0]).runtime}
    elif kind == "measure":
        model_dir, runtime, batch, threads, warmup, repeats, *precision = rest
        figures = measure(Path(model_dir), runtime, int(batch), int(threads) or None, int(warmup),
                          int(repeats), (precision or [None])[0])
    else:
        model_dir, image, runtime, threads, warmup, repeats = rest
        figures = path_overhead(Path(model_dir), Path(image), runtime, int(threads) or None,
                                int(warmup), int(repeats))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
