"""``px bench MODEL... --runtime R --batch-size B --threads T [--precision P]``: deployed latency, size
and peak memory beside the zoo's own figures (see pxcore.deploy.bench);
``px bench --path-overhead [MODEL...]``: what predict() adds to the bare runtime call."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..specs import PRECISIONS  # not from ..inference: building the parser loads no OpenCV

# runtime="auto" measures the runtimes on each model, so its choice should be within
# timing noise of the fastest one px bench finds (issue 20)
DEFAULT_TARGET = 1.05


def add_parser(sub, name):
    p = sub.add_parser(name, help="measure deployed latency and memory beside the zoo's figures")
    p.add_argument("models", nargs="*", help="default: every installed zoo model of an exportable task "
                                                    "(every task; a name two tasks share by its catalog id)")
    p.add_argument("--runtime", default="all",
                   help="a runtime name, 'auto' (the default choice) or 'all' (auto and every usable one)")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--threads", type=int, help="runtime threads (default: all cores)")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="the runtimes' precision (default: the export's own, fp32 unless quantized; "
                        "bf16: OpenVINO on CPUs with it; fp16: GPU runtimes); a runtime that refuses "
                        "it says why in its row")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the best is kept")
    p.add_argument("--output", help="also write the table (markdown) to this file")
    p.add_argument("--path-overhead", metavar="MODEL", nargs="*", default=None,
                   help="instead, time the whole predict() path against the bare runtime call for "
                        "these models (or the ones named before; default: MobileNetV3_small, "
                        "MobileNetV1, ResNet50, YOLOv3-MobileNetV1, Fast-SCNN), one photo as an "
                        "RGB array; targets: +10%% classification, +5%% detection and segmentation")
    return p


def _photo(path: Path) -> Path:
    """A real 640x427 photo (scikit-learn ships it) for the decode cost; a synthetic
    640x480 JPEG with a photo's gradients and noise where scikit-learn is missing."""
    import cv2
    import numpy as np

    try:
        from sklearn.datasets import load_sample_image

        image = load_sample_image("china.jpg")
    except ImportError:
        rng = np.random.default_rng(0)
        y, x = np.mgrid[0:480, 0:640]
        image = np.stack([x / 640 * 255, y / 480 * 255, (x + y) / 1120 * 255], -1)
        image = np.clip(image + rng.normal(0, 20, image.shape), 0, 255).astype(np.uint8)
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


def _unambiguous(name: str, task: str) -> str:
    """The name, or for a name two tasks share (HRNet_W18) the catalog id of its first
    row in ``task``, so that the benchmark builds that model."""
    from .. import zoo

    rows = zoo.lookup(name)
    if len({row.task for row in rows}) > 1:
        return next(row.id for row in rows if row.task == task)
    return name


def path_overheads(args) -> int:
    """``--path-overhead``: one child process per model, the table, the decode apart."""
    import tempfile

    from ..deploy.bench import OVERHEAD_MODELS, _child, _export, format_overhead

    models = args.path_overhead or args.models or list(OVERHEAD_MODELS)
    runtime = "auto" if args.runtime == "all" else args.runtime
    workdir = Path(tempfile.mkdtemp(prefix="pxbench-"))
    photo = _photo(workdir / "photo.jpg")
    rows = []
    for name in models:
        try:
            exported = _export(name, workdir)
        except Exception as exc:  # an unknown name, a model without export: its row says so
            rows.append({"model": name, "error": [str(exc).splitlines()[0] if str(exc) else type(exc).__name__]})
            continue
        figures = _child(["overhead", str(exported), str(photo), runtime, str(args.threads or 0),
                          str(args.warmup), str(max(args.repeats, 100))])
        rows.append({"model": name, **figures})
        print(f"  {name}: " + (f"{figures['whole_ms']:.2f} ms against {figures['bare_ms']:.2f} ms"
                               if "error" not in figures else f"not run: {figures['error']}"),
              file=sys.stderr, flush=True)
    size = next((r["image"] for r in rows if "image" in r), "640x427")
    table = format_overhead(rows)
    print(f"whole predict() path against the bare runtime call, one {size} photo given as an RGB "
          f"array (decoding it is the caller's I/O, timed apart); medians of interleaved rounds, "
          f"{args.threads or os.cpu_count()} threads\n")
    print(table)
    if args.output:
        Path(args.output).write_text(table + "\n", encoding="utf-8")
    return 0


def run(args) -> int:
    import tempfile

    from ..api import list_models, resolve_model
    from ..deploy.bench import default_vs_fastest, format_report, run_bench, speedup_over
    from ..inference.runtime import runtime_report

    if args.path_overhead is not None:
        return path_overheads(args)
    exportable = ("classification", "detection", "instance_segmentation", "semantic_segmentation")
    models = args.models or [_unambiguous(n, task) for task in exportable
                             for n in list_models(task=task, installed=True)
                             if not resolve_model(n, task=task)[1].metadata.get("composer")]
    if args.runtime == "all":
        runtimes = ["auto", *[r["name"] for r in runtime_report("cpu") if r["usable"]]]
    else:
        runtimes = [args.runtime]
    workdir = Path(tempfile.mkdtemp(prefix="pxbench-"))
    rows = run_bench(models, runtimes, args.batch_size, args.threads, args.warmup, args.repeats, workdir,
                     args.rounds, precision=args.precision)
    table = format_report(rows, args.batch_size, args.threads)
    print(table)
    ratios = default_vs_fastest(rows)
    if ratios:
        print(f"\ndefault runtime against the fastest (target: within {DEFAULT_TARGET}x)")
        for name, default, fastest, ratio in ratios:
            verdict = "ok" if ratio <= DEFAULT_TARGET else "OVER"
            print(f"  {name}: {default} / {fastest} = {ratio:.2f}x {verdict}")
    speedup = speedup_over(rows, "paddle")
    if speedup:
        mean, count = speedup
        print(f"\ndefault runtime against Paddle Inference: {mean:.2f}x faster, geometric mean over "
              f"{count} models")
    if args.output:
        Path(args.output).write_text(table + "\n", encoding="utf-8")
    return 0
