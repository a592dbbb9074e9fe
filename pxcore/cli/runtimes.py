"""``px runtimes``: which inference runtimes are installed, and whether they run here.
``px runtimes MODEL_DIR``: which one ``runtime="auto"`` takes for that export, and the
timings behind the choice (from the cache, or measured now; ``--remeasure``)."""

from __future__ import annotations

import json
import logging

from .table import format_table


def add_parser(sub, name):
    p = sub.add_parser(name, help="list inference runtimes and whether they run here; with an "
                                  "exported model, the timings behind runtime='auto''s choice")
    p.add_argument("model_dir", nargs="?", help="an exported model: show which runtime 'auto' "
                                                "takes for it here and why")
    p.add_argument("--device", help="cpu, gpu or gpu:N (listing: only runtimes for this device; "
                                    "with MODEL_DIR: the device to choose for, default cpu)")
    p.add_argument("--precision", default="fp32", help="with MODEL_DIR: fp32 (default) or fp16")
    p.add_argument("--threads", type=int, help="with MODEL_DIR: runtime threads (default: "
                                               "PXCORE_NUM_THREADS, else every core)")
    p.add_argument("--remeasure", action="store_true",
                   help="with MODEL_DIR: time the runtimes again instead of reading the cache")
    p.add_argument("--json", action="store_true")
    return p


def run(args) -> int:
    if args.model_dir:
        return _choice(args)
    if args.remeasure:
        print("px runtimes: --remeasure needs an exported model: px runtimes MODEL_DIR --remeasure")
        return 2
    from ..inference.runtime import runtime_report

    rows = runtime_report(args.device)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(format_table(
        ["runtime", "from", "devices", "precisions", "auto priority", "status"],
        [[r["name"], r["distribution"], ",".join(r["devices"]), ",".join(r["precisions"]),
          " ".join(f"{d}={p}" for d, p in r["priority"].items()),
          "usable" if r["usable"] else f"no: {r['reason']}"] for r in rows]))
    print("\nPredictor(runtime='auto') takes the fastest of the usable runtimes that can run "
          "the model, timed on its first use here and cached (`px runtimes MODEL_DIR` shows "
          "the timings); PXCORE_RUNTIME_CHOICE=priority takes the highest priority instead.")
    limits = [(r["name"], op, why) for r in rows for op, why in r["unsupported_ops"].items()]
    if limits:
        print("\nGraph ops a runtime cannot run (a graph using them needs another runtime; "
              "R-CNN exports are split around them):")
        print(format_table(["runtime", "op", "why"], [list(row) for row in limits]))
    return 0


def _choice(args) -> int:
    from ..inference.deploy_file import read_deploy_info
    from ..inference.runtime import default_threads
    from ..inference.runtime_choice import ENV_CHOICE, choice_mode, choose

    device = args.device or "cpu"
    info = read_deploy_info(args.model_dir)
    threads = args.threads or default_threads()
    logger = logging.getLogger("pxcore")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))  # what it would log at info is printed below
    try:
        _, record = choose(args.model_dir, info, device=device, precision=args.precision,
                           threads=threads, remeasure=args.remeasure, build_cached=False)
    finally:
        logger.setLevel(level)
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    print(f"runtime='auto' for {info.get('model', '?')} ({args.model_dir}) on {device}, "
          f"{args.precision}, {threads} threads: {record['chosen']}")
    timings = record["timings_ms"]
    if timings:
        best = timings[record["chosen"]]["median"]
        print(format_table(
            ["runtime", "median ms", "min ms", "runs", ""],
            [[name, f"{t['median']:.2f}", f"{t['min']:.2f}", t["runs"],
              "chosen" if name == record["chosen"] else f"{t['median'] / best:.2f}x the chosen"]
             for name, t in timings.items()], indent="  "))
        shape = "x".join(str(d) for d in record.get("input_shape", []))
        source = (f"cached in {record['cache_file']} (--remeasure times them again)"
                  if record["cached"] else
                  f"measured now{', cached in ' + record['cache_file'] if record['cache_file'] else ''}")
        print(f"  timed on a synthetic {shape} input at {record.get('measured_at', '?')}; {source}")
    else:
        print(f"  only {record['chosen']} can run it here: nothing to measure")
    if record["skipped"]:
        print("skipped:")
        for name, why in record["skipped"].items():
            print(f"  {name}: {why}")
    if choice_mode() == "priority":
        print(f"\n{ENV_CHOICE}=priority is set: Predictor(runtime='auto') takes the usable "
              "runtime of highest priority instead of this choice.")
    return 0
