"""Reading annotation files that may be hostile, and checking their values: the XML and
JSON readers (no DOCTYPE, every decoding failure a ``DatasetError``), box clipping, the
XML field readers, and the COCO number, id and segmentation checks (RLE runs decoded in
Python, with checks). The loaders and ``px check-dataset`` share them."""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ..base import DatasetError, is_file


class _NoDoctype(ET.TreeBuilder):
    """Refuses a DOCTYPE: it is where entities are declared (the "billion laughs" and
    external-entity attacks), and no annotation tool writes one."""

    def doctype(self, name, pubid, system):
        raise DatasetError("DOCTYPE")


def parse_xml(path: str | os.PathLike) -> ET.Element:
    """The root of the XML file at ``path``; DOCTYPE/ENTITY declarations are refused."""
    path = Path(path)
    if not is_file(path):
        raise DatasetError(f"annotation {str(path)!r} does not exist")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"annotation {str(path)!r} cannot be read ({exc})") from None
    parser = ET.XMLParser(target=_NoDoctype())
    try:
        parser.feed(data)
        return parser.close()
    except DatasetError:
        raise DatasetError(
            f"annotation {str(path)!r} declares a DOCTYPE (entities are refused because they "
            "can expand without bound); remove the <!DOCTYPE ...> block") from None
    except ET.ParseError as exc:
        raise DatasetError(f"annotation {str(path)!r} is not well-formed XML ({exc})") from None


def read_json(path: str | os.PathLike, what: str = "annotation file") -> Any:
    """The JSON at ``path``; any failure to read or decode it is a ``DatasetError``
    naming the ``what``."""
    path = Path(path)
    if not is_file(path):
        raise DatasetError(f"{what} {str(path)!r} does not exist")
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise DatasetError(f"{what} {str(path)!r} cannot be read ({exc})") from None
    except (ValueError, RecursionError) as exc:
        # ValueError: not UTF-8, not JSON, or an integer of more digits than Python converts;
        # RecursionError: arrays or objects nested deeper than the interpreter's stack
        raise DatasetError(f"{what} {str(path)!r} is not valid JSON "
                           f"({type(exc).__name__}: {str(exc)[:200]})") from None


def clip_box(box: list[float], width: float, height: float, where: str) -> list[float]:
    """``box`` (x1, y1, x2, y2) clipped to the image; an empty result is an error."""
    try:
        x1, y1, x2, y2 = (float(v) for v in box)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond float
        raise DatasetError(f"{where}: box {list(box)} should be 4 finite numbers") from None
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise DatasetError(f"{where}: box {[x1, y1, x2, y2]} has a non-finite coordinate")
    x1, x2 = min(max(x1, 0.0), width), min(max(x2, 0.0), width)
    y1, y2 = min(max(y1, 0.0), height), min(max(y2, 0.0), height)
    if x2 <= x1 or y2 <= y1:
        raise DatasetError(f"{where}: box {list(box)} is empty once clipped to the "
                           f"{width:g}x{height:g} image (needs x1 < x2 and y1 < y2)")
    return [x1, y1, x2, y2]


def is_finite_number(value: Any) -> bool:
    """A JSON number (not a bool) that is finite as a float."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond any float
        return False


def is_id(value: Any) -> bool:
    """An integer, not a bool: what a COCO id must be."""
    return isinstance(value, int) and not isinstance(value, bool)


def _rle_counts(counts: str) -> list[int]:
    """The run lengths of a compressed COCO RLE string, decoded as pycocotools does but
    checked: its C decoder reads past the end of a malformed string."""
    out: list[int] = []
    pos = 0
    while pos < len(counts):
        value = shift = 0
        more = True
        while more:
            if pos >= len(counts) or shift > 60:
                raise ValueError("it ends inside a number")
            c = ord(counts[pos]) - 48
            if not 0 <= c < 64:
                raise ValueError(f"character {counts[pos]!r} at {pos} is not RLE")
            value |= (c & 0x1F) << shift
            more = bool(c & 0x20)
            pos += 1
            shift += 5
            if not more and c & 0x10:
                value |= -1 << shift
        if len(out) > 2:
            value += out[-2]
        out.append(value)
    return out


def check_segmentation(segmentation: Any, width: int, height: int, here: str) -> None:
    """COCO polygons (flat lists of finite x, y pairs) or an RLE of the image's size whose
    runs cover it exactly (pycocotools trusts the runs and would write past its buffer)."""
    if isinstance(segmentation, list):
        if not all(isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0
                   and all(is_finite_number(v) for v in p) for p in segmentation):
            raise DatasetError(f"{here}: segmentation should be a list of polygons, "
                               "each a flat list of at least 3 x, y pairs of finite numbers")
        # pycocotools rasterizes a polygon step by step along its edges: a point far
        # outside the image (1e8) makes that take hours, and (1e12) crashes the interpreter
        for polygon in segmentation:
            for x, y in zip(polygon[::2], polygon[1::2], strict=True):
                if not (-width <= x <= 2 * width and -height <= y <= 2 * height):
                    raise DatasetError(f"{here}: polygon point ({x:g}, {y:g}) lies far outside "
                                       f"the {width}x{height} image")
        return
    if not isinstance(segmentation, dict):
        raise DatasetError(f"{here}: segmentation should be polygons (a list) or an RLE (an "
                           f"object with size and counts), not a {type(segmentation).__name__}")
    size, counts = segmentation.get("size"), segmentation.get("counts")
    if size != [height, width] or not all(is_id(v) for v in size):
        raise DatasetError(f"{here}: the RLE's size {size!r} should be the image's "
                           f"[height, width], [{height}, {width}]")
    if isinstance(counts, str):
        try:
            runs = _rle_counts(counts)
        except ValueError as exc:
            raise DatasetError(f"{here}: the RLE counts cannot be decoded ({exc})") from None
    elif isinstance(counts, list) and all(is_id(v) for v in counts):
        runs = counts
    else:
        raise DatasetError(f"{here}: the RLE counts should be a string or a list of integers")
    if any(v < 0 for v in runs) or sum(runs) != height * width:
        raise DatasetError(f"{here}: the RLE runs should be non-negative and cover the "
                           f"{width}x{height} image's {height * width} pixels exactly")


def xml_text(element: ET.Element, tag: str, where: str) -> str:
    """The stripped text of ``element``'s child ``tag``; missing or empty is an error."""
    child = element.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise DatasetError(f"{where}: <{tag}> is missing or empty")
    return child.text.strip()


def xml_number(element: ET.Element, tag: str, where: str) -> float:
    """``xml_text`` read as a number."""
    text = xml_text(element, tag, where)
    try:
        return float(text)
    except ValueError:
        raise DatasetError(f"{where}: <{tag}> {text!r} is not a number") from None
