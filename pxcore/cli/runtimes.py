"""``px runtimes``: which inference runtimes are installed, and whether they run here."""

from __future__ import annotations

import json

from .table import format_table


def add_parser(sub, name):
    p = sub.add_parser(name, help="list inference runtimes and whether they run here")
    p.add_argument("--device", choices=["cpu", "gpu"], help="only runtimes for this device")
    p.add_argument("--json", action="store_true")
    return p


def run(args) -> int:
    from ..inference.runtime import runtime_report

    rows = runtime_report(args.device)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(format_table(
        ["runtime", "from", "devices", "auto priority", "status"],
        [[r["name"], r["distribution"], ",".join(r["devices"]),
          " ".join(f"{d}={p}" for d, p in r["priority"].items()),
          "usable" if r["usable"] else f"no: {r['reason']}"] for r in rows]))
    print("\nPredictor(runtime='auto') takes the usable runtime of highest priority for the "
          "device that can load the model.")
    limits = [(r["name"], op, why) for r in rows for op, why in r["unsupported_ops"].items()]
    if limits:
        print("\nGraph ops a runtime cannot run (models using them, such as the R-CNNs, need "
              "another runtime):")
        print(format_table(["runtime", "op", "why"], [list(row) for row in limits]))
    return 0
