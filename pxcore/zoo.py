"""The zoo: rows of published weights and their figures, declared by the plugins.

A row (``ZooEntry``) says which model preset builds it, what its published weights
scored on which data set, how large and fast they were, where they are, which plugin
distributions must be installed to build it, and how PaddleX 1.x spelled it. Plugins
declare their rows beside the models that own them (``pxcore_resnet/zoo_rows.py``) and
add them in their ``px_register_zoo`` hook, so a third party adds a row the way it adds
a model. The core keeps the schema, the lookup and one piece of data:

The index (``pxcore/zoo_index.py``, generated) holds the rows of the seed's PaddleX
tables as the in-tree plugins declare them, in the seed's order. It is what lets

- a zoo name whose plugin is not installed be listed with its figures and say what to
  pip-install (``create_model("YOLOv3-DarkNet53")`` without pxcore-yolov3);
- the catalog keep the seed's order whichever plugins are installed, and whatever order
  they load in;
- the seed check compare the zoo with the seed's tables in any installation
  (``tests/test_zoo.py``); ``tests/test_zoo_plugins.py`` checks that the installed
  in-tree plugins' rows are exactly the index's, so the two cannot drift.
  ``write_index()`` rewrites it from them.

``catalog()`` is the index's rows, each replaced by the row an installed plugin
registered under the same id, followed by the rows of plugins the index does not know
(a third party's), in the order the plugins loaded. A name's first row in that order is
its default row.

Ids are ``<name>.<dataset>`` (``HRNet_W18.imagenet``, ``HRNet_W18.cityscapes``). A name
that appears in several rows resolves to its default row unless ``task=`` or
``dataset=`` picks another.
"""

from __future__ import annotations

import functools
import pprint
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

from .errors import SpecError
from .names import normalize
from .specs import TASKS

# What each reported metric is called, and the key ``evaluate()`` returns for it.
METRICS = {
    "top1": ("Top-1 accuracy (%)", "acc1"),
    "top5": ("Top-5 accuracy (%)", "acc5"),
    "box_ap": ("box AP (%)", "bbox_mmap"),
    "mask_ap": ("mask AP (%)", "segm_mmap"),
    "miou": ("mIoU (%)", "miou"),
}


def _frozen(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


def _check_name(instance, attribute, value):
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"ZooEntry: {attribute.name} {value!r} must be a non-empty string")
    if attribute.name in ("name", "model") and re.search(r"\s", value):
        raise SpecError(f"ZooEntry: {attribute.name} {value!r} must not contain spaces "
                        "(the seed's own spelling goes in seed_name)")


def _check_task(instance, attribute, value):
    if value not in TASKS:
        raise SpecError(f"ZooEntry {instance.name!r}: task {value!r} is not one of {TASKS}")


