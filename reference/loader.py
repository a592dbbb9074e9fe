"""Import single modules from a reference package without running its package
``__init__``s, which import every model and dependencies pxcore does not have.

Each package of the tree becomes an empty module whose ``__path__`` is its real
folder, so the module's own imports (relative or absolute) load just the files
they name, from the reference tree; ``stubs`` replace the few helper modules that pull
in more (downloads, loggers, training code) with the attributes the models use.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

from . import require


def load_module(name: str, path: Path) -> types.ModuleType:
    """The file ``path`` imported as ``name`` (registered, so its own imports find it)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def import_module(package: str, module: str, stubs: dict[str, dict] | None = None) -> types.ModuleType:
    """``module`` (dotted, e.g. ``ppcls.arch.backbone.legendary_models.resnet``) from the
    installed reference ``package`` (a key of ``reference.PACKAGES``); skips the calling
    test, naming the install command, when that package is absent."""
    root = require(package)
    if package == "paddleclas":
        root = root / "paddleclas"  # the wheel puts ppcls/ one level down
    top = module.split(".")[0]
    for folder in sorted([root / top, *(root / top).rglob("*")]):
        if not folder.is_dir() or not folder.name.isidentifier():  # __pycache__ passes; harmless
            continue
        name = ".".join(folder.relative_to(root).parts)
        existing = sys.modules.get(name)
        if existing is not None:
            paths = [str(p) for p in getattr(existing, "__path__", [])]
            if str(folder) not in paths:
                raise ImportError(f"{name} is already imported from {paths}, not the reference "
                                  f"tree {folder}; run the reference checks in their own process")
            continue
        stub = types.ModuleType(name)
        stub.__path__ = [str(folder)]
        sys.modules[name] = stub
    for name, attributes in (stubs or {}).items():
        if name not in sys.modules:
            stub = types.ModuleType(name)
            stub.__dict__.update(attributes)
            sys.modules[name] = stub
    return importlib.import_module(module)
