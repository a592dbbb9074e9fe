"""Where predict()'s time goes beside the network (issue 20, item 6), step by step.

    python bench/path_overhead.py [MODEL] [--runtime onnxruntime] [--rounds 300]
                                  [--image-size photo --image-size 224x224] [--write]

Exports MODEL (default MobileNetV3_small; a classifier) into a temporary folder and, for
each input (the 640x427 photo as it is, and the same photo resized to 224x224 unless
told), decodes it once and times, interleaved round by round (medians): each step of
the general path (every transform on its own, the generator made per image, the
transpose and stack), the fused path's steps (fuse, geometry, the lookup into CHW), the
bare runtime call, post-processing, and the whole ``Predictor.predict`` on the RGB
array. Decoding the JPEG is timed too, as its own row: it is the caller's I/O. Prints
a markdown table.

``--write`` then runs ``px bench --path-overhead``'s measurement (every default model
at every input size, each in its own process) and writes both tables, with the load
average at the start and the end, to bench/RESULTS.md between this script's markers.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from results_section import cpu_name, load_average, write_section  # noqa: E402  (bench/ on sys.path)

BEGIN, END = "<!-- path_overhead begin -->", "<!-- path_overhead end -->"


def breakdown(predictor, photo: Path, rounds: int) -> dict[str, float]:
    """Median seconds per step for one input; keys in the table's order."""
    from pxcore.data.images import image_list, load_image, read_image
    from pxcore.inference import classification as cls
    from pxcore.inference.fused import fuse

    pixels = read_image(photo)
    transforms = predictor.transforms
    fused = fuse(transforms)
    rng = np.random.default_rng(0)

    # each transform's input, made once so every step is timed on what it really gets
    inputs = [pixels]
    for step in transforms.transforms:
        inputs.append(step({"image": inputs[-1]}, rng)["image"])
    chw = np.asarray(inputs[-1], np.float32).transpose(2, 0, 1)
    geometry = fused.geometry({"image": pixels})["image"] if fused else None
    batch = np.ascontiguousarray(chw[None])
    logits = predictor.run(batch)[0]

    steps: dict[str, object] = {"decode the JPEG (caller's I/O)": lambda: read_image(photo),
                                "image_list": lambda: image_list(pixels),
                                "load_image (array in)": lambda: load_image(pixels, "image 0"),
                                "np.random.default_rng(0) per image": lambda: np.random.default_rng(0)}
    for i, step in enumerate(transforms.transforms):
        steps[f"general: {type(step).__name__}"] = (lambda s=step, x=inputs[i]: s({"image": x}, rng))
    steps["general: transpose + np.stack"] = lambda: np.stack([chw])
    steps["general: preprocess total"] = lambda: cls.preprocess(pixels, transforms, fused=None)
    if fused:
        steps["fused: fuse(transforms), per predict()"] = lambda: fuse(transforms)
        steps["fused: geometry (resize, crop)"] = lambda: fused.geometry({"image": pixels})
        steps["fused: lookup into CHW"] = lambda: fused.chw(geometry)
        steps["fused: preprocess total"] = lambda: cls.preprocess(pixels, transforms, fused=fused)
    steps["postprocess (softmax, top-1, dicts)"] = lambda: cls.postprocess(logits, predictor.labels, 1)
    steps[f"bare {predictor.runtime} call"] = lambda: predictor.run(batch)
    steps["whole Predictor.predict(RGB array)"] = lambda: predictor.predict(pixels)

    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(10):
        for call in steps.values():
            call()
    for _ in range(rounds):
        for name, call in steps.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(values)) for name, values in times.items()}


