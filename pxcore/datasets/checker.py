"""``check``: every problem in a data set at once, as data, where the loaders stop at the
first. Each format is read with the loaders' own hardened pieces (``parse_xml``,
``read_json``, ``read_label_list``, ``read_label_image``, ``decode_image``, the COCO
segmentation check), but a bad item becomes a ``Finding`` (file, line or annotation id)
and the walk goes on. The result also keeps what ``check_fix`` needs to write a cleaned
copy and what ``check_report`` draws.

Severities: an *error* is what a loader refuses or what makes training or evaluation
wrong (a missing image, a box with no area, a label outside the list, one image in two
splits); a *warning* is what loads but deserves a look (a box partly outside its image,
which loading clips; an image without annotations; a duplicate inside a split; class
imbalance beyond ``imbalance_ratio``).
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data.images import decode_image
from ..errors import PxError
from ..transforms.geometry import IGNORE_INDEX
from .base import DatasetError, is_file, read_label_list, read_text_lines
from .detection.validation import (
    check_segmentation,
    is_finite_number,
    is_id,
    parse_xml,
    read_json,
    xml_number,
    xml_text,
)
from .segmentation import read_label_image

FORMATS = ("imagenet", "voc", "coco", "seg")
SPLITS = ("train", "val", "test")
IMBALANCE_RATIO = 10.0  # most / fewest samples per class beyond which a warning is given
MAX_LABEL_VALUES_NAMED = 8  # label values outside the list named in one finding


@dataclass
class Finding:
    """One problem: ``file`` and ``line`` (a list line) or ``item`` (a VOC ``object k``,
    a COCO ``annotation id N`` / ``image id N``) say where."""

    severity: str  # "error" or "warning"
    code: str  # e.g. "image_missing", "box_zero_area"
    message: str
    file: str
    line: int | None = None
    item: str | None = None
    split: str | None = None

    def where(self) -> str:
        return self.file + (f", line {self.line}" if self.line else "") + (f", {self.item}" if self.item else "")

    def __str__(self) -> str:
        return f"{self.severity}: {self.where()}: {self.message} [{self.code}]"


@dataclass
class Entry:
    """A list line or a COCO image, with what ``check_fix`` does to it: ``drop`` (the
    reason) or, for VOC objects and COCO annotations, per-object ``edits``
    (object index from 1 or annotation id -> the clipped box, or the reason to drop it)."""

    split: str
    source: Path  # the list or COCO file
    line: int | None
    image: Path | None
    text: str = ""  # the list line, or the COCO image id
    annotation: Path | None = None  # VOC XML or seg label image
    drop: str | None = None
    edits: dict[Any, Any] = field(default_factory=dict)
    classes: list[int] = field(default_factory=list)  # class ids drawn on the sample picture
    boxes: list[list[float]] = field(default_factory=list)  # x1, y1, x2, y2
    pixels: list[int] = field(default_factory=list)  # seg: pixels of each of ``classes``


@dataclass
class CheckResult:
    """What ``check`` found. ``summary()`` is the JSON the report writes."""

    format: str
    data_dir: Path
    labels: list[str]
    sources: dict[str, Path]  # split -> list or COCO file
    findings: list[Finding] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    listed: dict[str, int] = field(default_factory=dict)  # split -> lines or COCO images
    images: dict[str, int] = field(default_factory=dict)  # split -> usable images (not dropped)
    annotations: dict[str, int] = field(default_factory=dict)  # split -> objects / labelled images
    per_class: dict[str, list[int]] = field(default_factory=dict)  # split -> count per class
    box_sizes: list[tuple[float, float]] = field(default_factory=list)  # (w, h) of kept boxes
    pixels: list[int] = field(default_factory=list)  # seg: pixels per class
    coco: dict[str, Any] = field(default_factory=dict)  # split -> the parsed COCO document
    imbalance_ratio: float = IMBALANCE_RATIO
    label_list: Path | None = None  # None for COCO, whose categories name the classes
    fixes: list[str] = field(default_factory=list)  # set by check_fix.write_fixed

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def class_totals(self) -> list[int]:
        totals = [0] * len(self.labels)
        for counts in self.per_class.values():
            for k, n in enumerate(counts):
                totals[k] += n
        return totals

    def summary(self) -> dict[str, Any]:
        counts = {split: {"listed": self.listed.get(split, 0), "images": self.images.get(split, 0),
                          "annotations": self.annotations.get(split, 0),
                          "per_class": dict(zip(self.labels, self.per_class.get(split, []), strict=False))}
                  for split in self.sources}
        out: dict[str, Any] = {
            "format": self.format, "data_dir": str(self.data_dir), "labels": self.labels,
            "sources": {k: str(v) for k, v in self.sources.items()}, "splits": counts,
            "errors": len(self.errors), "warnings": len(self.warnings),
            "findings": [asdict(f) for f in self.findings], "imbalance_ratio": self.imbalance_ratio,
            "label_list": str(self.label_list) if self.label_list else None}
        if self.box_sizes:
            sizes = np.asarray(self.box_sizes, np.float64)
            side = np.sqrt(sizes[:, 0] * sizes[:, 1])
            out["boxes"] = {"count": len(sizes), "side_px_quantiles": _quantiles(side),
                            "aspect_w_over_h_quantiles": _quantiles(sizes[:, 0] / sizes[:, 1])}
        if self.pixels:
            total = sum(self.pixels) or 1
            out["pixel_share"] = {name: n / total for name, n in zip(self.labels, self.pixels, strict=False)}
        if self.fixes:
            out["fixes"] = self.fixes
        return out


def _quantiles(values: np.ndarray) -> dict[str, float]:
    return {f"p{q}": float(np.percentile(values, q)) for q in (0, 5, 50, 95, 100)}


class _Images:
    """Each image read once (it may be listed on many lines): content hash and size, or
    why it cannot be used."""

    def __init__(self) -> None:
        self.seen: dict[Path, tuple[str | None, tuple[int, int] | None, str | None, str]] = {}

    def get(self, path: Path) -> tuple[str | None, tuple[int, int] | None, str | None, str]:
        """(sha1, (height, width), problem code, its message) for ``path``."""
        if path not in self.seen:
            self.seen[path] = self._read(path)
        return self.seen[path]

    @staticmethod
    def _read(path: Path):
        if not is_file(path):  # a device or pipe is no file either: reading it might never end
            try:
                exists = path.exists()
            except (OSError, ValueError):
                exists = False
            return (None, None, "image_unreadable", f"{str(path)!r} is not a file") if exists else (
                None, None, "image_missing", f"image {str(path)!r} does not exist")
        try:
            data = path.read_bytes()
        except OSError as exc:
            return None, None, "image_unreadable", f"image {str(path)!r} cannot be read ({exc})"
        digest = hashlib.sha1(data).hexdigest()
        try:
            image = decode_image(data, f"image {str(path)!r}")
        except PxError as exc:
            return digest, None, "image_unreadable", str(exc)
        return digest, image.shape[:2], None, ""


class _Checker:
    def __init__(self, result: CheckResult) -> None:
        self.result = result
        self.images = _Images()
        self.hashes: list[tuple[str, Entry]] = []

    def add(self, severity: str, code: str, message: str, file: Path | str, line: int | None = None,
            item: str | None = None, split: str | None = None) -> None:
        self.result.findings.append(Finding(severity, code, message, str(file), line, item, split))

    def image(self, entry: Entry) -> tuple[int, int] | None:
        """Check the entry's image; its (height, width), or None (and ``entry.drop``)."""
        digest, size, problem, message = self.images.get(entry.image)
        if problem:
            self.add("error", problem, message, entry.source, entry.line,
                     None if entry.line else f"image id {entry.text}", entry.split)
        if digest is not None and problem is None:
            self.hashes.append((digest, entry))
        if problem:
            entry.drop = entry.drop or problem
        return size

    def annotation(self, entry: Entry, read, file: Path | str, line: int | None = None,
                   note: str = ""):
        """The entry's annotation file as ``read`` gives it, or None: then the finding
        (missing, or there but unreadable) is recorded at ``file``/``line`` and the entry
        dropped."""
        try:
            return read(entry.annotation)
        except DatasetError as exc:
            code = "annotation_invalid" if is_file(entry.annotation) else "annotation_missing"
            self.add("error", code, f"{exc}{note}", file, line, split=entry.split)
            entry.drop = entry.drop or code
            return None

    def lines(self, split: str, path: Path, hint: str, label_last: bool = False):
        """(line number, line, its two fields) for a list's lines that are not blank or
        comments; a line of another shape is a finding. ``label_last``: ImageNet lists,
        whose image path may hold spaces (the class id after the last one)."""
        try:
            lines = read_text_lines(path, "file list")
        except DatasetError as exc:
            self.add("error", "list_unreadable", str(exc), path, split=split)
            return
        if not any(line.strip() and not line.strip().startswith("#") for line in lines):
            self.add("error", "list_empty", "the file list lists no images", path, split=split)
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.rsplit(maxsplit=1) if label_last else line.split()
            if len(parts) != 2:
                self.add("error", "list_line_malformed", f"{line[:200]!r} should be {hint}", path, number,
                         split=split)
                self.result.entries.append(Entry(split, path, number, None, line, drop="list_line_malformed"))
                continue
            yield number, line, parts

    # --- classification ---------------------------------------------------------------

    def imagenet(self, split: str, path: Path) -> None:
        n = len(self.result.labels)
        for number, line, (name, label) in self.lines(split, path, "'path/to/image.jpg class_id'", label_last=True):
            entry = Entry(split, path, number, self.result.data_dir / name, line)
            self.result.entries.append(entry)
            try:
                class_id = int(label)
            except ValueError:
                class_id = None
            if class_id is None or (n and not 0 <= class_id < n):
                self.add("error", "label_unknown", f"class id {label[:40]!r} is not an integer from 0 to "
                         f"{n - 1} (the label list's {n} classes)", path, number, split=split)
                entry.drop = "label_unknown"
            if self.image(entry) is not None and entry.drop is None and n:
                entry.classes = [class_id]

    # --- Pascal VOC -------------------------------------------------------------------

    def voc(self, split: str, path: Path) -> None:
        labels = {name: i for i, name in enumerate(self.result.labels)}
        hint = "'JPEGImages/x.jpg Annotations/x.xml' (two paths without spaces)"
        for number, line, (image, xml) in self.lines(split, path, hint):
            entry = Entry(split, path, number, self.result.data_dir / image, line,
                          annotation=self.result.data_dir / xml)
            self.result.entries.append(entry)
            size = self.image(entry)
            root = self.annotation(entry, parse_xml, entry.annotation,
                                   note=f" (listed on {path.name} line {number})")
            if root is None:
                continue
            self._voc_objects(entry, root, size, labels)

    def _voc_objects(self, entry: Entry, root, size, labels: dict[str, int]) -> None:
        xml, split = entry.annotation, entry.split
        width = height = 0.0
        node = root.find("size")
        try:
            if node is not None and node.find("width") is not None:
                width, height = (xml_number(node, t, "<size>") for t in ("width", "height"))
        except DatasetError as exc:
            self.add("error", "size_invalid", str(exc), xml, split=split)
            entry.drop = entry.drop or "size_invalid"
        if not (math.isfinite(width) and math.isfinite(height)):
            self.add("error", "size_invalid", f"<size> {width:g}x{height:g} is not a finite size", xml, split=split)
            entry.drop = entry.drop or "size_invalid"
            width = height = 0.0
        if size is not None:
            if width > 0 and height > 0 and (int(height), int(width)) != tuple(size):
                self.add("error", "size_mismatch", f"<size> says {int(width)}x{int(height)} but image "
                         f"{str(entry.image)!r} is {size[1]}x{size[0]} (width x height); boxes drawn on "
                         "another size are misplaced", xml, split=split)
                entry.drop = entry.drop or "size_mismatch"
            height, width = size  # what loading uses when <size> is 0 or missing
        objects = list(root.iter("object"))
        if not objects:
            self.add("warning", "no_annotations", "the image has no <object> (kept as a negative)", xml,
                     split=split)
        for k, obj in enumerate(objects, 1):
            item = f"object {k}"
            try:
                name = xml_text(obj, "name", item)
                bndbox = obj.find("bndbox")
                if bndbox is None:
                    raise DatasetError(f"{item} ({name!r}): <bndbox> is missing")
                box = [xml_number(bndbox, t, f"{item} ({name!r})") for t in ("xmin", "ymin", "xmax", "ymax")]
                difficult = obj.find("difficult")
                if difficult is not None and difficult.text:
                    try:
                        int(float(difficult.text))
                    except (ValueError, OverflowError):  # OverflowError: 'inf'
                        raise DatasetError(f"{item}: <difficult> {difficult.text[:40]!r} is not 0 or 1") from None
            except DatasetError as exc:
                self.add("error", "box_malformed", str(exc), xml, item=item, split=split)
                entry.edits[k] = "box_malformed"
                continue
            if name not in labels:
                if labels:
                    self.add("error", "label_unknown", f"class {name!r} is not in the label list; add it "
                             "there or fix the name", xml, item=item, split=split)
                entry.edits[k] = "label_unknown"
                continue
            # no size known (the image unreadable, already reported): check the box alone
            kept = self._box(box, width or math.inf, height or math.inf, xml, item, split)
            if kept != box:  # clipped, or dropped for the reason just reported
                entry.edits[k] = kept if kept is not None else self.result.findings[-1].code
            if kept is not None:
                entry.classes.append(labels[name])
                entry.boxes.append(kept)

    def _box(self, box: list[float], width: float, height: float, file: Path, item: str,
             split: str) -> list[float] | None:
        """The box as loading keeps it (clipped), or None with a finding when it is none."""
        x1, y1, x2, y2 = box
        shown = "[" + ", ".join(f"{v:g}" for v in box) + "]"
        if not all(math.isfinite(v) for v in box):
            self.add("error", "box_malformed", f"box {shown} has a non-finite coordinate", file, item=item,
                     split=split)
            return None
        if x2 == x1 or y2 == y1:
            self.add("error", "box_zero_area", f"box {shown} (x1, y1, x2, y2) has zero area", file, item=item,
                     split=split)
            return None
        if x2 < x1 or y2 < y1:
            self.add("error", "box_degenerate", f"box {shown} has x2 < x1 or y2 < y1 (corners swapped?)",
                     file, item=item, split=split)
            return None
        if x1 >= 0 and y1 >= 0 and x2 <= width and y2 <= height:
            return [float(v) for v in box]
        clipped = [min(max(x1, 0.0), width), min(max(y1, 0.0), height),
                   min(max(x2, 0.0), width), min(max(y2, 0.0), height)]
        if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
            self.add("error", "box_outside_image", f"box {shown} lies outside the {width:g}x{height:g} image",
                     file, item=item, split=split)
            return None
        self.add("warning", "box_out_of_image", f"box {shown} reaches beyond the {width:g}x{height:g} "
                 "image (clipped when loaded)", file, item=item, split=split)
        return clipped

    # --- COCO -------------------------------------------------------------------------

    def coco(self, split: str, path: Path) -> None:
        try:
            doc = read_json(path)
        except DatasetError as exc:
            self.add("error", "annotation_invalid", str(exc), path, split=split)
            return
        if not isinstance(doc, dict) or not all(isinstance(doc.get(k), list)
                                                for k in ("images", "annotations", "categories")):
            self.add("error", "annotation_invalid", "a COCO file is a JSON object whose 'images', "
                     "'annotations' and 'categories' are lists", path, split=split)
            return
        self.result.coco[split] = doc
        if not doc["images"]:
            self.add("error", "list_empty", "'images' is empty", path, split=split)
        class_of = self._categories(split, path, doc["categories"])
        records: dict[int, tuple[Entry, tuple[int, int] | None]] = {}
        for index, image in enumerate(doc["images"]):
            here = f"images[{index}]"
            if not isinstance(image, dict) or not is_id(image.get("id")):
                self.add("error", "image_invalid", "an image is an object with an integer 'id'", path,
                         item=here, split=split)
                continue
            item = f"image id {image['id']}"
            if image["id"] in records:
                self.add("error", "image_id_repeats", f"image id {image['id']} repeats", path, item=item,
                         split=split)
                continue
            name = image.get("file_name")
            if not isinstance(name, str) or not name:
                self.add("error", "image_invalid", f"file_name {name!r} should be a path relative to "
                         "data_dir", path, item=item, split=split)
                continue
            entry = Entry(split, path, None, self.result.data_dir / name, str(image["id"]))
            self.result.entries.append(entry)
            size = self.image(entry)
            w, h = image.get("width"), image.get("height")
            if w and h:  # as loading does: 0 or missing means "read it from the image"
                if not (is_finite_number(w) and is_finite_number(h) and w > 0 and h > 0):
                    self.add("error", "size_invalid", f"width {w!r} and height {h!r} should be positive "
                             "numbers", path, item=item, split=split)
                    entry.drop = entry.drop or "size_invalid"
                elif size is not None and (int(h), int(w)) != tuple(size):
                    self.add("error", "size_mismatch", f"width x height {int(w)}x{int(h)} but "
                             f"{str(entry.image)!r} is {size[1]}x{size[0]}", path, item=item, split=split)
                    entry.drop = entry.drop or "size_mismatch"
                    size = None
                elif size is None:
                    size = (int(h), int(w))
            records[image["id"]] = (entry, size)
        seen: set[int] = set()
        for index, ann in enumerate(doc["annotations"]):
            self._annotation(split, path, index, ann, records, class_of, seen)
        for entry, _ in records.values():
            if entry.drop is None and not entry.classes:
                self.add("warning", "no_annotations", "the image has no annotations (kept as a negative)",
                         path, item=f"image id {entry.text}", split=split)

    def _categories(self, split: str, path: Path, categories: list) -> dict[int, int]:
        good: dict[int, str] = {}
        for index, category in enumerate(categories):
            if not isinstance(category, dict) or not is_id(category.get("id")) or "name" not in category:
                self.add("error", "category_invalid", "a category is an object with an integer 'id' and "
                         "a 'name'", path, item=f"categories[{index}]", split=split)
            elif category["id"] in good:
                self.add("error", "category_invalid", f"category id {category['id']} repeats", path,
                         item=f"categories[{index}]", split=split)
            else:
                good[category["id"]] = str(category["name"])
        if not good:
            self.add("error", "category_invalid", "'categories' names no class", path, split=split)
        names = [good[k] for k in sorted(good)]
        if not self.result.labels:
            self.result.labels = names
        elif names != self.result.labels:
            self.add("error", "category_mismatch", f"categories {names} differ from the first split's "
                     f"{self.result.labels}; class ids would mean different things", path, split=split)
        return {cid: i for i, cid in enumerate(sorted(good))}

    def _annotation(self, split, path, index, ann, records, class_of, seen) -> None:
        if not isinstance(ann, dict) or not is_id(ann.get("id")):
            self.add("error", "annotation_invalid", "an annotation is an object with an integer 'id'", path,
                     item=f"annotations[{index}]", split=split)
            return
        item = f"annotation id {ann['id']}"
        if ann["id"] in seen:
            self.add("error", "annotation_id_repeats", f"annotation id {ann['id']} repeats", path,
                     item=item, split=split)
            return
        seen.add(ann["id"])
        record = records.get(ann.get("image_id")) if is_id(ann.get("image_id")) else None
        if record is None:
            self.add("error", "annotation_invalid", f"image_id {ann.get('image_id')!r} names no image",
                     path, item=item, split=split)
            return
        entry, size = record

        def refuse(code: str, message: str) -> None:
            self.add("error", code, message, path, item=item, split=split)
            entry.edits[ann["id"]] = code
        if not is_id(ann.get("category_id")) or ann["category_id"] not in class_of:
            return refuse("label_unknown", f"category_id {ann.get('category_id')!r} is not in 'categories'")
        bbox = ann.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(is_finite_number(v) for v in bbox):
            return refuse("box_malformed", f"bbox {str(bbox)[:100]} should be 4 finite numbers [x, y, w, h]")
        for flag in ("iscrowd", "ignore"):
            if ann.get(flag, 0) not in (0, 1):
                return refuse("annotation_invalid", f"{flag} {ann[flag]!r} should be 0 or 1")
        if ann.get("area") is not None and not is_finite_number(ann["area"]):
            return refuse("annotation_invalid", f"area {ann['area']!r} should be a finite number")
        x, y, w, h = (float(v) for v in bbox)
        box = [x, y, x + w, y + h]
        if size is None:  # the image is unusable (already reported)
            return
        kept = self._box(box, size[1], size[0], path, item, split)
        if kept is None:
            entry.edits[ann["id"]] = self.result.findings[-1].code  # the reason _box reported
            return
        segmentation = ann.get("segmentation") or None
        if isinstance(segmentation, list):
            short = [k for k, p in enumerate(segmentation) if isinstance(p, list) and len(p) < 6]
            if short:
                return refuse("polygon_too_few_points", f"polygon {short[0]} has {len(segmentation[short[0]]) // 2}"
                              " points; a polygon needs at least 3")
        if segmentation is not None:
            try:
                check_segmentation(segmentation, size[1], size[0], item)
            except DatasetError as exc:
                return refuse("segmentation_invalid", str(exc).removeprefix(f"{item}: "))
        if kept != box:
            entry.edits[ann["id"]] = kept
        entry.classes.append(class_of[ann["category_id"]])
        entry.boxes.append(kept)

    # --- semantic segmentation --------------------------------------------------------

    def seg(self, split: str, path: Path) -> None:
        n = len(self.result.labels)
        for number, line, (image, label) in self.lines(split, path, "'path/to/image.jpg path/to/label.png'"):
            entry = Entry(split, path, number, self.result.data_dir / image, line,
                          annotation=self.result.data_dir / label)
            self.result.entries.append(entry)
            size = self.image(entry)
            mask = self.annotation(entry, read_label_image, path, number)
            if mask is None:
                continue
            if size is not None and mask.shape != tuple(size):
                self.add("error", "size_mismatch", f"label {str(entry.annotation)!r} is {mask.shape[1]}x"
                         f"{mask.shape[0]} but the image is {size[1]}x{size[0]} (width x height)", path,
                         number, split=split)
                entry.drop = entry.drop or "size_mismatch"
            values, pixels = np.unique(mask, return_counts=True)
            inside = (values >= 0) & (values < n)
            bad = values[~inside & (values != IGNORE_INDEX)]
            if bad.size and n:
                shown = ", ".join(str(int(v)) for v in bad[:MAX_LABEL_VALUES_NAMED])
                self.add("error", "label_unknown", f"label values {shown}{' ...' if bad.size > MAX_LABEL_VALUES_NAMED else ''}"
                         f" are outside the label list (ids 0 to {n - 1}; {IGNORE_INDEX} marks pixels to "
                         "ignore)", path, number, split=split)
                entry.drop = entry.drop or "label_unknown"
            if n and not inside.any():
                self.add("warning", "no_annotations", f"label {str(entry.annotation)!r} has no pixel of a "
                         "class (all ignored)", path, number, split=split)
            entry.classes = [int(v) for v in values[inside]]
            entry.pixels = [int(c) for c in pixels[inside]]

    # --- across the whole set ---------------------------------------------------------

    def duplicates(self) -> None:
        """The same content twice: in two splits an error (evaluation would score images
        the model trained on), inside a split a warning. The later copy is the one named
        (and the one ``check_fix`` drops)."""
        first: dict[str, Entry] = {}
        for digest, entry in self.hashes:
            if entry.drop is not None:
                continue
            earlier = first.setdefault(digest, entry)
            if earlier is entry:
                continue
            where = f"{earlier.source.name}" + (f" line {earlier.line}" if earlier.line else f" image id {earlier.text}")
            item = None if entry.line else f"image id {entry.text}"
            if earlier.split != entry.split:
                self.add("error", "image_in_two_splits", f"image {str(entry.image)!r} has the same content as "
                         f"{str(earlier.image)!r} in split {earlier.split!r} ({where})", entry.source,
                         entry.line, item, entry.split)
                entry.drop = "image_in_two_splits"
            else:
                self.add("warning", "duplicate_image", f"image {str(entry.image)!r} has the same content as "
                         f"{str(earlier.image)!r} ({where})", entry.source, entry.line, item, entry.split)
                entry.drop = "duplicate_image"

    def tally(self) -> None:
        """Counts of what is usable: entries a fix would keep, with their kept objects."""
        result, n = self.result, len(self.result.labels)
        result.pixels = [0] * n if result.format == "seg" else []
        for split in result.sources:
            result.per_class[split] = [0] * n
            for counter in (result.listed, result.images, result.annotations):
                counter[split] = 0
        for entry in result.entries:
            result.listed[entry.split] += 1
            if entry.drop is not None:
                continue
            result.images[entry.split] += 1
            counts = result.per_class[entry.split]
            known = [c for c in entry.classes if 0 <= c < n]  # COCO splits with other categories: reported
            for class_id in known:
                counts[class_id] += 1
            for class_id, pixels in zip(entry.classes, entry.pixels, strict=False):
                result.pixels[class_id] += pixels
            result.box_sizes.extend((x2 - x1, y2 - y1) for x1, y1, x2, y2 in entry.boxes)
            result.annotations[entry.split] += len(entry.boxes) if result.format in ("voc", "coco") else bool(known)

    def balance(self) -> None:
        totals = self.result.class_totals()
        if not totals:
            return
        label_file = self.result.label_list or self.result.data_dir
        for name, count in zip(self.result.labels, totals, strict=True):
            if count == 0:
                self.add("warning", "class_empty", f"class {name!r} has no samples in any split", label_file)
        present = [c for c in totals if c]
        if present and max(present) > self.result.imbalance_ratio * min(present):
            most = self.result.labels[totals.index(max(present))]
            fewest = self.result.labels[totals.index(min(present))]
            self.add("warning", "class_imbalance", f"class {most!r} has {max(present)} samples and {fewest!r} "
                     f"{min(present)}: more than {self.result.imbalance_ratio:g}x apart (consider more data "
                     "or class weights)", label_file)


