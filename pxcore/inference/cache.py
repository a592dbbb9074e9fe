"""Writing cache files that several processes may build at once.

The runtimes' caches (ONNX conversions, Lite models, TensorRT engines) are named by a
key of their content, so two processes building the same model write the same file.
Each writer works under its own temporary name in the cache's folder and publishes
with one atomic rename: a reader sees the whole file or none, and when two writers
finish, either result stays (they are the same content).

    with atomic_output(folder / "model-KEY.onnx") as tmp:
        convert(..., tmp)           # writes tmp (and anything beside it in tmp.parent)
    atomic_write_bytes(folder / "KEY.engine", data)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_SUFFIX = ".tmp"


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """A fresh path, named like ``path``, inside a private temporary folder beside it.

    Write the result there (a writer may put other files beside it; they are removed).
    When the block ends without an error and the file exists, it is renamed onto
    ``path`` in one step; otherwise ``path`` is left as it was. The temporary folder
    is removed either way. Raises FileNotFoundError when the block wrote nothing, and
    OSError when the folder cannot be written.
    """
    path = Path(path)
    workdir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent))
    try:
        tmp = workdir / path.name
        yield tmp
        if not tmp.is_file():
            raise FileNotFoundError(f"nothing was written to {tmp} for {path}")
        _publish(tmp, path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _publish(tmp: Path, path: Path) -> None:
    try:
        os.replace(tmp, path)  # atomic on one file system, which the folder beside it is
    except PermissionError:
        # Windows refuses to replace a file another process has open: that process
        # published the same content-addressed result, so keep its copy.
        if not path.is_file():
            raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """``path`` holding ``data``, written under a temporary name and renamed into place."""
    path = Path(path)
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    return path
