"""Checks of zoo rows: a plugin's rows against its own presets (``check_zoo_rows``, which
``check_plugin`` runs), and rows against the seed's PaddleX tables (``seed_rows``,
``check_against_seed``)."""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

from ..names import normalize
from ..plugins import get_registry
from ..zoo import METRICS, ZooEntry


def zoo_row_failures(distribution: str) -> list[str]:
    """What does not hold for each zoo row the plugin registered: its model preset is
    registered, for the row's task; its metric keys are known; the distributions it
    needs include the plugin itself."""
    registry = get_registry()
    failures = []
    for row in registry.zoo_rows(distribution):
        label = f"zoo row {row.id!r} from {distribution!r}"
        spec = registry.find("model", row.model)
        if spec is None:
            failures.append(f"{label}: its model preset {row.model!r} is not registered")
        elif spec.task != row.task:
            failures.append(f"{label}: it is a {row.task} row, but preset {row.model!r} "
                            f"is a {spec.task} model")
        unknown = [key for key in row.metrics if key not in METRICS]
        if unknown:
            failures.append(f"{label}: unknown metric keys {unknown}; the keys are {', '.join(METRICS)}")
        if distribution not in row.plugins:
            failures.append(f"{label}: the distributions it needs, {list(row.plugins)}, "
                            f"do not include {distribution!r}, which registers it")
    return failures


def check_zoo_rows(distribution: str) -> int:
    """Assert ``zoo_row_failures`` finds nothing; return the number of rows checked."""
    failures = zoo_row_failures(distribution)
    assert not failures, "\n".join(failures)
    return len(get_registry().zoo_rows(distribution))


# --- the seed's tables ------------------------------------------------------------------

_TASKS = {"image classification": "classification", "object detection": "detection",
          "instance segmentation": "instance_segmentation",
          "semantic segmentation": "semantic_segmentation"}
_DATASETS = {"imagenet": "ImageNet", "mscoco": "COCO", "cityscapes": "Cityscapes"}


@attrs.frozen
class SeedRow:
    task: str
    dataset: str
    seed_name: str
    size: float | None  # MB, or the parameter count where the seed gives one
    latency_ms: float | None
    metrics: tuple[float | None, ...]
    weights_url: str


def _number(cell: str) -> float | None:
    return None if cell.strip().strip("-") == "" else float(re.sub(r"[^\d.]", "", cell))


def seed_rows(text: str) -> list[SeedRow]:
    """Every row of the seed's four tables (classification, detection, instance and
    semantic segmentation), with the task its section names and the data set its notes
    name, in the seed's order."""
    rows, task, dataset = [], None, None
    for line in text.splitlines():
        if line.startswith("## "):
            task = next((t for words, t in _TASKS.items() if words in line.lower()), None)
            dataset = None
            continue
        if line.startswith(">"):
            found = [d for key, d in _DATASETS.items() if key in line.lower()]
            dataset = found[0] if found else dataset
            continue
        m = re.match(r"^\|\s*\[([^\]]+)\]\((https?://[^)]+)\)\s*\|(.*)\|\s*$", line)
        if not m:
            continue
        cells = [c.strip() for c in m.group(3).split("|")]
        rows.append(SeedRow(task, dataset, m.group(1).strip(), _number(cells[0]), _number(cells[1]),
                            tuple(_number(c) for c in cells[2:]), m.group(2)))
    return rows


def seed_mismatches(rows: Iterable[ZooEntry], text: str) -> list[str]:
    """How ``rows`` differ from the seed's tables: a seed row missing or present more
    than once (matched by task, data set and the seed's spelling), a figure or URL that
    differs, a row the seed does not have."""
    rows = list(rows)
    problems = []
    matched: set[int] = set()
    for seed in seed_rows(text):
        found = [i for i, row in enumerate(rows)
                 if (row.task, normalize(row.dataset), row.seed_name)
                 == (seed.task, normalize(seed.dataset), seed.seed_name)]
        label = f"seed row {seed.seed_name!r} ({seed.task}, {seed.dataset})"
        if len(found) != 1:
            problems.append(f"{label}: {len(found)} rows have it")
            continue
        matched.add(found[0])
        row = rows[found[0]]
        figures = {
            "size": (row.size_mb if row.params_m is None else row.params_m, seed.size),
            "latency_ms": (row.latency_ms, seed.latency_ms),
            "metrics": (tuple(row.metrics.values()), seed.metrics),
            "weights_url": (row.weights_url, seed.weights_url),
        }
        for what, (ours, theirs) in figures.items():
            if ours != theirs:
                problems.append(f"{label}: {what} is {ours!r}, the seed says {theirs!r}")
    problems += [f"zoo row {row.id!r} is not in the seed"
                 for i, row in enumerate(rows) if i not in matched]
    return problems


def check_against_seed(rows: Iterable[ZooEntry], text: str) -> None:
    """Assert the rows are the seed's, each once, with the seed's figures."""
    problems = seed_mismatches(rows, text)
    assert not problems, "\n".join(problems)