def _check_num_classes(instance, attribute, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SpecError(f"ZooEntry {instance.name!r}: num_classes must be a positive integer, "
                        f"got {value!r}")


def _check_metrics(instance, attribute, value):
    unknown = [key for key in value if key not in METRICS]
    if unknown:
        raise SpecError(f"ZooEntry {instance.name!r}: unknown metric keys {unknown}; the keys "
                        f"are {', '.join(METRICS)}")


def _same_as_name(self) -> str:
    return self.name


@attrs.frozen(kw_only=True)
class ZooEntry:
    """One row of the zoo. Plugins give the fields from ``name`` on; ``id`` is derived
    and ``default`` and ``distribution`` are set by the catalog and the registry."""

    id: str = attrs.field(init=False)  # <name>.<dataset in lower case>
    name: str = attrs.field(validator=_check_name)  # canonical: DenseNet121, FasterRCNN-HRNet_W18-FPN
    # as the seed writes it: densenet121, FasterRCNN - HRNet_W18-FPN
    seed_name: str = attrs.field(default=attrs.Factory(_same_as_name, takes_self=True),
                                 validator=_check_name)
    task: str = attrs.field(validator=_check_task)
    dataset: str = attrs.field(validator=_check_name)
    # classes of the published weights (R-CNN: foreground only)
    num_classes: int = attrs.field(validator=_check_num_classes)
    size_mb: float | None = None
    params_m: float | None = None  # only where the seed gives a parameter count instead of a size
    latency_ms: float | None = None
    latency_device: str | None = None
    latency_setting: str | None = None
    # reported figures by METRICS key, in the table's column order; None: not measured
    metrics: Mapping[str, float | None] = attrs.field(converter=_frozen, hash=False,
                                                      validator=_check_metrics)
    weights_url: str | None = None
    # the model preset that builds this row
    model: str = attrs.field(default=attrs.Factory(_same_as_name, takes_self=True),
                             validator=_check_name)
    # distributions that must be installed to build it; empty: the one registering it
    plugins: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    # PaddleX 1.x's spelling: {"class": "FasterRCNN", "backbone": "ResNet50", "with_fpn": True}
    paddlex: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen, hash=False)
    # Build arguments the network needs to compute what the row's Paddle 1.x per-variable
    # archive (weights_url) was trained to compute, where that differs from the preset's
    # (later conventions): create_model applies them when ``pretrained`` is such an archive.
    legacy_args: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen, hash=False)
    default: bool = False  # the bare name resolves to this row (set by the catalog)
    distribution: str | None = attrs.field(default=None, eq=False)  # set by the registry

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "id", f"{self.name}.{self.dataset.lower()}")

    def as_dict(self) -> dict[str, Any]:
        """The row as plain data (without who registered it), with the key ``evaluate()``
        returns for each reported metric."""
        out = attrs.asdict(self, filter=lambda field, _: field.name != "distribution",
                           value_serializer=lambda inst, field, v: dict(v)
                           if isinstance(v, Mapping) else v)
        out["plugins"] = list(self.plugins)
        out["evaluate_keys"] = {key: METRICS[key][1] for key in self.metrics}
        return out

    def install_hint(self) -> str:
        """What to pip-install to build this row; from a source checkout, also the
        directories of the plugins that live in it."""
        hint = f"pip install {' '.join(self.plugins)}"
        paths = source_plugin_paths()
        if any(p in paths for p in self.plugins):
            hint += f"  (in this repository: pip install {' '.join(paths.get(p, p) for p in self.plugins)})"
        return hint


@functools.cache
def source_plugin_paths() -> dict[str, str]:
    """Distribution name -> its directory relative to the checkout, for the plugins of
    this source tree (``plugins/*/pyproject.toml``); empty when pxcore does not run from
    a checkout of its repository."""
    root = Path(__file__).resolve().parent.parent
    if _project_name(root / "pyproject.toml") != "pxcore":
        return {}
    paths = {}
    for pyproject in sorted(root.glob("plugins/*/pyproject.toml")):
        name = _project_name(pyproject)
        if name:
            paths[name] = pyproject.parent.relative_to(root).as_posix()
    return paths


def _project_name(pyproject: Path) -> str | None:
    """``[project] name`` of a pyproject.toml (read by hand: tomllib is Python 3.11+)."""
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return None
    table = None
    for line in text.splitlines():
        header = re.match(r"^\s*\[([^\]]+)\]\s*$", line)
        if header:
            table = header.group(1).strip()
            continue
        found = re.match(r"""^\s*name\s*=\s*["']([^"']+)["']""", line)
        if table == "project" and found:
            return found.group(1)
    return None


# --- the index and the catalog ----------------------------------------------------------

INDEX_FILE = Path(__file__).with_name("zoo_index.py")


@functools.cache
def index() -> tuple[ZooEntry, ...]:
    """The seed's rows as the in-tree plugins declare them, in the seed's order."""
    from .zoo_index import ROWS

    return tuple(ZooEntry(**row) for row in ROWS)


_cached: tuple[Any, int, tuple[ZooEntry, ...]] | None = None


