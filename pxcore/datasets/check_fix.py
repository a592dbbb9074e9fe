"""``write_fixed``: a cleaned copy of what ``check`` read, in a new folder, the originals
untouched. Lines, images and annotations with errors are dropped, boxes reaching beyond
their image are clipped, and the later copy of a duplicate image is dropped (so an image
in two splits stays in the first: train before val before test). Every change is a line
of ``fixes.log``. Paths in the written lists and COCO files are relative to the new
folder, so it is the ``data_dir`` to train from."""

from __future__ import annotations

import copy
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

from .base import DatasetError
from .checker import CheckResult, Entry
from .detection.validation import is_id, parse_xml


def _relative(path: Path, dst: Path, spaces_ok: bool) -> str:
    rel = Path(os.path.relpath(path.resolve(), dst.resolve())).as_posix()
    if not spaces_ok and len(rel.split()) != 1:
        raise DatasetError(f"--fix: the path {rel!r} from {str(dst)!r} to {str(path)!r} has a space, "
                           "which this file list cannot hold; choose a destination without spaces")
    return rel


def _where(entry: Entry) -> str:
    return f"{entry.source.name} line {entry.line}" if entry.line else f"{entry.source.name} image id {entry.text}"


def _voc_xml(entry: Entry, out: Path, log: list[str]) -> None:
    """The annotation without its dropped objects and with clipped boxes."""
    root = parse_xml(entry.annotation)
    parents = {child: parent for parent in root.iter() for child in parent}
    for k, obj in enumerate(list(root.iter("object")), 1):
        change = entry.edits.get(k)
        if isinstance(change, str):
            parents[obj].remove(obj)
            log.append(f"{entry.annotation}: object {k} dropped ({change})")
        elif change is not None:
            for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), change, strict=True):
                obj.find("bndbox").find(tag).text = f"{value:g}"
            log.append(f"{entry.annotation}: object {k} clipped to [{', '.join(f'{v:g}' for v in change)}]")
    if out.resolve() == entry.annotation.resolve():
        raise DatasetError(f"--fix would overwrite {str(out)!r}, which was read; give a new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)


def _lists(result: CheckResult, dst: Path, log: list[str]) -> list[Path]:
    written = []
    if result.label_list is not None and result.labels:
        (dst / "labels.txt").write_text("\n".join(result.labels) + "\n", encoding="utf-8")
        written.append(dst / "labels.txt")
    by_source: dict[Path, list[Entry]] = {}
    for entry in result.entries:
        by_source.setdefault(entry.source, []).append(entry)
    unreadable = {f.file for f in result.findings if f.code == "list_unreadable"}
    for source in result.sources.values():
        if str(source) in unreadable:
            log.append(f"{source}: not written (it cannot be read as text)")
            continue
        lines = []
        for entry in by_source.get(source, []):
            if entry.drop:
                log.append(f"{_where(entry)}: dropped ({entry.drop})")
                continue
            image = _relative(entry.image, dst, spaces_ok=result.format == "imagenet")
            if result.format == "imagenet":
                lines.append(f"{image} {entry.text.rsplit(maxsplit=1)[1]}")
                continue
            annotation = entry.annotation
            if result.format == "voc" and entry.edits:
                try:
                    inside = annotation.resolve().relative_to(result.data_dir.resolve())
                except ValueError:
                    inside = Path("Annotations") / annotation.name
                _voc_xml(entry, dst / inside, log)
                annotation = dst / inside
            lines.append(f"{image} {_relative(annotation, dst, spaces_ok=False)}")
        if not lines:
            log.append(f"{source.name}: every line dropped (written empty)")
        out = dst / source.name
        out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        written.append(out)
    return written


def _coco(result: CheckResult, dst: Path, log: list[str]) -> list[Path]:
    written = []
    for split, doc in result.coco.items():
        source = result.sources[split]
        entries = {int(e.text): e for e in result.entries if e.source == source}
        kept = {i for i, e in entries.items() if not e.drop}
        for entry in entries.values():
            if entry.drop:
                log.append(f"{_where(entry)}: dropped with its annotations ({entry.drop})")
        out = copy.deepcopy(doc)
        images, seen = [], set()
        for index, image in enumerate(out["images"]):
            image_id = image.get("id") if isinstance(image, dict) else None
            if not is_id(image_id) or image_id not in kept or image_id in seen:
                if not (is_id(image_id) and image_id in entries):
                    log.append(f"{source.name} images[{index}]: dropped (not a usable image entry)")
                continue
            seen.add(image_id)
            image["file_name"] = _relative(entries[image_id].image, dst, spaces_ok=True)
            images.append(image)
        annotations, ann_ids = [], set()
        for index, ann in enumerate(out["annotations"]):
            ann_id = ann.get("id") if isinstance(ann, dict) else None
            image_id = ann.get("image_id") if isinstance(ann, dict) else None
            if not (is_id(ann_id) and is_id(image_id)) or ann_id in ann_ids or image_id not in entries:
                log.append(f"{source.name} annotations[{index}]: dropped (no usable id or image)")
                continue
            ann_ids.add(ann_id)
            if image_id not in kept:
                continue  # logged with its image
            change = entries[image_id].edits.get(ann_id)
            if isinstance(change, str):
                log.append(f"{source.name} annotation id {ann_id}: dropped ({change})")
                continue
            if change is not None:
                x1, y1, x2, y2 = change
                ann["bbox"] = [x1, y1, x2 - x1, y2 - y1]
                log.append(f"{source.name} annotation id {ann_id}: bbox clipped to {ann['bbox']}")
            annotations.append(ann)
        categories, category_ids = [], set()
        for index, category in enumerate(out["categories"]):
            cid = category.get("id") if isinstance(category, dict) else None
            if not is_id(cid) or cid in category_ids or "name" not in category:
                log.append(f"{source.name} categories[{index}]: dropped (no usable id or name)")
                continue
            category_ids.add(cid)
            categories.append(category)
        out.update(images=images, annotations=annotations, categories=categories)
        path = dst / source.name
        path.write_text(json.dumps(out), encoding="utf-8")
        written.append(path)
    for split, source in result.sources.items():
        if split not in result.coco:
            log.append(f"{source}: not written (it is not a COCO file that could be read)")
    return written


def write_fixed(result: CheckResult, dst: str | os.PathLike) -> list[Path]:
    """Write the cleaned lists (and labels.txt and changed VOC XMLs) or COCO files into
    ``dst`` and ``dst/fixes.log``; returns the files written. ``result.fixes`` gets the
    log's lines. ``dst`` must not be the data folder or hold any file that was read."""
    dst = Path(dst)
    read = {p.resolve() for p in result.sources.values()} | {result.data_dir.resolve()}
    read |= {e.annotation.resolve() for e in result.entries if e.annotation is not None}
    if result.label_list is not None:
        read.add(result.label_list.resolve())
    if dst.resolve() in read:
        raise DatasetError(f"--fix {str(dst)!r} is where the data set is; give a new folder so the "
                           "originals stay as they are")
    dst.mkdir(parents=True, exist_ok=True)
    log: list[str] = []
    outputs = [dst / p.name for p in result.sources.values()] + [dst / "labels.txt"]
    clash = [str(p) for p in outputs if p.resolve() in read]
    if clash:
        raise DatasetError(f"--fix {str(dst)!r} would overwrite {clash[0]!r}, which was read; give a new folder")
    if result.format == "coco":
        written = _coco(result, dst, log)
    else:
        written = _lists(result, dst, log)
    (dst / "fixes.log").write_text("".join(line + "\n" for line in log), encoding="utf-8")
    result.fixes = log
    return written + [dst / "fixes.log"]
