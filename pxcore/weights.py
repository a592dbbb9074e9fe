"""Reading weight files without running code from them, and fitting them to a network.

``.pdparams`` files are pickles. A pickle can name any callable to run while it loads,
so we read them with an unpickler that admits only what a state dict needs: numpy
arrays and scalars, dtypes, and plain containers. Anything else is refused with the
name of what the file asked for.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import WeightsError

# (module, name) pairs a state-dict pickle may reference.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("collections", "OrderedDict"),
}
# Bookkeeping entries Paddle writes beside the tensors.
_META_KEYS = ("StructuredToParameterName@@", "UnpackBigParamInfor@@")


class _StateUnpickler(pickle.Unpickler):
    def __init__(self, file, source: str):
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise WeightsError(
            f"{self._source}: refused to load: the file asks to run {module}.{name} while "
            "loading, and a weight file needs nothing but arrays. If you made this file "
            "yourself, save it with paddle.save(net.state_dict(), path)."
        )


def read_pdparams(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A ``.pdparams`` file as ``{name: array}``, read safely."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weight file {str(path)!r} does not exist")
    data = path.read_bytes()
    try:
        state = _StateUnpickler(io.BytesIO(data), str(path)).load()
    except WeightsError:
        raise
    except Exception as exc:
        raise WeightsError(
            f"{path}: not a readable .pdparams file ({type(exc).__name__}: {exc}); "
            "is it truncated, or another format?"
        ) from exc
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


def read_state(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Weights from a ``.pdparams`` file or a directory holding ``model.pdparams``."""
    path = Path(path)
    if path.is_dir():
        candidates = [path / "model.pdparams", *sorted(path.glob("*.pdparams"))]
        for candidate in candidates:
            if candidate.is_file():
                return read_pdparams(candidate)
        raise WeightsError(f"directory {str(path)!r} holds no .pdparams file")
    if not path.exists():
        raise WeightsError(f"weight file {str(path)!r} does not exist")
    return read_pdparams(path)


def check_fit(net: Any, state: Mapping[str, Any], source: str) -> None:
    """Raise naming every missing, unexpected and wrongly shaped tensor, if any."""
    expected = {k: tuple(int(d) for d in v.shape) for k, v in net.state_dict().items()}
    given = {k: tuple(np.shape(v)) for k, v in state.items()}
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    wrong = sorted(k for k in set(expected) & set(given) if expected[k] != given[k])
    if not (missing or unexpected or wrong):
        return
    lines = [f"weights {source!r} do not fit {type(net).__name__}:"]
    for key in wrong:
        lines.append(f"  shape of {key}: file {list(given[key])}, model {list(expected[key])}")
    for key in missing:
        lines.append(f"  missing from the file: {key} {list(expected[key])}")
    for key in unexpected:
        lines.append(f"  not in the model: {key} {list(given[key])}")
    lines.append("Check that the weights are for this model and variant.")
    raise WeightsError("\n".join(lines))


def load_weights(net: Any, path: str | os.PathLike) -> None:
    """Load weights into ``net``; every tensor must be placed and none left over."""
    state = read_state(path)
    check_fit(net, state, str(path))
    current = net.state_dict()
    net.set_state_dict({k: v.astype(str(current[k].numpy().dtype), copy=False)
                        for k, v in state.items()})
