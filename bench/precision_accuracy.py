"""Accuracy at reduced precision on CPU (issue 21 item 3): bf16 and int8 against fp32 on
the held-out split of real data the project makes, each model trained here by its own
recipe, exported, and the export scored as deployed (``pxcore.deploy.evaluate_export``,
the metric ``model.evaluate`` uses).

    python bench/precision_accuracy.py                     # every case, then bench/RESULTS.md
    python bench/precision_accuracy.py --only digits-resnet18 --no-write
    python bench/precision_accuracy.py --quick --no-write  # smoke run: 1 epoch, 16 images

Cases (each trained by the code the project already has, not a copy of it):
- ``digits-resnet18``, ``digits-mobilenetv3``: the demo's classifier (``pxcore.demo.run_demo``:
  scikit-learn's real handwritten digits at 32 px, ResNet18 and MobileNetV3_small), top-1;
- ``shapes-yolov3``: the shapes detection recipe (``pxcore.recipes.shapes_detection``,
  YOLOv3-MobileNetV1 at 96 px), VOC mAP@0.5;
- ``shapes-fastscnn``: the shapes segmentation recipe (``pxcore.recipes.shapes_segmentation``,
  Fast-SCNN at 96 px), mIoU.

Each export is scored on the test split by ONNX Runtime fp32, OpenVINO f32, OpenVINO
bf16 (``Predictor(precision="bf16")``, where the CPU has it) and int8
(``quantize_export``: NNCF's post-training quantization, calibrated on up to
``--calib-images`` training images drawn at random with a fixed seed, never test
images; run by OpenVINO). A row is within target when bf16 and int8 are each within
1 point (0.01) of both fp32 figures. The Python model's own score is printed beside them.

Each finished case is kept in a JSON file beside the work folder (``--work-dir``) and
the RESULTS.md section is rewritten after each case, so an interrupted run still leaves
the rows it measured (the others listed as not measured). Each case's trained export is
recorded in its folder (``trained.json``), so a later run in the same work folder with
``--rescore`` quantizes and scores again without training again:

    python bench/precision_accuracy.py --work-dir /tmp/int8work --no-write   # trains, scores
    python bench/precision_accuracy.py --work-dir /tmp/int8work --rescore    # reuses the models
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import random
import re
import sys
import tempfile
import time
from pathlib import Path

from results_section import RESULTS, write_section  # bench/ is on sys.path

BEGIN, END = "<!-- precision_accuracy.py begin -->", "<!-- precision_accuracy.py end -->"
TARGET = 0.01  # one point of top-1 / mAP@0.5 / mIoU
CALIB_IMAGES = 300
DIGITS_EPOCHS = 6  # the demo trains 8; 6 keeps the whole script well under 40 min on 2 cores

# the precisions scored: (column, Predictor keyword arguments, batch size; "int8" is the
# quantized export). int8 is scored at batch 1 as well: an int8 graph once ran right at
# batch 8 and wrong at batch 1 (pxcore_runtime_openvino/quantize.py).
CONFIGS = [("fp32 ORT", {"runtime": "onnxruntime", "precision": "fp32"}, 8),
           ("fp32 OV", {"runtime": "openvino", "precision": "fp32"}, 8),
           ("bf16 OV", {"runtime": "openvino", "precision": "bf16"}, 8),
           ("int8 OV", {"runtime": "openvino"}, 8),
           ("int8 OV b1", {"runtime": "openvino"}, 1)]
FP32 = ("fp32 ORT", "fp32 OV")
REDUCED = ("bf16 OV", "int8 OV", "int8 OV b1")


def digits_case(model_name: str):
    def train(work: Path, quick: bool, seed: int) -> dict:
        from pxcore.demo import run_demo

        report = run_demo(work, model_name=model_name, num_epochs=1 if quick else DIGITS_EPOCHS, seed=seed)
        data = work / "data" / "digits"
        return {"export": report["exported"], "train_list": str(data / "train_list.txt"),
                "python": report["test"]["acc1"], "key": "acc1", "metric": "top-1",
                "epochs": 1 if quick else DIGITS_EPOCHS}

    def test(work: Path, seed: int):
        import pxcore as px
        from pxcore.demo import digit_transforms

        data = work / "data" / "digits"
        _, eval_t = digit_transforms()
        dataset = px.datasets.ImageNet(data, data / "test_list.txt", data / "labels.txt", eval_t)
        return dataset, f"digits (scikit-learn), 32 px, {len(dataset)} test images"
    return train, test


def recipe_case(module: str, model_name: str, key: str, metric: str, train_list: str, what: str):
    def train(work: Path, quick: bool, seed: int) -> dict:
        import importlib

        import pxcore as px

        recipe = importlib.import_module(f"pxcore.recipes.{module}")
        data = recipe.prepare(work / "data", seed=seed)
        epochs = 1 if quick else recipe.EPOCHS
        recipe.train(data, model_name, work / "train", num_epochs=epochs, seed=seed)
        best = px.load_model(work / "train" / "best_model")
        python = best.evaluate(data.test, batch_size=8)[key]
        exported = best.export(work / "inference_model")
        return {"export": str(exported), "train_list": str(data.root / train_list),
                "python": python, "key": key, "metric": metric, "epochs": epochs}

    def test(work: Path, seed: int):
        import importlib

        recipe = importlib.import_module(f"pxcore.recipes.{module}")
        data = recipe.prepare(work / "data", seed=seed)  # generated again, the same for the seed
        return data.test, f"{what}, {recipe.SIZE} px, {len(data.test)} test images"
    return train, test


# case -> (model, train: (work, quick, seed) -> JSON-able dict, test: (work, seed) -> (test set, description))
CASES = {
    "digits-resnet18": ("ResNet18", *digits_case("ResNet18")),
    "digits-mobilenetv3": ("MobileNetV3_small", *digits_case("MobileNetV3_small")),
    "shapes-yolov3": ("YOLOv3-MobileNetV1",
                      *recipe_case("shapes_detection", "YOLOv3-MobileNetV1", "bbox_map", "mAP@0.5 (VOC)",
                                   "train_list.txt", "shapes on real photos (VOC)")),
    "shapes-fastscnn": ("Fast-SCNN",
                        *recipe_case("shapes_segmentation", "Fast-SCNN", "miou", "mIoU",
                                     "seg_train_list.txt", "shapes on real photos (label images)")),
}
TRAINED = "trained.json"  # in a case's work folder: its export and Python score, once trained


def trained_case(case: str, work: Path, quick: bool, seed: int) -> dict:
    """The case trained and exported, or what an earlier run in the same work folder
    trained with the same ``quick`` and ``seed`` (its ``trained.json``; the export must
    still be there), so that quantization can be tried again without training again."""
    _, train, _ = CASES[case]
    record = work / TRAINED
    if record.is_file():
        kept = json.loads(record.read_text())
        if kept.get("quick") == quick and kept.get("seed") == seed and Path(kept["export"]).is_dir():
            print(f"{case}: trained export reused from {record} (trained in {kept['train_minutes']:.1f} min)")
            return {**kept, "reused": True}
    start = time.perf_counter()
    trained = train(work, quick, seed)
    trained.update(export=str(trained["export"]), python=float(trained["python"]))
    trained.update(quick=quick, seed=seed, train_minutes=(time.perf_counter() - start) / 60)
    record.write_text(json.dumps(trained, indent=1))
    return {**trained, "reused": False}


def calibration_images(train_list: Path, count: int, seed: int) -> list[str]:
    """Up to ``count`` training images, drawn at random (a list may be ordered by class)."""
    from pxcore.deploy.quantize import read_image_list

    images = read_image_list(train_list)
    random.Random(seed).shuffle(images)
    return images[:count]


def measure(case: str, work: Path, quick: bool, seed: int, calib: int) -> dict:
    from pxcore.deploy.evaluate import evaluate_export
    from pxcore.deploy.quantize import quantize_export
    from pxcore.inference.predictor import Predictor

    model, _, make_test = CASES[case]
    load = os.getloadavg()[0]
    trained = trained_case(case, work, quick, seed)
    test, data = make_test(work, seed)
    images = calibration_images(Path(trained["train_list"]), calib, seed)
    start = time.perf_counter()
    int8_dir = quantize_export(trained["export"], images, work / "inference_int8", num_images=len(images),
                               runtime="openvino", calibration_list=str(trained["train_list"]))
    quantize_seconds = time.perf_counter() - start
    from pxcore.inference.deploy_file import read_deploy_info

    info = read_deploy_info(int8_dir)
    method = info["calibration"]["method"]
    layers = int8_layers(int8_dir / info["files"]["int8"]["model"])
    scores, runtimes = {}, {}
    for column, kwargs, batch_size in CONFIGS:
        directory = int8_dir if column.startswith("int8") else trained["export"]
        try:
            predictor = Predictor(directory, threads=2, **kwargs)
        except Exception as error:  # bf16 refused on a CPU without it: say so in the row
            scores[column], runtimes[column] = None, f"refused: {error}"
            continue
        runtimes[column] = f"{predictor.runtime} {predictor.precision}"
        scores[column] = float(evaluate_export(predictor, test, batch_size=batch_size)[trained["key"]])
        print(f"{case}: {column} ({runtimes[column]}): {trained['metric']} {scores[column]:.4f}", flush=True)
    return {"case": case, "model": model, "data": data, "metric": trained["metric"], "test_images": len(test),
            "epochs": trained["epochs"], "python": trained["python"], "scores": scores,
            "runtimes": runtimes, "calibration_images": len(images), "train_minutes": trained["train_minutes"],
            "reused": trained["reused"], "quantize_seconds": quantize_seconds, "int8_method": method,
            "int8_layers": layers, "load": [load, os.getloadavg()[0]],
            "minutes": (0 if trained["reused"] else trained["train_minutes"]) + (time.perf_counter() - start) / 60}


def int8_layers(xml: Path) -> str:
    """"int8 of all" weighted layers (convolutions, matrix products) of the int8 model."""
    from pxcore_runtime_openvino.quantize import quantized_share
    from pxcore_runtime_openvino.runtime import core

    quantized, total = quantized_share(core().read_model(str(xml)))
    return f"{quantized}/{total}"


def verdict(row: dict) -> tuple[dict, bool]:
    """Points (x100) of bf16 and int8 against OpenVINO f32; within target when each is
    within ``TARGET`` of both fp32 figures."""
    s = row["scores"]
    diffs = {c: None if s.get(c) is None or s.get("fp32 OV") is None else 100 * (s[c] - s["fp32 OV"])
             for c in REDUCED}
    ok = all(s.get(c) is not None and all(s.get(f) is not None and abs(s[c] - s[f]) <= TARGET + 1e-9
                                          for f in FP32)
             for c in REDUCED)
    return diffs, ok


def table(rows: list[dict], missing: list[str]) -> str:
    def fmt(value):
        return "-" if value is None else f"{value:.4f}"

    lines = ["| model | data | metric | Python (Paddle) | fp32 ONNX Runtime | fp32 OpenVINO | bf16 OpenVINO | "
             "int8 OpenVINO (NNCF) | int8, batch 1 | bf16 - fp32 (points) | int8 - fp32 (points) | "
             "int8 batch 1 - fp32 (points) | int8 layers | within 1 point? |",
             "|---" * 14 + "|"]
    for r in rows:
        diffs, ok = verdict(r)
        s = r["scores"]
        lines.append(f"| {r['model']} | {r['data']} | {r['metric']} | {fmt(r['python'])} | "
                     + " | ".join(fmt(s.get(c)) for c, _, _ in CONFIGS) + " | "
                     + " | ".join("-" if diffs[c] is None else f"{diffs[c]:+.2f}" for c in REDUCED)
                     + f" | {r.get('int8_layers', '-')} | {'yes' if ok else 'NO'} |")
    for case in missing:
        model = CASES[case][0]
        lines.append(f"| {model} | not measured ({case}: the run stopped before it) |" + " |" * 12)
    return "\n".join(lines)


def cpu_description() -> str:
    name = platform.processor() or "CPU"
    flags = ""
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        name = found.group(1).strip() if found else name
        line = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
        have = set(line.group(1).split()) if line else set()
        flags = ", ".join(f for f in ("avx512_bf16", "avx512_vnni", "amx_bf16") if f in have)
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores" + (f" ({flags})" if flags else "")


def versions() -> str:
    from importlib import metadata

    out = []
    for dist in ("paddlepaddle", "onnxruntime", "openvino", "nncf"):
        try:
            out.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(out)


def section(rows: list[dict], missing: list[str], args) -> str:
    minutes = sum(r["minutes"] for r in rows)
    calib = sorted({r["calibration_images"] for r in rows})
    details = "; ".join(
        f"{r['model']}: {r['epochs']} epochs, trained in {r['train_minutes']:.1f} min"
        f"{' (by an earlier run in the same work folder)' if r.get('reused') else ''}, quantized in "
        f"{r['quantize_seconds']:.0f} s on {r['calibration_images']} images" for r in rows)
    methods = sorted({r.get("int8_method", "a quantizer not recorded") for r in rows})
    loads = [value for r in rows for value in r.get("load", [])]
    grain = "; ".join(sorted({f"one of {r['test_images']} test images is {100 / r['test_images']:.2f} points "
                              f"of {r['metric']}" for r in rows if r["metric"] == "top-1" and r.get("test_images")}))
    reused = any(r.get("reused") for r in rows)
    load = (f"the 1-minute load average was {min(loads):.1f} to {max(loads):.1f} at the starts and ends of "
            f"the cases, where 2 means both cores busy;" if loads else "the load was not recorded;")
    runs = sorted({f"{c}: {r['runtimes'][c]}" for r in rows for c, _, _ in CONFIGS if c in r["runtimes"]})
    return (f"{BEGIN}\n## Accuracy at bf16 and int8 on CPU (issue 21 item 3): "
            f"`python bench/precision_accuracy.py{' --quick' if args.quick else ''}`\n\n"
            f"{datetime.date.today().isoformat()}, {cpu_description()}, {versions()}, seed {args.seed}; "
            f"other sessions' processes shared the cores: {load} minutes are not speeds. Each model trained here by "
            f"its recipe, exported, and the export scored on the held-out test split "
            f"(`pxcore.deploy.evaluate_export`, the metric `model.evaluate` uses). int8: `quantize_export` "
            f"(NNCF post-training quantization) calibrated on {', '.join(map(str, calib)) or '-'} training "
            f"images drawn at random (seed {args.seed}), run by OpenVINO; int8 by "
            f"{' / '.join(methods) or '-'}. Scored at batch 8, int8 at batch 1 too. \"int8 layers\": "
            f"convolutions and matrix products with int8 weights, of all. Differences in points (x100) against "
            f"OpenVINO f32; \"within 1 point\" means bf16 and int8 (both batch sizes) each within 0.01 of both "
            f"fp32 figures{f' ({grain})' if grain else ''}. Cases took {minutes:.1f} min in all"
            f"{' (quantizing and scoring; the reused exports had been trained before)' if reused else ''}.\n\n{table(rows, missing)}\n\n"
            f"{details}.\nRuntimes as built: {'; '.join(runs)}.\n{END}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=sorted(CASES), help="default: every case")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calib-images", type=int, default=CALIB_IMAGES)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 epoch, 16 calibration images")
    parser.add_argument("--work-dir", help="keep the models and data here (default: a temporary folder)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md")
    parser.add_argument("--rescore", action="store_true",
                        help="quantize and score again the cases the work folder's rows.json holds "
                             "(their trained exports are reused)")
    args = parser.parse_args()
    logging.getLogger("pxcore").setLevel(logging.WARNING)
    calib = 16 if args.quick else args.calib_images
    cases = args.only or list(CASES)
    work_root = Path(args.work_dir or tempfile.mkdtemp(prefix="pxbench-precision-"))
    done_file = work_root / "rows.json"
    rows = json.loads(done_file.read_text()) if done_file.exists() else []
    rows = [r for r in rows if r["case"] in cases and not args.rescore]
    started = time.perf_counter()
    for case in cases:
        if any(r["case"] == case for r in rows):
            print(f"{case}: kept from {done_file}")
            continue
        rows.append(measure(case, work_root / case, args.quick, args.seed, calib))
        done_file.write_text(json.dumps(rows, indent=1))
        missing = [c for c in cases if not any(r["case"] == c for r in rows)]
        print(table(rows, missing), flush=True)
        if not args.no_write:
            write_section(BEGIN, END, section(rows, missing, args))
    if not args.no_write and rows:
        write_section(BEGIN, END, section(rows, [c for c in cases if not any(r["case"] == c for r in rows)], args))
    print(f"whole run {(time.perf_counter() - started) / 60:.1f} min; work in {work_root}")
    if not args.no_write:
        print(f"written to {RESULTS}")
    return 0 if all(verdict(r)[1] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
