"""OpenVINO against ONNX Runtime on CPU, fp32 and bf16 (issue 21): bare runtime calls on
exports made by pxcore, batch 1, 224x224.

    python bench/cpu_precision.py                                  # ResNet50 MobileNetV3_large DarkNet53
    python bench/cpu_precision.py ResNet18 --threads 2 --rounds 5 --no-write

Per model: ONNX Runtime fp32, OpenVINO fp32, OpenVINO bf16 (where the CPU has it) and
OpenVINO int8 (``px quantize``'s NNCF model, calibrated on 32 of scikit-learn's photos
cut and scaled at random: speed does not depend on the calibration), each built once; then rounds in which each runtime in turn runs a warm-up and then
``--runs`` timed calls; a runtime's figure is its best round's mean (the least
disturbed by whatever else runs on the cores). The max relative difference is
max |bf16 - fp32| over the largest fp32 logit, OpenVINO's bf16 against its fp32 on the
same batch. Untrained weights (the zoo's class count): speed does not depend on them.

Writes its table into bench/RESULTS.md (between this script's markers) unless
``--no-write``.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
from results_section import RESULTS, cpu_name, load_average, write_section  # bench/ is on sys.path

BEGIN, END = "<!-- cpu_precision.py begin -->", "<!-- cpu_precision.py end -->"
MODELS = ["ResNet50", "MobileNetV3_large", "DarkNet53"]
CONFIGS = [("onnxruntime", "fp32"), ("openvino", "fp32"), ("openvino", "bf16"), ("openvino", "int8")]
CALIB_IMAGES = 32


def calibration_images(count: int) -> list:
    """``count`` RGB crops of scikit-learn's two photos, at random places and sizes."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    rng = np.random.default_rng(0)
    crops = []
    for i in range(count):
        photo = photos[i % len(photos)]
        height, width = photo.shape[:2]
        h, w = int(rng.integers(height // 3, height)), int(rng.integers(width // 3, width))
        y, x = int(rng.integers(0, height - h)), int(rng.integers(0, width - w))
        crops.append(np.ascontiguousarray(photo[y:y + h, x:x + w]))
    return crops


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((x for x in text.splitlines() if x.startswith("flags")), "")
    return set(line.split(":", 1)[-1].split())


def measure(name: str, folder: Path, threads: int, rounds: int, runs: int) -> dict:
    import paddle

    import pxcore
    from pxcore.inference import RuntimeUnavailable, read_deploy_info, select_runtime

    paddle.seed(0)
    out = pxcore.create_model(name).export(folder / name)
    info = read_deploy_info(out)
    batch = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
    runtimes, skipped = {}, {}
    for runtime, precision in CONFIGS:
        try:
            if precision == "int8":
                from pxcore.deploy.quantize import quantize_export

                folder_int8 = quantize_export(out, calibration_images(CALIB_IMAGES), folder / f"{name}-int8",
                                              num_images=CALIB_IMAGES, runtime=runtime)
                runtimes[(runtime, precision)] = select_runtime(
                    folder_int8, read_deploy_info(folder_int8), runtime, precision="int8", threads=threads)
            else:
                runtimes[(runtime, precision)] = select_runtime(out, info, runtime, precision=precision,
                                                                threads=threads)
        except RuntimeUnavailable as exc:
            skipped[(runtime, precision)] = str(exc)
    best = {key: float("inf") for key in runtimes}
    for _ in range(rounds):
        for key, runtime in runtimes.items():  # interleaved: each runtime once a round
            for _ in range(3):
                runtime.run([batch])
            start = time.perf_counter()
            for _ in range(runs):
                runtime.run([batch])
            best[key] = min(best[key], (time.perf_counter() - start) / runs * 1000)
    logits = {key: runtime.run([batch])[0] for key, runtime in runtimes.items()}
    full = logits[("openvino", "fp32")]
    rel = None
    if ("openvino", "bf16") in logits:
        rel = float(np.abs(logits[("openvino", "bf16")] - full).max() / np.abs(full).max())
    return {"model": name, "ms": best, "rel": rel, "skipped": skipped}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=MODELS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=20, help="timed calls per runtime a round")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md")
    args = parser.parse_args()
    args.load_note = f"{load_average()} (1, 5, 15 min) at the start"
    logging.getLogger("pxcore").setLevel(logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory(prefix="pxbench-openvino-") as tmp:
        for name in args.models:
            row = measure(name, Path(tmp), args.threads, args.rounds, args.runs)
            rows.append(row)
            print(name, {f"{r} {p}": f"{ms:.1f} ms" for (r, p), ms in row["ms"].items()},
                  f"bf16 rel {row['rel']}", row["skipped"] or "", flush=True)

    def cell(row, key):
        return f"{row['ms'][key]:.1f} ms" if key in row["ms"] else "refused"

    ort = ("onnxruntime", "fp32")
    lines = ["| model | ONNX Runtime fp32 | OpenVINO fp32 | OpenVINO bf16 | OpenVINO int8 "
             "| bf16 vs ONNX Runtime fp32 | int8 vs ONNX Runtime fp32 | bf16 max rel. diff |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        ms = row["ms"]
        speedups = [f"{ms[ort] / ms[key]:.2f}x" if key in ms and ort in ms else "-"
                    for key in (("openvino", "bf16"), ("openvino", "int8"))]
        rel = f"{row['rel']:.1e}" if row["rel"] is not None else "-"
        lines.append(f"| {row['model']} | " + " | ".join(cell(row, key) for key in CONFIGS)
                     + f" | {' | '.join(speedups)} | {rel} |")
    refusals = sorted({why for row in rows for why in row["skipped"].values()})
    table = "\n".join(lines)
    print(table)
    if refusals:
        print("refused:", *refusals, sep="\n  ")
    if not args.no_write:
        flags = cpu_flags()
        isa = ", ".join(f for f in ("avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16") if f in flags)
        versions = ", ".join(f"{d} {metadata.version(d)}" for d in ("onnxruntime", "openvino"))
        section = (
            f"{BEGIN}\n## OpenVINO and bf16 on CPU (issue 21): `python bench/cpu_precision.py`\n\n"
            f"{datetime.date.today()}, {cpu_name()} ({isa or 'no AVX-512'}), "
            f"{args.threads} threads, {versions}. Bare runtime calls on exports made by pxcore "
            f"(untrained, the zoo's class count), batch 1, 224x224; each runtime's best of "
            f"{args.rounds} interleaved rounds of {args.runs} calls after a warm-up. int8: "
            f"`quantize_export` (NNCF), calibrated on {CALIB_IMAGES} crops of scikit-learn's "
            f"photos (its accuracy: the precision_accuracy.py section). Load average "
            f"{args.load_note}: absolute times vary between runs; compare within a row. Max "
            "rel. diff: max |bf16 - fp32| over the largest fp32 logit, OpenVINO on the same batch."
            + (f" Refused: {'; '.join(refusals)}." if refusals else "")
            + f"\n\n{table}\n{END}")
        write_section(BEGIN, END, section)
        print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
