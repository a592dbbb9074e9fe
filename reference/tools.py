"""The plugins' layout tools (plugins/<family>/tools/*.py: each family's mapping) as
modules, so the reference checks run the same reference code the tools ran rather than
a copy of it. The tools are not packages; each loads once per process under a name of
its own, ``reference_tools_<family>_<name>``, which any process that has imported this
module can import too (a spawned child unpickling a tool's function does)."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types

from . import REPO

_PREFIX = "reference_tools_"


def _path(module_name: str):
    """plugins/<family>/tools/<name>.py for ``reference_tools_<family>_<name>`` (family
    names hold no underscore; tool names start with ``make_``)."""
    family, _, rest = module_name.removeprefix(_PREFIX).partition("_make_")
    return REPO / "plugins" / family / "tools" / f"make_{rest}.py"


class _ToolFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(_PREFIX) or not _path(fullname).is_file():
            return None
        return importlib.util.spec_from_file_location(fullname, _path(fullname))


if not any(isinstance(finder, _ToolFinder) for finder in sys.meta_path):
    sys.meta_path.append(_ToolFinder())


def tool(family: str, name: str = "make_layouts") -> types.ModuleType:
    """plugins/<family>/tools/<name>.py, imported as ``reference_tools_<family>_<name>``."""
    module_name = f"{_PREFIX}{family}_{name}"
    path = _path(module_name)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the reference checks run its code")
    return importlib.import_module(module_name)


def run_in_child(function, *args, env: dict[str, str] | None = None):
    """``function(*args)`` in a fresh spawned process: for reference code that stubs
    packages its own way, or needs Paddle flags set before Paddle starts. ``function``
    must be importable: a module-level function of the reference package, of a test
    module, or of a tool loaded by ``tool``."""
    import multiprocessing
    import os

    if getattr(function, "__module__", "").startswith(_PREFIX):
        # a tool's function: the child imports the tool through this module's hook
        function, args = _call_in_module, (function.__module__, function.__name__, args)
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})  # the spawned process inherits them
    try:
        pool = multiprocessing.get_context("spawn").Pool(1)
        try:
            return pool.apply(function, args)
        finally:
            pool.close()  # close and join: terminating makes Paddle print a fatal-signal report
            pool.join()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _call_in_module(module_name: str, function: str, args: tuple):
    return getattr(importlib.import_module(module_name), function)(*args)


def _call(family: str, name: str, function: str, args: tuple):
    return getattr(tool(family, name), function)(*args)


def call_tool(family: str, name: str, function: str, *args, env: dict[str, str] | None = None):
    """``plugins/<family>/tools/<name>.py``'s ``function(*args)`` in a fresh process (the
    tools' reference code stubs packages and sets Paddle's static mode for good)."""
    return run_in_child(_call, family, name, function, args, env=env)


# Paddle 1.x programs run in Paddle 3's legacy static mode, chosen before Paddle starts.
LEGACY_STATIC = {"FLAGS_enable_pir_api": "0"}
