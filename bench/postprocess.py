"""Post-processing against the network (issue 20, item 5): for each YOLO zoo row at its
evaluation size (608x608), untrained weights, the zoo's evaluation thresholds (score
0.01, the presets' NMS), the exported network's time in ONNX Runtime against the numpy
post-processing's (box decoding and NMS, what ``Predictor.predict`` runs after it).

    python bench/postprocess.py                       # every YOLO row, then bench/RESULTS.md
    python bench/postprocess.py --only YOLOv3-ResNet34 --no-write

Two post-processing inputs per row:
- ``untrained``: the network's own raw outputs on a real photo (scikit-learn's
  china.jpg): untrained heads put many candidates above 0.01 (or, for some backbones,
  none);
- ``worst case``: those outputs with every candidate of every class above the threshold
  (objectness, and PP-YOLO's IoU branch, logits set to 8; class logits uniform in
  (-3, 3); box logits N(0, 0.5), anchor-sized boxes), so NMS gets as many candidates
  as the presets' ``nms_top_k`` lets through: 1,000 a class for YOLOv3. PP-YOLO's
  Matrix NMS is uncapped (``nms_top_k`` -1, as PaddleDetection): 22,743 candidates a
  class. Measured so, as the preset runs it: with keep_top_k 100, NMS goes through
  the best candidates across classes first and stops once they settle the output
  (``pxcore.ops.nms``); ``--ppyolo-cap N`` caps it at N a class instead.

Timings are means over ``--repeats`` runs after one warm-up; the network runs with
ONNX Runtime's default threads. Minutes depend on what else shares the machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from results_section import RESULTS, write_section  # bench/ is on sys.path

BEGIN, END = "<!-- postprocess.py begin -->", "<!-- postprocess.py end -->"
ROWS = ["PPYOLO", "YOLOv3-DarkNet53", "YOLOv3-MobileNetV1", "YOLOv3-MobileNetV3_large",
        "YOLOv3-ResNet34"]


def _mean_s(fn, repeats: int) -> tuple[float, object]:
    result = fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        result = fn()
    return (time.perf_counter() - start) / repeats, result


def photo(size: int) -> np.ndarray:
    import cv2
    from sklearn.datasets import load_sample_image

    return cv2.resize(load_sample_image("china.jpg"), (size, size), interpolation=cv2.INTER_AREA)


def worst_case(outputs, postprocess, seed: int = 0):
    """Raw outputs whose every candidate scores above 0.01 in every class."""
    rng = np.random.default_rng(seed)
    forced = []
    for out, mask in zip(outputs, postprocess.anchor_masks, strict=True):
        out = np.array(out, np.float32)
        batch, _, height, width = out.shape
        na = len(mask)
        head = out[:, na:] if postprocess.iou_aware else out
        if postprocess.iou_aware:
            out[:, :na] = 8.0
        p = head.reshape(batch, na, 5 + postprocess.num_classes, height, width)
        p[:, :, 0:4] = rng.normal(0, 0.5, p[:, :, 0:4].shape)
        p[:, :, 4] = 8.0
        p[:, :, 5:] = rng.uniform(-3, 3, p[:, :, 5:].shape)
        forced.append(out)
    return forced


def candidates(outputs, postprocess) -> tuple[int, int]:
    """Candidates above the score threshold: the most in one class, and in all classes
    after each class's nms_top_k."""
    from pxcore_yolov3.postprocess import NMS_DEFAULTS

    options = {**NMS_DEFAULTS[postprocess.nms.get("type", "multiclass")], **postprocess.nms}
    _, scores = postprocess.decode(outputs)
    above = (scores[0] > options["score_threshold"]).sum(0)
    top_k = options["nms_top_k"]
    capped = np.minimum(above, top_k) if top_k > -1 else above
    return int(above.max()), int(capped.sum())


def measure(name: str, workdir: Path, repeats: int, ppyolo_cap: int) -> list[dict]:
    import paddle

    import pxcore
    from pxcore.inference.detection import preprocess
    from pxcore_yolov3.postprocess import NMS_DEFAULTS

    paddle.seed(0)
    model = pxcore.create_model(name)
    size = int(model.spec.metadata.get("input_size", 608)) if getattr(model, "spec", None) else 608
    model.export(workdir / name)
    predictor = pxcore.Predictor(workdir / name, runtime="onnxruntime")
    chw, scale, hw = preprocess(photo(size), predictor.transforms)
    batch = chw[None]
    network, outputs = _mean_s(lambda: predictor.run(batch), repeats)
    post = predictor._postprocess
    scale, hw = scale[None], [hw]
    rows = []
    for case in ("untrained", "worst case"):
        raw = outputs if case == "untrained" else worst_case(outputs, post)
        kind = post.nms.get("type", "multiclass")
        nms = {"type": kind, **NMS_DEFAULTS[kind], **post.nms}
        if case == "worst case" and kind == "matrix":
            nms["nms_top_k"] = ppyolo_cap
        run = type(post)(**{**post.to_config(), "nms": nms})
        most, total = candidates(raw, run)
        seconds, dets = _mean_s(lambda run=run, raw=raw: run(raw, scale, hw), repeats)
        rows.append({"model": name, "case": case, "input": f"{batch.shape[2]}x{batch.shape[3]}",
                     "nms": f"{kind}, nms_top_k {nms['nms_top_k']}",
                     "most": most, "total": total, "boxes": len(dets[0]),
                     "network_ms": network * 1000, "post_ms": seconds * 1000})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| model | input | case | NMS | candidates (most in a class / all, after nms_top_k) "
             "| boxes out | network ms (ONNX Runtime) | post-processing ms | post / network |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['input']} | {r['case']} | {r['nms']} | "
                     f"{r['most']:,} / {r['total']:,} | {r['boxes']} | {r['network_ms']:.0f} | "
                     f"{r['post_ms']:.1f} | {r['post_ms'] / r['network_ms']:.1%} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=ROWS, help="zoo rows to measure")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ppyolo-cap", type=int, default=-1,
                        help="PP-YOLO's worst case: nms_top_k, candidates a class (default -1: "
                             "uncapped, as its preset)")
    parser.add_argument("--note", default="", help="a sentence for the table's text")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only:
            rows += measure(name, Path(tmp), args.repeats, args.ppyolo_cap)
            print(table(rows[-2:]).splitlines()[-2:], flush=True)
    text = table(rows)
    print(text)
    if not args.no_write:
        cap = ("PP-YOLO's uncapped, as its preset" if args.ppyolo_cap < 0 else
               f"PP-YOLO's capped at {args.ppyolo_cap:,} a class")
        section = (f"{BEGIN}\n## Post-processing against the network (issue 20): "
                   f"`python bench/postprocess.py`\n\n"
                   f"Untrained weights at the evaluation size, the zoo's thresholds (score 0.01; "
                   f"YOLOv3: multiclass NMS 0.45, nms_top_k 1,000, keep_top_k 100; PP-YOLO: Matrix "
                   f"NMS, uncapped). Network: the exported model in ONNX Runtime, one image; "
                   f"post-processing: decoding and NMS in numpy (`pxcore.ops.nms`), as "
                   f"`Predictor.predict` runs them. \"worst case\": every candidate of every class "
                   f"above the threshold ({cap}). Means of "
                   f"{args.repeats} runs after a warm-up. Target: post-processing at most 10% of "
                   f"the network. {args.note}\n\n{text}\n{END}")
        write_section(BEGIN, END, section)
        print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
