"""Reading weight files without running code from them, and fitting them to a network.

``.pdparams`` files are pickles. A pickle can name any callable to run while it loads,
so we read them with an unpickler that admits only what a state dict needs: numpy
arrays and scalars, dtypes, and plain containers. Anything else is refused with the
name of what the file asked for.
"""

from __future__ import annotations

import collections
import io
import logging
import math
import os
import pickle
import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .contract import ConvertsWeights, NamesWeights, declared
from .errors import WeightsError

logger = logging.getLogger("pxcore")

# Bookkeeping entries Paddle writes beside the tensors.
_META_KEYS = ("StructuredToParameterName@@", "UnpackBigParamInfor@@")
# How many items fetching already-built tuples again may add in all: sharing one object
# many times (memo GET/DUP) builds in a few bytes a structure whose hashing or printing
# takes exponential time (a tuple of two copies of a tuple of two copies of ...).
_SHARED_ITEMS_LIMIT = 1_000_000
# The only dtype state a numeric dtype has (numpy writes version 3); a state with other
# flags or fields could mark a float dtype as holding Python objects, which crashes.
_NUMERIC_DTYPE_STATE = (None, None, None, -1, -1, 0)


class _Refused(pickle.UnpicklingError):
    """Something a state dict never holds, refused while unpickling."""


def _refuse(what: str) -> None:
    raise _Refused(what)


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """What pickle protocol 2 calls to rebuild bytes under Python 3 (``_codecs.encode(text,
    "latin1")``): Paddle 1.x's fluid.save wrote its .pdparams at protocol 2, so an array's
    data comes back this way. Only that encoding is admitted."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        shown = repr(encoding[:40]) if isinstance(encoding, str) else type(encoding).__name__
        raise pickle.UnpicklingError(f"refused _codecs.encode with encoding {shown}")
    return text.encode("latin1")


def _tuple(items=()):
    """paddle.save writes a tensor as ``tuple((name, array))``; only a tuple or list is
    admitted (``tuple`` of a huge array would iterate it element by element)."""
    if type(items) not in (tuple, list):
        _refuse(f"builtins.tuple of a {type(items).__name__}")
    return tuple(items)


def _ordered_dict(*args):
    """``OrderedDict()`` (Python 3 pickles) or ``OrderedDict([[key, value], ...])`` (2)."""
    if not args:
        return collections.OrderedDict()
    pairs = args[0]
    if (len(args) != 1 or type(pairs) is not list
            or not all(type(p) in (list, tuple) and len(p) == 2 for p in pairs)):
        _refuse("collections.OrderedDict called with other than a list of pairs")
    return collections.OrderedDict(pairs)


def _dtype(spec, align=False, copy=False):
    """A numeric dtype named by a string ('f4', 'i8', ...): weights are numbers."""
    if type(spec) is not str:
        _refuse(f"numpy.dtype of a {type(spec).__name__}")
    try:
        dtype = np.dtype(spec, align=bool(align), copy=bool(copy))
    except TypeError as exc:
        raise pickle.UnpicklingError(f"numpy.dtype {spec[:40]!r}: {exc}") from None
    if dtype.kind not in "biufc" or dtype.hasobject or dtype.fields or dtype.subdtype:
        _refuse(f"dtype {spec[:40]!r}, which is not a plain numeric type")
    return dtype


class _NdarrayType:
    """Stands for numpy.ndarray, which a state-dict pickle names only as the type handed
    to _reconstruct; calling it directly would allocate any shape the file asks for."""

    def __call__(self, *args, **kwargs):
        _refuse("calling numpy.ndarray directly")


_NDARRAY = _NdarrayType()


def _scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or type(data) is not bytes:
        _refuse("numpy scalar other than of a numeric dtype and bytes")
    return _SCALAR(dtype, data)


class _StateUnpickler(pickle._Unpickler):
    """The pure-Python unpickler (its opcodes can be checked one by one), admitting only
    what a state dict needs; each admitted global is a checked stand-in for the real one."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, source: str, size: int):
        # latin1: a Python 2 pickle's str data, as Paddle's own loaders read it
        super().__init__(file, encoding="latin1")
        self._source = source
        self._size = size  # bytes in the file: no array may need more
        self._shared = 0

    def find_class(self, module: str, name: str):
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is _reconstruct:
            return self._reconstruct
        if allowed is not None:
            return allowed
        raise WeightsError(
            f"{self._source}: refused to load: the file asks to run {module}.{name} while "
            "loading, and a weight file needs nothing but arrays. If you made this file "
            "yourself, save it with paddle.save(net.state_dict(), path)."
        )

    def _reconstruct(self, subtype, shape, dtype):
        """numpy's empty array that BUILD then fills (numpy writes shape (0,))."""
        if subtype is not _NDARRAY or type(shape) is not tuple or type(dtype) not in (bytes, str):
            _refuse("numpy _reconstruct of other than an ndarray")
        if not all(type(d) is int and d >= 0 for d in shape):
            _refuse(f"array shape {shape!r}")
        if math.prod(shape) * _dtype(dtype.decode("latin1") if type(dtype) is bytes
                                     else dtype).itemsize > self._size:
            _refuse(f"array of shape {list(shape)}, larger than the file")
        return _RECONSTRUCT(np.ndarray, shape, dtype)

    def _check_shared(self):
        """After a memo GET or DUP: the object now on the stack is there a second time."""
        obj = self.stack[-1]
        if isinstance(obj, list | dict | set | bytearray):
            _refuse(f"the file uses one {type(obj).__name__} twice (weights never do)")
        if isinstance(obj, tuple | frozenset):
            if any(isinstance(item, list | dict | set | tuple | frozenset | bytearray)
                   for item in obj):
                _refuse("the file uses a nested tuple twice (weights never do)")
            self._shared += len(obj)
            if self._shared > _SHARED_ITEMS_LIMIT:
                _refuse(f"the file reuses tuples for more than {_SHARED_ITEMS_LIMIT} items")

    def _load_build(self):
        inst = self.stack[-2]
        state = self.stack[-1]
        if isinstance(inst, np.dtype):
            if (type(state) is not tuple or len(state) != 8 or state[0] != 3
                    or state[1] not in ("<", ">", "|", "=") or state[2:] != _NUMERIC_DTYPE_STATE):
                _refuse("a dtype state other than a plain numeric type's")
        elif type(inst) is not np.ndarray:
            _refuse(f"setting the state of a {type(inst).__name__}")
        pickle._Unpickler.load_build(self)


