"""Which layout a weights path holds, and its tensors as ``{name: array}``: a
``.pdparams`` file, a directory of one, a Paddle 1.x per-variable directory, or a tar
archive of either."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..errors import WeightsError
from .archive import extract_archive
from .legacy_format import read_legacy_dir
from .unpickle import safe_unpickle

# Bookkeeping entries Paddle writes beside the tensors.
_META_KEYS = ("StructuredToParameterName@@", "UnpackBigParamInfor@@")


def read_pdparams(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A ``.pdparams`` file as ``{name: array}``, read safely."""
    state = safe_unpickle(path)
    if not isinstance(state, Mapping):
        raise WeightsError(f"{path}: holds a {type(state).__name__}, not a state dict of tensors")
    out = {}
    for key, value in state.items():
        if key in _META_KEYS:
            continue
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], np.ndarray):
            value = value[1]  # older Paddle pickled tensors as (name, array)
        if not isinstance(value, np.ndarray | np.generic):
            raise WeightsError(f"{path}: entry {key!r} is a {type(value).__name__}, not an array")
        out[str(key)] = np.asarray(value)
    return out


# Where weights come from, as far as the network's conventions go: a Paddle 1.x
# per-variable layout (the zoo's .tar archives, PaddleDetection 0.x, PaddleX 1.x, PaddleSeg
# legacy), or a .pdparams file (Paddle 2.x and later, pxcore's own saves).
PADDLE1, PDPARAMS = "paddle1", "pdparams"


def read_weights(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], str]:
    """``read_state``'s tensors and the layout they came in: ``PADDLE1`` for a per-variable
    directory (or an archive of one), ``PDPARAMS`` for a ``.pdparams`` file."""
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"weight file {str(path)!r} does not exist")
    if path.is_dir():
        for candidate in [path / "model.pdparams", *sorted(path.glob("*.pdparams"))]:
            if candidate.is_file():
                return read_pdparams(candidate), PDPARAMS
        return read_legacy_dir(path), PADDLE1
    if path.name.endswith((".tar", ".tar.gz", ".tgz")):
        import tempfile

        with tempfile.TemporaryDirectory(prefix="pxcore-weights-") as tmp:
            return read_weights(extract_archive(path, Path(tmp)))
    return read_pdparams(path), PDPARAMS


def read_state(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Weights from any layout pxcore reads: a ``.pdparams`` file; a directory holding
    ``model.pdparams`` (a model saved by pxcore) or another ``.pdparams``; a Paddle 1.x
    per-variable directory; or a ``.tar``/``.tar.gz``/``.tgz`` of either."""
    return read_weights(path)[0]
