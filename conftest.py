"""For every test run (tests/ and plugins/): the user cache is a temporary folder.

pxcore and its runtimes cache under ``$XDG_CACHE_HOME/pxcore`` (runtime choices, ONNX
conversions, Lite models, TensorRT engines). Tests must neither read a choice or a
conversion left in the real ~/.cache by an earlier run nor leave theirs there, so the
whole session, child processes included, gets a fresh folder, removed at its end.
"""

from __future__ import annotations

import os
import shutil
import tempfile

_CACHE = "XDG_CACHE_HOME"
_saved: dict[str, str | None] = {}


def pytest_configure(config):
    _saved["value"] = os.environ.get(_CACHE)
    _saved["folder"] = tempfile.mkdtemp(prefix="pxcore-test-cache-")
    os.environ[_CACHE] = _saved["folder"]


def pytest_unconfigure(config):
    if "folder" not in _saved:
        return
    shutil.rmtree(_saved.pop("folder"), ignore_errors=True)
    value = _saved.pop("value")
    if value is None:
        os.environ.pop(_CACHE, None)
    else:
        os.environ[_CACHE] = value
