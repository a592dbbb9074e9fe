"""The weight-layout manifests (plugins/<family>/tests/layouts/*.json, format:
pxcore/testing/layouts.py): how they are written, and the command that regenerates a
family's from the reference code.

    python -m reference.manifests FAMILY [--tool NAME] [the family's arguments ...]

runs ``plugins/FAMILY/tools/NAME.py`` (default ``make_layouts``), the family's mapping:
which reference network to build and what its network's names are; its ``main(argv)``
parses the rest (``--help`` lists what it needs) and writes through ``write``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from . import REPO
from .tools import tool  # also lets spawned children import the tool whose functions they run


def dumps(manifest: dict, *, shapes_inline: bool = True) -> str:
    """JSON indented by one, with one tensor a line: each list of numbers (a shape) on
    one line. ``shapes_inline=False`` keeps json's one number a line (ResNet's manifests
    were written so, and regenerating them must not rewrite every line)."""
    text = json.dumps(manifest, indent=1)
    if not shapes_inline:
        return text + "\n"
    return re.sub(r"\[\n\s*([\d,\s]*?)\n\s*\]",
                  lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text) + "\n"


def layouts(family: str) -> Path:
    """Where ``family``'s manifests live."""
    return REPO / "plugins" / family / "tests" / "layouts"


def write(path: Path, manifest: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(manifest), encoding="utf-8")
    return path


def add_out_argument(parser, family: str) -> None:
    """The tools' ``--out``: where the manifests go (default: the family's own)."""
    parser.add_argument("--out", type=Path, default=layouts(family),
                        help=f"the folder to write to (default: {layouts(family).relative_to(REPO)})")


def publish(out: Path, stem: str, result: dict) -> Path:
    """Write ``result["manifest"]`` to ``out/<stem>.json`` and print ``result["report"]``
    (what was checked, in lines) with where it went."""
    path = write(out / f"{stem}.json", result["manifest"])
    print("\n".join(result["report"]), f"\n  -> {path}", flush=True)
    return path


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-"):
        families = sorted(p.parents[1].name for p in (REPO / "plugins").glob("*/tools/make*layouts.py"))
        print(__doc__.split("\n\n")[1].strip(), "\nfamilies:", " ".join(families), file=sys.stderr)
        return 2
    family, name = argv.pop(0), "make_layouts"
    if argv[:1] == ["--tool"] and len(argv) > 1:
        name = argv[1]
        argv = argv[2:]
    return tool(family, name).main(argv)


if __name__ == "__main__":
    sys.exit(main())
