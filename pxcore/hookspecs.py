"""The hooks a pxcore plugin implements: one per kind of part, each given a registrar.

A plugin is a module with functions decorated by ``pxcore.hookimpl``::

    import pxcore

    @pxcore.hookimpl
    def px_register_backbones(registry):
        registry.add(name="TinyNet", factory="my_plugin.tiny:TinyNet")

It adds specs through the registrar and never touches a global; the registrar knows
which distribution is calling and which kind of spec the hook may add.
"""

from __future__ import annotations

import pluggy

PROJECT = "pxcore"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def px_register_backbones(registry):
    """Add BackboneSpecs: feature extractors that report their output features."""


@hookspec
def px_register_necks(registry):
    """Add NeckSpecs: feature transforms such as FPN or ASPP."""


@hookspec
def px_register_heads(registry):
    """Add HeadSpecs: task heads built from the feature shapes they are given."""


@hookspec
def px_register_models(registry):
    """Add ModelSpecs: the named presets ``create_model`` builds (zoo names and others)."""


@hookspec
def px_register_datasets(registry):
    """Add DatasetSpecs: readers of data-set formats."""


@hookspec
def px_register_transforms(registry):
    """Add TransformSpecs: pre-processing and augmentation steps."""


@hookspec
def px_register_metrics(registry):
    """Add MetricSpecs: evaluation metrics."""


@hookspec
def px_register_runtimes(registry):
    """Add RuntimeSpecs: inference runtimes for exported models."""


@hookspec
def px_register_zoo(registry):
    """Add zoo rows (``pxcore.zoo.ZooEntry``): published weights of a registered model
    preset and what the table reports of them. A row carries its name (and the seed's
    spelling), task, data set and the class count of the weights, size in MB (or
    parameters in millions), latency in ms with the device and setting it was taken on,
    the reported metrics (keys of ``pxcore.zoo.METRICS``: top1, top5, box_ap, mask_ap,
    miou), the weights URL, the model preset that builds it, the distributions that
    must be installed for that, and PaddleX 1.x's spelling of it. Rows sharing columns
    can be written with ``pxcore.zoo_tables.ZooTable``::

        registry.add(name="TinyNet_x1_0", task="classification", dataset="digits",
                     num_classes=10, metrics={"top1": 97.8}, plugins=("px-tinynet",))
    """


# kind -> hook name; the registry walks this to collect a plugin's specs.
HOOK_FOR_KIND = {
    "backbone": "px_register_backbones",
    "neck": "px_register_necks",
    "head": "px_register_heads",
    "model": "px_register_models",
    "dataset": "px_register_datasets",
    "transform": "px_register_transforms",
    "metric": "px_register_metrics",
    "runtime": "px_register_runtimes",
}
# The hook that adds zoo rows, which are data about specs rather than specs.
ZOO_HOOK = "px_register_zoo"
HOOKS = (*HOOK_FOR_KIND.values(), ZOO_HOOK)
