"""Model directories: a readable model.yml, the weights, and (for resuming) the
optimizer and training state. Written to a temporary directory and renamed into place,
so a process killed while saving leaves the previous checkpoint whole.

Replacing a directory that exists swaps the two in one step where the system can
(Linux's renameat2 RENAME_EXCHANGE), so the name always holds a whole checkpoint, the
old or the new. Elsewhere it takes two renames; a kill between them leaves the old one
at ``.NAME.old``, and the next save (or training run) in that folder puts it back.
Temporary directories of killed saves (``.NAME.tmp-*``) are never read as checkpoints
and are removed the same way (tests/test_crash_safety.py kills real runs to prove it)."""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..errors import PxError

MODEL_FILE = "model.yml"
WEIGHTS_FILE = "model.pdparams"
OPTIMIZER_FILE = "model.pdopt"
STATE_FILE = "train_state.json"
EMA_FILE = "model.pdema"  # the running weight average, to resume with use_ema


def save_dir(target: str | os.PathLike, *, info: dict[str, Any], net, optimizer=None,
             train_state: dict[str, Any] | None = None, ema=None) -> Path:
    """Write a model directory atomically and return its path."""
    import paddle

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tidy(target.parent, re.escape(target.name))
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        (tmp / MODEL_FILE).write_text(yaml.safe_dump(info, sort_keys=False, allow_unicode=True),
                                      encoding="utf-8")
        paddle.save(net.state_dict(), str(tmp / WEIGHTS_FILE))
        if optimizer is not None:
            paddle.save(optimizer_state(net, optimizer), str(tmp / OPTIMIZER_FILE))
        if ema is not None:  # as plain arrays: paddle.save nests tensors as tuples
            state = ema.state_dict()
            state["average"] = {k: v.numpy() for k, v in state["average"].items()}
            paddle.save(state, str(tmp / EMA_FILE))
        if train_state is not None:
            (tmp / STATE_FILE).write_text(json.dumps(train_state), encoding="utf-8")
        _fsync_dir(tmp)
        replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


# Paddle keys optimizer state by parameter names like "conv2d_12.w_0_velocity_0", which
# depend on how many layers the process made before; a resumed run (or another model in
# the same process) names them differently. So the file keys them by structured name.
_SEP = "|"


def _param_names(net) -> list[tuple[str, str]]:
    """(global parameter name, structured name), longest global names first."""
    pairs = [(p.name, key) for key, p in net.named_parameters()]
    return sorted(pairs, key=lambda pair: -len(pair[0]))


def optimizer_state(net, optimizer) -> dict:
    out = {}
    names = _param_names(net)
    for key, value in optimizer.state_dict().items():
        for global_name, structured in names:
            if isinstance(key, str) and key.startswith(global_name + "_"):
                key = structured + _SEP + key[len(global_name) + 1:]
                break
        out[key] = value
    return out


def load_optimizer_state(net, optimizer, state: dict) -> None:
    by_structure = {structured: global_name for global_name, structured in _param_names(net)}
    renamed = {}
    for key, value in state.items():
        if isinstance(key, str) and _SEP in key:
            structured, rest = key.split(_SEP, 1)
            if structured not in by_structure:
                raise PxError(f"the optimizer state names parameter {structured!r}, which this "
                              "model does not have; resume with the model that wrote it")
            key = f"{by_structure[structured]}_{rest}"
        renamed[key] = value
    optimizer.set_state_dict(renamed)


def replace_dir(tmp: Path, target: Path) -> None:
    """Put the finished directory ``tmp`` at ``target``, replacing what is there so that
    a kill at any moment leaves a whole directory under the name (or, between the two
    renames of the fallback, at ``.NAME.old``, which ``tidy`` puts back)."""
    if not target.exists():
        os.replace(tmp, target)
    elif _exchange(tmp, target):  # one step: the name holds the old one or the new one
        shutil.rmtree(tmp, ignore_errors=True)  # now the old one
    else:  # two steps
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)


_LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?:old|tmp-[^.]+)")
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def tidy(parent: str | os.PathLike, names: str) -> None:
    """Clean up after saves killed in ``parent``, for model directories whose name matches
    the regular expression ``names``: put back a directory a kill left at ``.NAME.old``
    (only where NAME is missing) and remove the other leftovers."""
    parent = Path(parent)
    if not parent.is_dir():
        return
    for item in sorted(parent.iterdir()):
        match = _LEFTOVER.fullmatch(item.name)
        if not match or not re.fullmatch(names, match["name"]) or not item.is_dir():
            continue
        target = parent / match["name"]
        if item.name.endswith(".old") and not target.exists() and (item / MODEL_FILE).is_file():
            os.replace(item, target)
        else:
            shutil.rmtree(item, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically; False where this system or file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2  # glibc 2.28 and later
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def _fsync_dir(path: Path) -> None:
    for item in path.iterdir():
        with open(item, "rb") as handle:
            os.fsync(handle.fileno())


def read_info(model_dir: str | os.PathLike) -> dict[str, Any]:
    model_dir = Path(model_dir)
    path = model_dir / MODEL_FILE
    if not path.is_file():
        hint = ""
        if (model_dir / "best_model" / MODEL_FILE).is_file():
            hint = f"; the best model of that run is {model_dir / 'best_model'}"
        raise PxError(f"{str(model_dir)!r} is not a pxcore model directory (no {MODEL_FILE}){hint}")
    try:
        info = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PxError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(info, dict) or "model" not in info:
        raise PxError(f"{path}: does not describe a model (no 'model' key)")
    return info


def read_train_state(model_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(model_dir) / STATE_FILE
    if not path.is_file():
        raise PxError(f"{str(model_dir)!r} holds no training state ({STATE_FILE}); only "
                      "checkpoints written during training can be resumed")
    return json.loads(path.read_text(encoding="utf-8"))