def breakdown_table(figures: dict[str, dict[str, float]], runtime: str) -> str:
    """Steps as rows, one "ms" and one "of the bare call" column per input."""
    sizes = list(figures)
    bare = f"bare {runtime} call"
    lines = ["| step | " + " | ".join(f"{size}: ms | {size}: of the bare call" for size in sizes) + " |",
             "|---|" + "---|---|" * len(sizes)]
    names = list(dict.fromkeys(name for steps in figures.values() for name in steps))
    for name in names:
        cells = []
        for size in sizes:
            value = figures[size].get(name)
            cells += (["-", "-"] if value is None
                      else [f"{value * 1000:.3f}", f"{value / figures[size][bare]:.1%}"])
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    from pxcore.cli.bench import OVERHEAD_SIZES, _image_size

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="MobileNetV3_small")
    parser.add_argument("--runtime", default="onnxruntime")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--image-size", action="append", type=_image_size, metavar="WxH",
                        help="'photo' (640x427) or WxH, repeatable; default: photo and 224x224")
    parser.add_argument("--workdir", type=Path, help="exports kept here and reused (default: a new temporary folder)")
    parser.add_argument("--write", action="store_true",
                        help="also run px bench --path-overhead's rows and write bench/RESULTS.md")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    sizes = args.image_size or list(OVERHEAD_SIZES)
    load_start = load_average()

    from pxcore.deploy.bench import (
        OVERHEAD_MODELS,
        OVERHEAD_TARGETS,
        _export,
        _photo,
        format_overhead,
        overhead_rows,
    )
    from pxcore.inference import Predictor

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="pxoverhead-"))
    workdir.mkdir(parents=True, exist_ok=True)
    predictor = Predictor(_export(args.model, workdir), runtime=args.runtime)
    if predictor.task != "classification":
        raise SystemExit(f"{args.model} is {predictor.task}; this breakdown is for classifiers")
    figures = {}
    for size in sizes:
        photo = _photo(workdir / ("photo.jpg" if size is None else f"photo-{size[0]}x{size[1]}.jpg"), size)
        height, width = cv2.imread(str(photo)).shape[:2]
        figures[f"{width}x{height}"] = breakdown(predictor, photo, args.rounds)
    table = breakdown_table(figures, predictor.runtime)
    heading = (f"{args.model} on {predictor.runtime}, medians of {args.rounds} interleaved rounds; "
               f"OpenCV {cv2.__version__}, numpy {np.__version__}")
    print(f"{heading}\n\n{table}")
    if not args.write:
        return

    rows = overhead_rows(list(OVERHEAD_MODELS), sizes, workdir=workdir)
    overhead = format_overhead(rows)
    print(f"\n{overhead}")
    measured = [r for r in rows if "bare_ms" in r]
    over = [f"{r['model']} at {r['image']} ({r['whole_ms'] / r['bare_ms'] - 1:+.1%})" for r in measured
            if r["whole_ms"] / r["bare_ms"] - 1 > OVERHEAD_TARGETS[r["task"]]]
    verdict = (f"{len(measured) - len(over)} of {len(measured)} rows within their target"
               + (f"; over it: {', '.join(over)}." if over else "."))
    import onnxruntime

    section = (
        f"{BEGIN}\n## predict() against the bare runtime call (issue 20, item 6): "
        f"`px bench --path-overhead` and `python bench/path_overhead.py --write`\n\n"
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu_name()}, "
        f"{os.cpu_count()} threads; OpenCV {cv2.__version__}, numpy {np.__version__}, ONNX Runtime "
        f"{onnxruntime.__version__}. Load average (1, 5, 15 min) {load_start} at the start, "
        f"{load_average()} at the end (2 means both cores busy; other sessions share them). Inputs: "
        f"scikit-learn's china.jpg re-encoded at JPEG quality 90, as it is (640x427) and resized "
        f"to 224x224 (area interpolation), given to `predict()` as RGB arrays; decoding is timed "
        f"in its own row and column. Interleaved rounds, medians.\n\n"
        f"Where the time goes, {heading}:\n\n{table}\n\n"
        f"`px bench --path-overhead --image-size photo --image-size 224x224` (runtime \"auto\", its "
        f"choice on that run; bare and whole interleaved, each first every other round, medians of "
        f"100 rounds or fewer where 30 s ran out): {verdict}\n\n{overhead}\n{END}")
    print(f"\nwrote {write_section(BEGIN, END, section)}")


if __name__ == "__main__":
    main()
