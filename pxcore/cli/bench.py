"""``px bench MODEL... --runtime R --batch-size B --threads T [--precision P]``: deployed latency, size
and peak memory beside the zoo's own figures (see pxcore.deploy.bench);
``px bench --path-overhead [MODEL...]``: what predict() adds to the bare runtime call."""

from __future__ import annotations

import os
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
    p.add_argument("--image-size", metavar="WxH", action="append", type=_image_size,
                   help="with --path-overhead: the photo resized to this size (repeat for several; "
                        "'photo': its own 640x427); default: the photo and 224x224, each a row")
    return p


#: ``--path-overhead``'s inputs unless told: the photo as it is, and the same photo at
#: 224x224, the network input size the issue's target names (a 224x224 image still goes
#: through the classifiers' resize to 256 and centre crop)
OVERHEAD_SIZES = (None, (224, 224))


def _image_size(text: str) -> tuple[int, int] | None:
    """"photo" (None: its own size) or "WxH" as (width, height)."""
    import argparse

    if text == "photo":
        return None
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or int(width) < 1 or int(height) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT (e.g. 224x224) or 'photo'")
    return int(width), int(height)


def _unambiguous(name: str, task: str) -> str:
    """The name, or for a name two tasks share (HRNet_W18) the catalog id of its first
    row in ``task``, so that the benchmark builds that model."""
    from .. import zoo

    rows = zoo.lookup(name)
    if len({row.task for row in rows}) > 1:
        return next(row.id for row in rows if row.task == task)
    return name


def path_overheads(args) -> int:
    """``--path-overhead``: one child process per model and image size, the table, the
    decode apart."""
    from ..deploy.bench import OVERHEAD_MODELS, format_overhead, overhead_rows

    models = args.path_overhead or args.models or list(OVERHEAD_MODELS)
    runtime = "auto" if args.runtime == "all" else args.runtime
    sizes = args.image_size or list(OVERHEAD_SIZES)
    rows = overhead_rows(models, sizes, runtime, args.threads, args.warmup, max(args.repeats, 100))
    table = format_overhead(rows)
    shown = list(dict.fromkeys(r["image"] for r in rows if "image" in r)) or ["640x427"]
    print(f"whole predict() path against the bare runtime call, one {' / '.join(shown)} photo given as "
          f"an RGB array (decoding it is the caller's I/O, timed apart); medians of interleaved rounds, "
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
