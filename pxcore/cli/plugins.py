"""``px plugins``: each plugin, its version, what it provides (zoo rows included), and its
error if it failed."""

from __future__ import annotations

import json

from ..plugins import plugin_records
from .table import format_table


def add_parser(sub, name):
    p = sub.add_parser(name, help="list plugins, what they provide, and failures")
    p.add_argument("--json", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true", help="show tracebacks of failures")
    return p


def _provides(provides: dict, zoo: list) -> str:
    parts = {**provides, **({"zoo row": zoo} if zoo else {})}
    return "; ".join(f"{len(names)} {kind}{'s' if len(names) > 1 else ''}: {', '.join(names)}"
                     for kind, names in parts.items()) or "-"


def run(args) -> int:
    records = plugin_records()
    if args.json:
        print(json.dumps([r.as_dict() for r in records], indent=2))
        return 0
    rows = []
    for r in records:
        status = "disabled" if r.disabled else "FAILED" if r.error else "ok"
        rows.append([r.name, r.version or "-", r.source, status, _provides(r.provides, r.zoo)])
    print(format_table(["plugin", "version", "source", "status", "provides"], rows))
    failed = [r for r in records if r.error]
    for r in failed:
        print(f"\n{r.name} failed: {r.error}")
        if args.verbose and r.traceback:
            print(r.traceback.rstrip())
    if failed:
        print(f"\n{len(failed)} plugin(s) failed; the others work. Disable one with "
              "PXCORE_DISABLE_PLUGINS=name.")
    return 0
