"""``px models``: the zoo grouped by task, with what is installed."""

from __future__ import annotations

import json

from ..api import model_rows
from ..specs import TASKS
from .table import format_table, number


def add_parser(sub, name):
    p = sub.add_parser(name, help="list the model zoo and what is installed",
                       description="List every zoo row (and other registered models) by task.")
    p.add_argument("pattern", nargs="?", help="wildcard on names or ids, ignoring case (ResNet*)")
    p.add_argument("--task", choices=TASKS)
    p.add_argument("--dataset", help="the seed's ImageNet, COCO or Cityscapes, or a plugin's")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--installed", action="store_true", help="only what can be built now")
    shown.add_argument("--missing", action="store_true", help="only rows whose plugin is missing")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    return p


def _metric_text(metrics: dict) -> str:
    return "  ".join(f"{key}={number(value)}" for key, value in metrics.items())


def run(args) -> int:
    installed = True if args.installed else False if args.missing else None
    rows = model_rows(args.pattern, task=args.task, dataset=args.dataset, installed=installed)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    zoo_rows = [r for r in rows if r["zoo"]]
    for task in TASKS:
        group = [r for r in zoo_rows if r["task"] == task]
        if not group:
            continue
        ready = sum(r["installed"] for r in group)
        print(f"\n{task.replace('_', ' ')}: {len(group)} rows, {ready} installed")
        table = []
        for r in group:
            size = number(r["size_mb"], " MB") if r["params_m"] is None else f"{r['params_m']}M params"
            latency = number(r["latency_ms"], " ms")
            if r["latency_ms"] is not None:
                latency += f" ({r['latency_device']})"
            status = f"yes ({r['provided_by']})" if r["installed"] else "no: pip install " + " ".join(r["plugins"])
            table.append([r["id"], size, latency, _metric_text(r["metrics"]), status])
        print(format_table(["id", "size", "latency", "reported", "installed"], table, indent="  "))
    others = [r for r in rows if not r["zoo"]]
    if others:
        print(f"\nother registered models: {len(others)}")
        print(format_table(["name", "task", "from", "summary"],
                           [[r["name"], r["task"], r["provided_by"], r["summary"]] for r in others],
                           indent="  "))
    if not rows:
        print("no model matches")
    else:
        print(f"\n{len(zoo_rows)} zoo rows shown. A name shared by several rows resolves to its "
              "first; pick another with its id or task=/dataset=.")
    return 0
