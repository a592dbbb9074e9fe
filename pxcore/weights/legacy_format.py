"""Paddle 1.x's per-variable layout: one file per variable, named after it (what
save_persistables wrote, and the zoo's .tar archives unpack to); read and written
without paddle.

Each file is a serialized DenseTensor: uint32 version, uint64 LoD level count (+ levels),
uint32 tensor version, int32 length of a TensorDesc protobuf (field 1: data type,
field 2: dims), then the raw little-endian data.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import WeightsError

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
