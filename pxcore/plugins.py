"""Plugin discovery: entry points in group ``pxcore.plugins``, loaded one at a time.

Each plugin is imported and its hooks are called on their own. A plugin that fails to
import, whose hook raises, or that registers a name another plugin already has, is
recorded with its error (``px plugins`` shows it) and nothing of it is kept; the other
plugins keep working.

Switches (environment variables, read when the registry is first built):

- ``PXCORE_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry-point plugins.
- ``PXCORE_DISABLE_PLUGINS=a,b``: skip these plugins (entry-point or distribution names).
- ``PXCORE_PLUGINS=pkg.mod,other``: also load these importable modules as plugins.

In a program, ``pxcore.register_plugin(module_or_name)`` adds one more.
"""

from __future__ import annotations

import importlib
import os
import threading
import traceback
import types
from importlib import metadata
from typing import Any

import attrs
import pluggy

from . import hookspecs
from .errors import PluginError
from .hookspecs import HOOK_FOR_KIND, HOOKS, PROJECT, ZOO_HOOK
from .registry import Registrar, Registry, ZooRegistrar

ENTRY_POINT_GROUP = "pxcore.plugins"
BUILTIN = "pxcore"  # the core registers its own parts through the same hooks

ENV_DISABLE_AUTOLOAD = "PXCORE_DISABLE_PLUGIN_AUTOLOAD"
ENV_DISABLE = "PXCORE_DISABLE_PLUGINS"
ENV_EXTRA = "PXCORE_PLUGINS"


@attrs.define
class PluginRecord:
    """What ``px plugins`` reports about one plugin."""

    name: str
    module: str | None = None
    version: str | None = None
    source: str = "entry-point"  # entry-point | builtin | env | program
    provides: dict[str, list[str]] = attrs.field(factory=dict)
    zoo: list[str] = attrs.field(factory=list)  # ids of the zoo rows it added
    error: str | None = None
    traceback: str | None = None
    disabled: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.disabled

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