def catalog() -> tuple[ZooEntry, ...]:
    """Every row: the index's, each replaced by an installed plugin's row of the same
    id, then other plugins' rows in the order they loaded; each name's first row is its
    default."""
    global _cached
    from .plugins import get_registry

    registry = get_registry()
    if _cached is not None and _cached[0] is registry and _cached[1] == registry.zoo_revision:
        return _cached[2]
    revision = registry.zoo_revision
    registered = {normalize(row.id): row for row in registry.zoo_rows()}
    rows = [registered.pop(normalize(row.id), row) for row in index()]
    rows += registered.values()
    seen: set[str] = set()
    out = []
    for row in rows:
        default = normalize(row.name) not in seen
        seen.add(normalize(row.name))
        out.append(row if row.default == default else attrs.evolve(row, default=default))
    result = tuple(out)
    _cached = (registry, revision, result)
    return result


def entries(task: str | None = None, dataset: str | None = None) -> list[ZooEntry]:
    return [
        e for e in catalog()
        if (task is None or e.task == task)
        and (dataset is None or normalize(e.dataset) == normalize(dataset))
    ]


def lookup(name: str, task: str | None = None, dataset: str | None = None) -> list[ZooEntry]:
    """Rows whose id, name or seed spelling is ``name`` (case and spaces ignored), filtered
    by task and data set; the default row first."""
    wanted = normalize(name)
    rows = [
        e for e in entries(task, dataset)
        if wanted in (normalize(e.id), normalize(e.name), normalize(e.seed_name), normalize(e.model))
    ]
    return sorted(rows, key=lambda e: not e.default)


def all_names() -> list[str]:
    """Every spelling that resolves to a row: names, ids, seed spellings."""
    names: dict[str, None] = {}
    for e in catalog():
        for n in (e.name, e.id, e.seed_name, e.model):
            names.setdefault(n, None)
    return list(names)


# --- writing the index ------------------------------------------------------------------

def _index_fields(row: ZooEntry) -> dict[str, Any]:
    """The fields ``ZooEntry(**fields)`` needs to give the row back: the given ones,
    without those equal to their defaults."""
    out = {}
    for field in attrs.fields(ZooEntry):
        if not field.init or field.name in ("default", "distribution"):
            continue
        value = getattr(row, field.name)
        if isinstance(value, Mapping):
            value = dict(value)
        default = field.default
        if isinstance(default, attrs.Factory):
            default = default.factory(row) if default.takes_self else default.factory()
        if value == default:
            continue
        out[field.name] = value
    return out


def in_tree_rows() -> list[ZooEntry]:
    """The rows registered by plugins of this source tree, in the index's order (rows
    the index does not have yet follow, in the order they were registered)."""
    from .plugins import get_registry

    in_tree = set(source_plugin_paths())
    rows = [row for row in get_registry().zoo_rows() if row.distribution in in_tree]
    order = {normalize(row.id): i for i, row in enumerate(index())}
    return sorted(rows, key=lambda row: order.get(normalize(row.id), len(order)))


def write_index(path: str | Path = INDEX_FILE) -> int:
    """Rewrite the index from the installed in-tree plugins' rows (run from a checkout
    with every plugin installed)::

        python -c "from pxcore import zoo; zoo.write_index()"

    Returns the number of rows written."""
    rows = in_tree_rows()
    if not rows:
        raise SpecError("no in-tree plugin registered zoo rows: run this from a source "
                        "checkout with the plugins installed")
    body = pprint.pformat([_index_fields(row) for row in rows], width=100, sort_dicts=False)
    Path(path).write_text(
        '"""The rows of the seed\'s PaddleX zoo tables, as the in-tree plugins declare them,\n'
        "in the seed's order (see pxcore.zoo). Generated by ``pxcore.zoo.write_index()``; do\n"
        'not edit: tests/test_zoo_plugins.py checks it against the plugins."""\n\n'
        f"ROWS = {body}\n", encoding="utf-8")
    return len(rows)
