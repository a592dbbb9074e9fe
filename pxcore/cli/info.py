"""``px info NAME``: everything pxcore knows about one model."""

from __future__ import annotations

import json

from ..api import model_info
from ..specs import TASKS


def add_parser(sub, name):
    p = sub.add_parser(name, help="show one model's zoo row and preset")
    p.add_argument("name", help="zoo name, catalog id or preset name")
    p.add_argument("--task", choices=TASKS)
    p.add_argument("--dataset")
    return p


def run(args) -> int:
    print(json.dumps(model_info(args.name, task=args.task, dataset=args.dataset), indent=2))
    return 0