def _sharing(load):
    def checked(self):
        load(self)
        self._check_shared()
    return checked


for _op in (pickle.GET, pickle.BINGET, pickle.LONG_BINGET, pickle.DUP):
    _StateUnpickler.dispatch[_op[0]] = _sharing(pickle._Unpickler.dispatch[_op[0]])
_StateUnpickler.dispatch[pickle.BUILD[0]] = _StateUnpickler._load_build

_RECONSTRUCT = np.zeros(0).__reduce__()[0]  # numpy's own, wherever this numpy keeps it
_SCALAR = np.float32(0).__reduce__()[0]
_reconstruct = object()  # marks the entries find_class binds to the unpickler

# (module, name) pairs a state-dict pickle may reference, and what each stands for.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _scalar,
    ("numpy._core.multiarray", "scalar"): _scalar,
    ("collections", "OrderedDict"): _ordered_dict,
    # paddle.save writes a nested dict's tensors as tuple(...) calls (at protocol 2,
    # Python 3 names builtins as Python 2 did).
    ("builtins", "tuple"): _tuple,
    ("__builtin__", "tuple"): _tuple,
    # protocol 2 rebuilds bytes with _codecs.encode(text, "latin1")
    ("_codecs", "encode"): _latin1_bytes,
}


def safe_unpickle(path: str | os.PathLike):
    """A pickle file (.pdparams, .pdopt) read with only arrays, numbers, strings and
    containers admitted."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weight file {str(path)!r} does not exist")
    try:
        data = path.read_bytes()
        return _StateUnpickler(io.BytesIO(data), str(path), len(data)).load()
    except WeightsError:
        raise
    except _Refused as exc:
        raise WeightsError(
            f"{path}: refused to load: {exc}; a weight file holds only arrays, numbers, "
            "strings and plain containers") from None
    except Exception as exc:
        raise WeightsError(
            f"{path}: not a readable {path.suffix or 'pickle'} file ({type(exc).__name__}: {str(exc)[:200]}); "
            "is it truncated, or another format?"
        ) from exc


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


# --- the legacy per-variable layout ----------------------------------------------------
# Paddle 1.x's save_persistables wrote one file per variable, named after it. Each file
# is a serialized DenseTensor: uint32 version, uint64 LoD level count (+ levels),
# uint32 tensor version, int32 length of a TensorDesc protobuf (field 1: data type,
# field 2: dims), then the raw little-endian data.

_LEGACY_DTYPES = {0: np.bool_, 1: np.int16, 2: np.int32, 3: np.int64, 4: np.float16,
                  5: np.float32, 6: np.float64, 20: np.uint8, 21: np.int8}
_LEGACY_CODES = {np.dtype(v): k for k, v in _LEGACY_DTYPES.items()}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _parse_tensor_desc(desc: bytes) -> tuple[int, list[int]]:
    dtype, dims, pos = None, [], 0
    while pos < len(desc):
        key, pos = _varint(desc, pos)
        field, wire = key >> 3, key & 7
        if field == 1 and wire == 0:
            dtype, pos = _varint(desc, pos)
        elif field == 2 and wire == 0:
            dim, pos = _varint(desc, pos)
            dims.append(dim - (1 << 64) if dim >= 1 << 63 else dim)
        elif field == 2 and wire == 2:  # packed dims
            length, pos = _varint(desc, pos)
            end = pos + length
            while pos < end:
                dim, pos = _varint(desc, pos)
                dims.append(dim)
        else:
            raise ValueError(f"unexpected field {field} (wire type {wire}) in the tensor description")
    if dtype is None:
        raise ValueError("the tensor description has no data type")
    return dtype, dims


def read_legacy_tensor(path: str | os.PathLike) -> np.ndarray:
    """One variable file of Paddle 1.x's per-variable layout."""
    data = Path(path).read_bytes()
    try:
        pos = 4  # version
        (lod_levels,) = np.frombuffer(data[pos:pos + 8], "<u8")
        pos += 8
        if lod_levels > 16:
            raise ValueError(f"{lod_levels} LoD levels")
        for _ in range(int(lod_levels)):
            (size,) = np.frombuffer(data[pos:pos + 8], "<u8")
            pos += 8 + int(size)
        pos += 4  # tensor version
        (desc_size,) = np.frombuffer(data[pos:pos + 4], "<i4")
        pos += 4
        if not 0 < desc_size < 4096:
            raise ValueError(f"tensor description of {desc_size} bytes")
        code, dims = _parse_tensor_desc(data[pos:pos + int(desc_size)])
        pos += int(desc_size)
        if code not in _LEGACY_DTYPES:
            raise ValueError(f"data type code {code} is not supported")
        dtype = np.dtype(_LEGACY_DTYPES[code]).newbyteorder("<")
        count = int(np.prod(dims)) if dims else 1
        if any(d < 0 for d in dims) or len(data) - pos != count * dtype.itemsize:
            raise ValueError(f"{len(data) - pos} bytes of data for shape {dims} of {dtype}")
        return np.frombuffer(data, dtype, count, pos).reshape(dims).copy()
    except ValueError as exc:
        raise WeightsError(f"{path}: not a Paddle tensor file ({exc})") from None