def find_sources(data_dir: Path, format: str, file_lists=None) -> dict[str, Path]:
    """split -> list (or COCO JSON): ``file_lists`` if given (relative to ``data_dir`` or
    absolute; the split is the name without ``_list``), else what ``px split-dataset``
    writes."""
    if file_lists:
        sources = {}
        for given in file_lists:
            path = data_dir / given if (data_dir / given).exists() else Path(given)
            split = path.stem.removesuffix("_list")
            sources[split if split not in sources else str(path)] = path
        return sources
    names = [f"{s}.json" for s in SPLITS] if format == "coco" else [f"{s}_list.txt" for s in SPLITS]
    sources = {n.split(".")[0].removesuffix("_list"): data_dir / n for n in names if (data_dir / n).is_file()}
    if not sources and format == "coco":
        # COCO's own layout: annotations/{split}.json (px's shapes) or
        # annotations/instances_{split}2017.json (the COCO download)
        for split in SPLITS:
            found = sorted((data_dir / "annotations").glob(f"{split}.json")) or sorted(
                (data_dir / "annotations").glob(f"instances_{split}*.json"))
            if found:
                sources[split] = found[0]
    if not sources and format == "coco" and (data_dir / "annotations.json").is_file():
        sources = {"all": data_dir / "annotations.json"}
    if not sources:
        wanted = ", ".join(names) + (", annotations/{train,val,test}.json, annotations/"
                                     "instances_{train,val}*.json or annotations.json"
                                     if format == "coco" else "")
        raise DatasetError(f"{str(data_dir)!r} has none of {wanted}; name the lists with --file-list "
                           "or write them with px split-dataset")
    return sources


