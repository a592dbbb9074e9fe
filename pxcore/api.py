"""The public model API: list_models, model_info, create_model, create_backbone, load_model."""

from __future__ import annotations

import os
from typing import Any

from . import zoo
from .compose import substitute_backbone
from .contract import ReportsFeatures
from .errors import PluginNotInstalledError, PxError
from .model import Model
from .names import matches, natural_key
from .plugins import get_registry
from .registry import unknown_name_error
from .specs import TASKS, ModelSpec


def _check_task(task: str | None) -> None:
    if task is not None and task not in TASKS:
        raise PxError(f"task {task!r} is not one of {', '.join(TASKS)}")


def model_rows(pattern: str | None = None, *, task: str | None = None,
               dataset: str | None = None, installed: bool | None = None) -> list[dict[str, Any]]:
    """Zoo rows in the seed's order, then other registered presets, as dicts with their
    install status. ``pattern`` matches a name or a catalog id."""
    _check_task(task)
    registry = get_registry()
    out = []
    for entry in zoo.entries(task, dataset):
        if not (matches(entry.name, pattern) or matches(entry.id, pattern)):
            continue
        spec = registry.find("model", entry.model)
        out.append({**entry.as_dict(), "zoo": True, "installed": spec is not None,
                    "provided_by": spec.distribution if spec else None,
                    "install": None if spec else entry.install_hint()})
    if dataset is None:
        presets = {e.model for e in zoo.catalog()}
        for spec in sorted(registry.specs("model"), key=lambda s: natural_key(s.name)):
            if spec.name in presets or (task and spec.task != task) or not matches(spec.name, pattern):
                continue
            out.append({"id": None, "name": spec.name, "task": spec.task, "zoo": False,
                        "installed": True, "provided_by": spec.distribution,
                        "summary": spec.summary})
    if installed is not None:
        out = [row for row in out if row["installed"] == installed]
    return out


def list_models(pattern: str | None = None, *, task: str | None = None,
                dataset: str | None = None, installed: bool | None = None) -> list[str]:
    """Model names, each once, naturally sorted.

    ``pattern`` is a shell wildcard ignoring case (``"ResNet*"``); ``task`` and
    ``dataset`` filter zoo rows; ``installed=True`` keeps names that can be built now,
    ``installed=False`` those whose plugin is missing.
    """
    rows = model_rows(task=task, dataset=dataset, installed=installed)
    names = {row["name"] for row in rows if matches(row["name"], pattern)}
    return sorted(names, key=natural_key)


def resolve_model(name: str, *, task: str | None = None,
                  dataset: str | None = None) -> tuple[zoo.ZooEntry | None, ModelSpec]:
    """The zoo row (if ``name`` is a zoo name) and the preset that builds it."""
    _check_task(task)
    registry = get_registry()
    rows = zoo.lookup(name, task, dataset)
    if rows:
        entry = rows[0]
        spec = registry.find("model", entry.model)
        if spec is None:
            raise PluginNotInstalledError(
                f"{entry.name!r} ({entry.id}) is in the zoo, but no installed plugin "
                f"provides it: {entry.install_hint()}",
                name=name, kind="model", packages=entry.plugins,
            )
        return entry, spec
    spec = registry.find("model", name)
    if spec is None or (task is not None and spec.task != task):
        where = [f"task={task!r}"] if task else []
        where += [f"dataset={dataset!r}"] if dataset else []
        candidates = set(zoo.all_names()) | set(registry.names("model"))
        if task or dataset:
            candidates = {e.name for e in zoo.entries(task, dataset)}
        raise unknown_name_error("model", name, candidates,
                                 extra=f"(looked for {', '.join(where)})" if where else "")
    if dataset is not None:
        raise unknown_name_error("model", name, [e.id for e in zoo.entries(task, dataset)],
                                 extra=f"{name!r} has no zoo row for dataset={dataset!r}")
    return None, spec


def model_info(name: str, *, task: str | None = None, dataset: str | None = None) -> dict[str, Any]:
    """What pxcore knows about a model: its zoo row (if any), its preset, whether and by
    which distribution it is installed. Works for zoo rows whose plugin is missing."""
    rows = zoo.lookup(name, task, dataset)
    registry = get_registry()
    if rows:
        entry = rows[0]
        spec = registry.find("model", entry.model)
        info = entry.as_dict()
        info.update(
            installed=spec is not None,
            provided_by=spec.distribution if spec is not None else None,
            install=None if spec is not None else entry.install_hint(),
            preset=spec.describe() if spec is not None else None,
            other_rows=[e.id for e in zoo.lookup(entry.name) if e.id != entry.id],
        )
        return info
    _, spec = resolve_model(name, task=task, dataset=dataset)
    return {"name": spec.name, "id": None, "task": spec.task, "installed": True,
            "provided_by": spec.distribution, "preset": spec.describe()}


