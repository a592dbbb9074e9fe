"""The safe unpickler: a pickle file (.pdparams, .pdopt) read without running code from it.

``.pdparams`` files are pickles. A pickle can name any callable to run while it loads,
so we read them with an unpickler that admits only what a state dict needs: numpy
arrays and scalars, dtypes, and plain containers. Anything else is refused with the
name of what the file asked for.
"""

from __future__ import annotations

import collections
import io
import math
import os
import pickle
from pathlib import Path

import numpy as np

from ..errors import WeightsError

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
