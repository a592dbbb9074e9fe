"""Where predict()'s time goes beside the network (issue 20, item 6), step by step.

    python bench/path_overhead.py [MODEL] [--runtime onnxruntime] [--rounds 300]

Exports MODEL (default MobileNetV3_small; a classifier) into a temporary folder, decodes
a 640x427 photo once, and times, interleaved round by round (medians): each step of
the general path (every transform on its own, the generator made per image, the
transpose and stack), the fused path's two steps (geometry, then the lookup into CHW),
the bare runtime call, post-processing, and the whole ``Predictor.predict`` on the RGB
array. Decoding the JPEG is timed too, as its own row: it is the caller's I/O.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import cv2
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="MobileNetV3_small")
    parser.add_argument("--runtime", default="onnxruntime")
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from pxcore.cli.bench import _photo
    from pxcore.data.images import image_list, load_image, read_image
    from pxcore.deploy.bench import _export
    from pxcore.inference import Predictor
    from pxcore.inference import classification as cls
    from pxcore.inference.fused import fuse

    workdir = Path(tempfile.mkdtemp(prefix="pxoverhead-"))
    predictor = Predictor(_export(args.model, workdir), runtime=args.runtime)
    if predictor.task != "classification":
        raise SystemExit(f"{args.model} is {predictor.task}; this breakdown is for classifiers")
    photo = _photo(workdir / "photo.jpg")
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
        steps["fused: fuse(transforms)"] = lambda: fuse(transforms)
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
    for _ in range(args.rounds):
        for name, call in steps.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    bare = float(np.median(times[f"bare {predictor.runtime} call"]))
    height, width = pixels.shape[:2]
    print(f"{args.model} on {predictor.runtime}, a {width}x{height} photo, medians of {args.rounds} "
          f"interleaved rounds; OpenCV {cv2.__version__}, numpy {np.__version__}\n")
    print("| step | ms | of the bare call |")
    print("|---|---|---|")
    for name, values in times.items():
        median = float(np.median(values))
        print(f"| {name} | {median * 1000:.3f} | {median / bare:.1%} |")


if __name__ == "__main__":
    main()