def create_model(name: str, num_classes: int | None = None, pretrained: Any = None, *,
                 task: str | None = None, dataset: str | None = None, partial: bool = False,
                 **overrides: Any) -> Model:
    """Build a model by zoo name, catalog id or registered preset name.

    ``num_classes`` defaults to the class count of the zoo row's published weights (1000
    for ImageNet rows); ``pretrained`` is a path to weights; ``overrides`` reach the
    preset's factory. ``task``/``dataset`` pick among zoo rows that share a name.

    Weights must set every tensor of the network (but a head re-initialised for another
    class count). ``partial=True`` accepts weights that cover only part of it, e.g. a zoo
    archive's backbone under a head it was not trained with: the tensors they lack keep
    their initial values, are logged, and are listed in ``model.weights_report.left_at_init``
    (``pxcore.weights.load_weights``).

    Weights in Paddle 1.x's per-variable layout (the zoo's ``.tar`` archives) build the
    network with the conventions of the code that trained them (the row's
    ``legacy_args``, e.g. R-CNN's ``box_convention="pixel"``); a ``.pdparams`` file keeps
    the preset's. An argument given here wins over both (``pxcore.conventions``).
    """
    entry, spec = resolve_model(name, task=task, dataset=dataset)
    kwargs: dict[str, Any] = {}
    if entry is not None:
        kwargs["num_classes"] = entry.num_classes
    state = None
    if pretrained and pretrained is not True:
        from .conventions import choose
        from .weights import read_weights

        # The weights' origin picks the conventions the network is built with.
        state, layout = read_weights(pretrained)
        overrides = {**choose(entry, spec, layout, overrides), **overrides}
    # A preset's backbone arguments belong to its backbone: settled for the caller's.
    kwargs.update(substitute_backbone(spec.defaults, overrides))
    if num_classes is not None:
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise PxError(f"num_classes must be a positive integer, got {num_classes!r}")
        kwargs["num_classes"] = num_classes
    if pretrained is True:
        url = entry.weights_url if entry is not None else None
        raise PxError(
            "pretrained=True would download weights, and pxcore never downloads at run time. "
            + (f"Download {url} yourself and pass its path: pretrained='path/to/weights'."
               if url else "Pass the path of a weight file: pretrained='path/to/weights'.")
        )
    from .tasks import model_class

    cls = model_class(spec.task)
    # Options of the task (a segmenter's loss), not of the network.
    options = {k: kwargs.pop(k) for k in getattr(cls, "task_options", ()) if k in kwargs}
    net = spec.build(**kwargs)
    report = None
    if pretrained:
        from .weights import load_weights

        report = load_weights(net, pretrained, state=state, partial=partial)
    extra = {"options": options} if getattr(cls, "task_options", ()) else {}
    model = cls(net, spec=spec, entry=entry, num_classes=kwargs.get("num_classes"),
                build_args={**spec.defaults, **kwargs, **options}, **extra)
    model.weights_report = report
    return model


def create_backbone(name: str, out_indices: Any = None, pretrained: Any = None, *,
                    partial: bool = False, **overrides: Any):
    """Build a registered backbone; it reports ``out_features`` (channels and stride).
    ``partial=True`` loads ``pretrained`` weights that cover only part of it (see
    ``create_model``)."""
    registry = get_registry()
    spec = registry.find("backbone", name)
    if spec is None:
        rows = [e for e in zoo.lookup(name, "classification") if registry.find("model", e.model) is None]
        if rows:
            raise PluginNotInstalledError(
                f"backbone {name!r} is a zoo model whose plugin is not installed: "
                f"{rows[0].install_hint()}",
                name=name, kind="backbone", packages=rows[0].plugins)
        spec = registry.get("backbone", name)  # raises with the closest names
    if out_indices is not None:
        overrides["out_indices"] = tuple(out_indices)
    net = spec.build(**overrides)
    if isinstance(net, ReportsFeatures):
        net.out_features  # noqa: B018 - checks out_indices now rather than at first forward
    if pretrained:
        from .weights import load_weights

        load_weights(net, pretrained, partial=partial)
    return net


def load_model(model_dir: str | os.PathLike) -> Model:
    """Rebuild a model saved by ``model.save`` or by training (a ``best_model`` or
    ``epoch_N`` directory): network, weights, labels and pre-processing. A directory
    PaddleX 2.x or 1.x saved is read too (``pxcore.migrate``)."""
    from .migrate import is_paddlex_dir

    if is_paddlex_dir(model_dir):
        from .migrate.models import load_paddlex_dir

        return load_paddlex_dir(model_dir)
    from .engine.checkpoint import read_info
    from .transforms import compose
    from .weights import load_weights

    info = read_info(model_dir)
    args = dict(info.get("build_args") or {})
    dataset = info["zoo_id"].rsplit(".", 1)[1] if info.get("zoo_id") else None
    model = create_model(info["model"], task=info.get("task"), dataset=dataset, **args)
    load_weights(model.net, model_dir, reinit_head=False)
    model.net.eval()  # ready for inference; train() switches back
    model.labels = info.get("labels")
    transforms = info.get("transforms") or {}
    if transforms.get("train"):
        model.train_transforms = compose(transforms["train"])
    if transforms.get("eval"):
        model.eval_transforms = compose(transforms["eval"])
    return model