def write_legacy_tensor(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write one variable in Paddle 1.x's per-variable layout (tests build archives with it)."""
    array = np.ascontiguousarray(array)
    desc = bytearray([0x08, _LEGACY_CODES[array.dtype]])
    for dim in array.shape:
        desc.append(0x10)
        while True:
            byte, dim = dim & 0x7F, dim >> 7
            desc.append(byte | (0x80 if dim else 0))
            if not dim:
                break
    Path(path).parent.mkdir(parents=True, exist_ok=True)  # names with scopes nest folders
    header = (np.array([0], "<u4").tobytes() + np.array([0], "<u8").tobytes()
              + np.array([0], "<u4").tobytes() + np.array([len(desc)], "<i4").tobytes())
    Path(path).write_bytes(header + bytes(desc) + array.astype(array.dtype.newbyteorder("<")).tobytes())


def read_legacy_dir(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every variable file in a Paddle 1.x per-variable directory, named by its path
    there: a variable called ``xception_65/entry_flow/conv1/weights`` (Paddle 1.x name
    scopes) was saved as that nested path."""
    path = Path(path)
    if (path / "__params__").exists():
        raise WeightsError(
            f"{path}: holds a combined '__params__' file, which needs its program to be read; "
            "use the per-variable archive (the zoo's .tar files unpack to one)")
    state = {}
    for item in sorted(path.rglob("*")):
        relative = item.relative_to(path)
        if item.is_file() and not any(part.startswith((".", "__")) for part in relative.parts):
            state[relative.as_posix()] = read_legacy_tensor(item)
    if not state:
        raise WeightsError(f"directory {str(path)!r} holds no weights (.pdparams or tensor files)")
    return state


# --- archives and dispatch -------------------------------------------------------------

def extract_archive(path: Path, dest: Path) -> Path:
    """Unpack a .tar/.tar.gz/.tgz safely (no absolute paths, no '..', no links, no
    devices) and return the directory that holds the weights."""
    import tarfile

    try:
        archive = tarfile.open(path)
    except (tarfile.TarError, OSError) as exc:
        raise WeightsError(f"{path}: not a readable tar archive ({exc})") from exc
    with archive:
        members = []
        for member in archive.getmembers():
            name = Path(member.name)
            if name.is_absolute() or ".." in name.parts:
                raise WeightsError(f"{path}: refused: member {member.name!r} points outside the archive")
            if not (member.isfile() or member.isdir()):
                raise WeightsError(f"{path}: refused: member {member.name!r} is a link or device")
            members.append(member)
        archive.extractall(dest, members=members)
    entries = [p for p in dest.iterdir() if not p.name.startswith(".")]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest


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


# --- fitting a state to a network ------------------------------------------------------

# Training bookkeeping that legacy archives sometimes carry beside the weights.
_BOOKKEEPING = re.compile(r"(@LR_DECAY_COUNTER@|learning_rate_\d+|.*_velocity_\d+|"
                          r".*_moment\d*_\d+|.*_beta\d_pow_acc_\d+)$")


class WeightsReport(list):
    """What loading did: the notes (sentences, each also logged; the list ``load_weights``
    returns) and ``left_at_init``, the network's tensors the weights did not set, which
    keep their initial values: a head re-initialised for another class count, and with
    ``partial=True`` every tensor the weights lack. A list, so that callers reading the
    notes keep working."""

    def __init__(self, notes: Iterable[str] = (), left_at_init: Iterable[str] = ()) -> None:
        super().__init__(notes)
        self.left_at_init: tuple[str, ...] = tuple(left_at_init)


def fit_state(net: Any, state: Mapping[str, np.ndarray], source: str, *,
              reinit_head: bool = True,
              partial: bool = False) -> tuple[dict[str, np.ndarray], WeightsReport]:
    """Rename ``state`` to the network's keys and check that it fits.

    A network with ``convert_weights(state)`` converts the state first (tensors another
    layout stores differently, not only under other names). Names the network does not
    use are then looked up in ``net.weight_aliases()`` (a map from another layout's
    names to the network's, e.g. Paddle 1.x variable names).
    Tensors under ``net.head_prefixes`` whose shape differs (another class count) are
    left out so the head keeps its fresh initialisation. Tensors under
    ``net.unused_prefixes`` that the network lacks are dropped: a backbone declares its
    classifier's head there, so it loads that classifier's checkpoint.
    With ``partial=True`` the network's tensors that the weights lack keep their initial
    values and are reported (a backbone's weights under a head they never had); the
    weights' own tensors must still all fit. Returns the state to load and a
    ``WeightsReport``; raises naming every tensor that does not fit.
    """
    # A layout that differs by more than names (PaddleDetection 0.x puts R-CNN's
    # background class first) is converted by the network first; it passes the others.
    if isinstance(net, ConvertsWeights):
        state = net.convert_weights(state)
    expected = {k: tuple(int(d) for d in v.shape) for k, v in net.state_dict().items()}
    aliases = net.weight_aliases() if isinstance(net, NamesWeights) else {}
    renamed: dict[str, np.ndarray] = {}
    notes: list[str] = []
    skipped = []
    for key, value in state.items():
        ours = key if key in expected else aliases.get(key)
        if ours is None and _BOOKKEEPING.match(key):
            skipped.append(key)
            continue
        ours = ours or key
        if ours in renamed:
            raise WeightsError(f"weights {source!r}: {key!r} and another entry both map to {ours!r}")
        renamed[ours] = value
    if skipped:
        notes.append(f"ignored {len(skipped)} training bookkeeping entries ({', '.join(skipped[:3])}...)")
    unused = tuple(declared(net, "unused_prefixes", ()))
    dropped = [k for k in renamed if k not in expected and unused and k.startswith(unused)]
    if dropped:
        for key in dropped:
            del renamed[key]
        notes.append(f"left out {len(dropped)} tensors this network does not use "
                     f"({', '.join(sorted(dropped)[:4])}{'...' if len(dropped) > 4 else ''})")
    head = tuple(declared(net, "head_prefixes", ()))
    left_at_init: list[str] = []
    if reinit_head and head:
        reset = [k for k, v in renamed.items()
                 if k in expected and k.startswith(head) and tuple(np.shape(v)) != expected[k]]
        if reset:
            shapes = ", ".join(f"{k} {list(np.shape(renamed[k]))} -> {list(expected[k])}" for k in reset)
            notes.append(f"the head's shapes differ from the weights' (another class count, "
                         f"or another head), so it was re-initialised ({shapes})")
            for key in reset:
                del renamed[key]
                expected.pop(key)
            left_at_init += reset
    if partial:
        missing = sorted(set(expected) - set(renamed))
        if not set(renamed) & set(expected):
            raise WeightsError(
                f"weights {source!r} hold none of {type(net).__name__}'s tensors under its "
                "names or its known aliases, so partial=True would load nothing; check that "
                "they are for this model")
        if missing:
            total = len(net.state_dict())
            notes.append(f"partial=True: {len(missing)} of the network's {total} tensors are "
                         f"not in the weights and keep their initial values: {', '.join(missing)}")
            for key in missing:
                expected.pop(key)
            left_at_init += missing
    check_fit(expected, renamed, source, type(net).__name__)
    return renamed, WeightsReport(notes, left_at_init)


def check_fit(expected: Mapping[str, tuple], state: Mapping[str, Any], source: str,
              owner: str = "the model") -> None:
    """Raise naming every missing, unexpected and wrongly shaped tensor, if any."""
    given = {k: tuple(np.shape(v)) for k, v in state.items()}
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    wrong = sorted(k for k in set(expected) & set(given) if tuple(expected[k]) != given[k])
    if not (missing or unexpected or wrong):
        return
    lines = [f"weights {source!r} do not fit {owner}:"]
    for key in wrong:
        lines.append(f"  shape of {key}: file {list(given[key])}, model {list(expected[key])}")
    for key in missing:
        lines.append(f"  missing from the file: {key} {list(expected[key])}")
    for key in unexpected:
        lines.append(f"  not in the model: {key} {list(given[key])}")
    if missing and not (unexpected or wrong):
        # Every tensor of the file fits: it may cover part of the network on purpose.
        lines.append(
            f"The weights' {len(given)} tensors all fit, and {len(missing)} are missing. If "
            "they are meant to cover only part of the model (a backbone's weights under another "
            "head), pass partial=True to load them and keep the missing tensors at their "
            "initial values (listed in the report it returns and logs).")
    else:
        lines.append("Check that the weights are for this model and variant.")
    raise WeightsError("\n".join(lines))


def load_weights(net: Any, path: str | os.PathLike, *, reinit_head: bool = True,
                 state: Mapping[str, np.ndarray] | None = None,
                 partial: bool = False) -> WeightsReport:
    """Load weights from any layout ``read_state`` reads into ``net`` (``state``: the
    tensors already read from ``path``). Every tensor of the file is placed and every
    tensor of the network is set (but a re-initialised head).

    ``partial=True`` loads weights that cover only part of the network (a zoo archive's
    backbone under a head it was not trained with): every tensor of the file must still
    fit, and the network's tensors the file lacks keep their initial values. Without it
    such weights are refused, naming what is missing. Returns a ``WeightsReport``: the
    notes (also logged) and ``left_at_init``, the tensors the weights did not set."""
    state, notes = fit_state(net, read_state(path) if state is None else state, str(path),
                             reinit_head=reinit_head, partial=partial)
    current = net.state_dict()
    with warnings.catch_warnings():  # Paddle warns per re-initialised tensor; we noted them
        warnings.filterwarnings("ignore", message="Skip loading for")
        net.set_state_dict({k: np.asarray(v).astype(str(current[k].numpy().dtype), copy=False)
                            for k, v in state.items()})
    for note in notes:
        logger.warning("%s: %s", path, note)
    return notes