def check(data_dir: str | os.PathLike, format: str, file_lists=None, label_list=None,
          imbalance_ratio: float = IMBALANCE_RATIO) -> CheckResult:
    """Check the data set in ``data_dir`` (``format``: imagenet, voc, coco or seg) and
    return every finding with counts per split and class. Only bad arguments raise
    (``DatasetError``); bad data become findings. ``label_list`` defaults to
    ``data_dir/labels.txt`` (not used for COCO, whose categories name the classes)."""
    data_dir = Path(data_dir)
    if format not in FORMATS:
        raise DatasetError(f"format {format!r} is not one of {', '.join(FORMATS)}")
    if not data_dir.is_dir():
        raise DatasetError(f"data_dir {str(data_dir)!r} is not a directory")
    if not (isinstance(imbalance_ratio, int | float) and imbalance_ratio >= 1):
        raise DatasetError(f"imbalance_ratio {imbalance_ratio!r} should be a number of at least 1")
    sources = find_sources(data_dir, format, file_lists)
    result = CheckResult(format, data_dir, [], dict(sources), imbalance_ratio=float(imbalance_ratio))
    checker = _Checker(result)
    if format != "coco":
        label_path = Path(label_list) if label_list else data_dir / "labels.txt"
        result.label_list = label_path
        try:
            result.labels = read_label_list(label_path)
        except DatasetError as exc:  # class names and ids cannot be checked without it
            checker.add("error", "label_list_invalid", str(exc), label_path)
    walk = getattr(checker, format)
    for split, path in sources.items():
        walk(split, path)
    checker.duplicates()
    checker.tally()
    checker.balance()
    return result