class PluginManager:
    """Owns the pluggy manager, the registry it fills, and a record per plugin."""

    def __init__(self) -> None:
        self.hooks = pluggy.PluginManager(PROJECT)
        self.hooks.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.records: dict[str, PluginRecord] = {}

    # -- discovery ---------------------------------------------------------------------

    def load_default_plugins(self) -> None:
        """The builtin plugin, then entry points and PXCORE_PLUGINS, honouring the switches."""
        disabled = set(_env_list(ENV_DISABLE))
        from . import __version__

        self._load(BUILTIN, lambda: importlib.import_module("pxcore.builtin"), "builtin",
                   version=__version__, disabled=BUILTIN in disabled)
        if not _env_flag(ENV_DISABLE_AUTOLOAD):
            for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
                if ep.name == BUILTIN:
                    continue
                dist = getattr(ep, "dist", None)
                dist_name = dist.metadata["Name"] if dist is not None else ep.name
                self._load(ep.name, ep.load, "entry-point",
                           version=dist.version if dist is not None else None,
                           module=ep.value,
                           disabled=bool({ep.name, dist_name} & disabled))
        for module_name in _env_list(ENV_EXTRA):
            self._load(module_name, lambda m=module_name: importlib.import_module(m), "env",
                       module=module_name, disabled=module_name in disabled)

    def register(self, plugin: types.ModuleType | str | Any, name: str | None = None) -> PluginRecord:
        """Register a plugin object or importable module name from a program. Raises on error."""
        if isinstance(plugin, str):
            name = name or plugin
            record = self._load(name, lambda: importlib.import_module(plugin), "program", module=plugin)
        else:
            name = name or getattr(plugin, "__name__", None) or repr(plugin)
            record = self._load(name, lambda: plugin, "program",
                                module=getattr(plugin, "__name__", None))
        if record.error:
            raise PluginError(f"plugin {name!r} failed: {record.error}")
        return record

    # -- one plugin --------------------------------------------------------------------

    def _load(self, name: str, importer, source: str, *, version: str | None = None,
              module: str | None = None, disabled: bool = False) -> PluginRecord:
        if name in self.records and self.records[name].ok:
            raise PluginError(f"a plugin named {name!r} is already registered")
        record = PluginRecord(name=name, module=module, version=version, source=source,
                              disabled=disabled)
        self.records[name] = record
        if disabled:
            return record
        try:
            plugin = importer()
        except BaseException as exc:  # noqa: BLE001 - a plugin's import may raise anything
            if isinstance(exc, KeyboardInterrupt):
                raise
            return self._fail(record, f"import failed: {type(exc).__name__}: {exc}")
        if record.module is None:
            record.module = getattr(plugin, "__name__", None)
        if record.version is None:
            record.version = getattr(plugin, "__version__", None)
        try:
            self.hooks.register(plugin, name=name)
        except Exception as exc:  # pluggy validates hook signatures here
            return self._fail(record, f"invalid hooks: {exc}")
        try:
            self._check_hook_names(plugin, name)
            added = self._collect(plugin, name)
            rows = self._collect_zoo(plugin, name)
            for spec in added:  # all or nothing: check every name before adding any
                clash = self.registry.find(spec.kind, spec.name)
                if clash is not None:
                    self.registry.add(spec)  # raises DuplicateNameError naming both
            for row in rows:
                if self.registry.find_zoo_row(row.id) is not None:
                    self.registry.add_zoo_row(row)  # raises DuplicateNameError naming both
            for spec in added:
                self.registry.add(spec)
            for row in rows:
                self.registry.add_zoo_row(row)
        except Exception as exc:  # noqa: BLE001
            self.hooks.unregister(name=name)
            return self._fail(record, f"{type(exc).__name__}: {exc}")
        for spec in added:
            record.provides.setdefault(spec.kind, []).append(spec.name)
        record.zoo = [row.id for row in rows]
        return record

    def _check_hook_names(self, plugin: Any, name: str) -> None:
        for caller in self.hooks.get_hookcallers(plugin) or []:
            if caller.spec is None:
                raise PluginError(
                    f"unknown hook {caller.name!r}; pxcore's hooks are {', '.join(HOOKS)}"
                )

    def _collect(self, plugin: Any, name: str) -> list:
        """Call each of this plugin's hooks with a fresh registrar; return what it added."""
        added = []
        for kind, hook_name in HOOK_FOR_KIND.items():
            caller = getattr(self.hooks.hook, hook_name)
            for impl in caller.get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                registrar = Registrar(kind, name)
                impl.function(**{arg: registrar for arg in impl.argnames})
                added.extend(registrar.added)
        return added

    def _collect_zoo(self, plugin: Any, name: str) -> list:
        """Call this plugin's ``px_register_zoo`` with a fresh registrar; return its rows."""
        rows = []
        for impl in getattr(self.hooks.hook, ZOO_HOOK).get_hookimpls():
            if impl.plugin is plugin:
                registrar = ZooRegistrar(name)
                impl.function(**{arg: registrar for arg in impl.argnames})
                rows.extend(registrar.added)
        return rows

    def _fail(self, record: PluginRecord, message: str) -> PluginRecord:
        record.error = message
        record.traceback = traceback.format_exc()
        return record


_lock = threading.RLock()
_manager: PluginManager | None = None


def get_manager() -> PluginManager:
    """The process-wide plugin manager, built on first use."""
    global _manager
    with _lock:
        if _manager is None:
            manager = PluginManager()
            manager.load_default_plugins()
            _manager = manager
        return _manager


def get_registry() -> Registry:
    return get_manager().registry


def reset() -> None:
    """Forget every plugin; the next use discovers them again (tests, changed env vars)."""
    global _manager
    with _lock:
        _manager = None


def register_plugin(plugin, name: str | None = None) -> PluginRecord:
    """Add a plugin (a module, an object with hooks, or an importable module name)."""
    with _lock:
        return get_manager().register(plugin, name=name)


def plugin_records() -> list[PluginRecord]:
    return list(get_manager().records.values())
