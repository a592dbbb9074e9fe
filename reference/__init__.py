"""The reference code pxcore's zoo rows are checked against, and where it lives.

Not part of any wheel: this folder sits at the repository top and is used by the
reference checks (``tox -e reference``, ``python -m reference.install``) and by tests
marked ``reference``, which skip with the install command when the code is absent.

Each package is unpacked with ``pip install --no-deps --target`` into its own folder
under ``$PXCORE_REFERENCE_DIR`` (default: ``.reference/`` at the repository top), so
that nothing from it is imported by accident and none of its dependencies is installed:
the checks import single modules from these trees.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

# The versions the zoo's weights and pxcore's layouts were checked against.
PACKAGES = {
    "paddleclas": "2.6.0",   # classification rows (dygraph .pdparams names)
    "paddledet": "2.6.0",    # YOLOv3 / PPYOLO / Faster and Mask R-CNN 2.x
    "paddleseg": "2.8.0",    # segmentation 2.x
    "paddlex": "1.3.11",     # Paddle 1.x static networks: the zoo's per-variable archives
    "paddlex2": "2.1.0",     # PaddleX 2.x's saved models and transforms (pxcore.migrate)
}
# A key that is not its distribution's name: two versions of one package, one folder each.
DISTRIBUTIONS = {"paddlex2": "paddlex"}

REPO = Path(__file__).resolve().parents[1]


def reference_dir() -> Path:
    return Path(os.environ.get("PXCORE_REFERENCE_DIR") or REPO / ".reference")


def install_command(name: str | None = None) -> str:
    """The command that puts the reference code (one package, or all) in place."""
    target = f" {name}" if name else ""
    return f"{shlex.quote(sys.executable)} -m reference.install{target}"


def requirement(name: str) -> str:
    """``name``'s pip requirement, e.g. ``paddlex==2.1.0`` for ``paddlex2``."""
    return f"{DISTRIBUTIONS.get(name, name)}=={PACKAGES[name]}"


def folder(name: str) -> Path:
    """Where ``name`` is unpacked: ``<reference_dir>/<distribution>-<version>``."""
    return reference_dir() / requirement(name).replace("==", "-")


def package_root(name: str) -> Path | None:
    """The folder holding ``name``'s unpacked distribution (its top-level packages
    inside), or None when it has not been installed."""
    if name not in PACKAGES:
        raise KeyError(f"unknown reference package {name!r}; known: {', '.join(PACKAGES)}")
    root = folder(name)
    return root if (root / ".complete").is_file() else None


def require(name: str) -> Path:
    """``package_root`` for tests: skips (naming the install command) when absent."""
    root = package_root(name)
    if root is None:
        import pytest

        pytest.skip(f"reference code {requirement(name)} is not installed; "
                    f"run: {install_command(name)}")
    return root
