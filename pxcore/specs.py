"""Specs: small frozen records that describe a part without importing it.

A spec names its factory as a ``"module:attr"`` string, so listing what is installed
never imports paddle or the plugin's model code. ``spec.build(**overrides)`` imports the
factory and calls it with the spec's defaults updated by the overrides.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import attrs

from .errors import PxError, SpecError

TASKS = ("classification", "detection", "instance_segmentation", "semantic_segmentation")
# The numeric precisions a runtime may be asked for (pxcore.inference.runtime checks them).
PRECISIONS = ("fp32", "fp16", "bf16", "int8")

_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_NAME = re.compile(r"^\S+$")


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


def _check_name(instance, attribute, value):
    if not isinstance(value, str) or not _NAME.match(value):
        raise SpecError(
            f"{type(instance).__name__}: name {value!r} must be a non-empty string without spaces"
        )


def _check_factory(instance, attribute, value):
    if not isinstance(value, str) or not _FACTORY.match(value):
        raise SpecError(
            f"{type(instance).__name__} {instance.name!r}: factory {value!r} must be a "
            "'package.module:attribute' string (it is imported only when the part is built)"
        )


def _check_task(instance, attribute, value):
    if value is not None and value not in TASKS:
        raise SpecError(
            f"{type(instance).__name__} {instance.name!r}: task {value!r} is not one of {TASKS}"
        )


def resolve(reference: str) -> Any:
    """Import ``"package.module:attr.sub"`` and return the attribute."""
    module_name, _, qualname = reference.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise SpecError(f"cannot import {module_name!r} for {reference!r}: {exc}") from exc
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SpecError(f"{module_name!r} has no attribute {qualname!r} ({reference!r})") from None
    return obj


@attrs.frozen(kw_only=True)
class Spec:
    """What every kind of part has: a name, a factory, its default arguments, metadata."""

    kind: ClassVar[str] = "part"

    name: str = attrs.field(validator=_check_name)
    factory: str = attrs.field(validator=_check_factory)
    defaults: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping, hash=False)
    metadata: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping, hash=False)
    summary: str = ""
    # Filled in by the registry: the distribution (or module) that registered the spec.
    distribution: str | None = None

    def load(self) -> Callable[..., Any]:
        """Import and return the factory."""
        factory = resolve(self.factory)
        if not callable(factory):
            raise SpecError(f"{self.kind} {self.name!r}: factory {self.factory!r} is not callable")
        return factory

    def build(self, **overrides: Any) -> Any:
        """Call the factory with the defaults, updated by ``overrides``. A factory that
        fails is reported with the spec's name and the distribution that gave it."""
        kwargs = {**self.defaults, **overrides}
        factory = self.load()
        try:
            return factory(**kwargs)
        except PxError:
            raise
        except Exception as exc:
            raise SpecError(
                f"{self.kind} {self.name!r} (from {self.distribution!r}) failed to build "
                f"with arguments {sorted(kwargs)}: {type(exc).__name__}: {exc}"
            ) from exc

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly view of the spec."""
        out = {"kind": self.kind}
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            out[field.name] = dict(value) if isinstance(value, Mapping) else value
        return out


@attrs.frozen(kw_only=True)
class BackboneSpec(Spec):
    """A feature extractor. Built objects report their output features (channels, stride)."""

    kind: ClassVar[str] = "backbone"


@attrs.frozen(kw_only=True)
class NeckSpec(Spec):
    """Turns a backbone's features into other features (FPN, ASPP...), built from their shapes."""

    kind: ClassVar[str] = "neck"


@attrs.frozen(kw_only=True)
class HeadSpec(Spec):
    """Turns features into task outputs; its factory takes the input feature shapes."""

    kind: ClassVar[str] = "head"
    task: str | None = attrs.field(default=None, validator=_check_task)


@attrs.frozen(kw_only=True)
class ModelSpec(Spec):
    """A named model preset: what ``create_model(name)`` builds.

    ``paddlex`` describes how PaddleX 1.x spelled this model, for the generated
    ``pxcore.cls`` / ``pxcore.det`` / ``pxcore.seg`` namespaces, e.g.
    ``{"class": "FasterRCNN", "backbone": "ResNet50_vd", "with_fpn": True}``.

    Metadata keys pxcore reads: ``input_size`` (the size the published weights were
    evaluated at, 224), ``min_input_size`` (the smallest input the network takes, for a
    network with fixed fully connected layers), ``test_input_size`` (what conformance
    checks feed it), ``composer`` (a preset that needs parts passed in, not listed as a
    zoo model).
    """

    kind: ClassVar[str] = "model"
    task: str = attrs.field(validator=_check_task)
    paddlex: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping, hash=False)


@attrs.frozen(kw_only=True)
class DatasetSpec(Spec):
    kind: ClassVar[str] = "dataset"
    task: str | None = attrs.field(default=None, validator=_check_task)


@attrs.frozen(kw_only=True)
class TransformSpec(Spec):
    kind: ClassVar[str] = "transform"
    task: str | None = attrs.field(default=None, validator=_check_task)


@attrs.frozen(kw_only=True)
class MetricSpec(Spec):
    kind: ClassVar[str] = "metric"
    task: str | None = attrs.field(default=None, validator=_check_task)


@attrs.frozen(kw_only=True)
class RuntimeSpec(Spec):
    """An inference runtime. ``probe`` ("module:attr") returns None when the runtime can
    run here, or a sentence saying why not (missing package, no GPU...)."""

    kind: ClassVar[str] = "runtime"
    probe: str | None = attrs.field(default=None)

    def unavailable_reason(self) -> str | None:
        if self.probe is None:
            return None
        try:
            return resolve(self.probe)()
        except Exception as exc:  # a broken probe must not break `px runtimes`
            return f"its probe {self.probe!r} raised {type(exc).__name__}: {exc}"


SPEC_TYPES: dict[str, type[Spec]] = {
    cls.kind: cls
    for cls in (
        BackboneSpec,
        NeckSpec,
        HeadSpec,
        ModelSpec,
        DatasetSpec,
        TransformSpec,
        MetricSpec,
        RuntimeSpec,
    )
}
KINDS = tuple(SPEC_TYPES)
