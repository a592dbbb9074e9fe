"""``write_report``: what ``check`` found as one HTML page (pictures embedded as base64
PNG, no script, no external address, so it opens from disk or an e-mail) beside the same
numbers as ``summary.json``. The pictures are drawn with OpenCV: the class histogram,
box sizes and aspect ratios (detection), pixel share per class (segmentation) and a grid
of sample images with their annotations."""

from __future__ import annotations

import base64
import html
import json
import math
import os
from pathlib import Path

import cv2
import numpy as np

from ..data.images import read_image
from ..errors import PxError
from ..visualize import _colour, visualize
from .base import DatasetError
from .checker import CheckResult, Entry
from .segmentation import read_label_image

WIDTH = 720  # of every chart, in pixels
MAX_BARS = 40  # classes drawn in a bar chart; the rest are counted in its last row
TILE = 220  # a sample's square in the grid
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _text(picture: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.45) -> None:
    cv2.putText(picture, text, org, FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)


def _short(name: str, width: int = 22) -> str:
    return name if len(name) <= width else name[: width - 1] + "~"


def bar_chart(names: list[str], values: list[float], title: str, fmt: str = "{:g}") -> np.ndarray:
    """Horizontal bars, one per name (the first ``MAX_BARS``), RGB."""
    shown = list(zip(names, values, strict=True))[:MAX_BARS]
    row, left, right = 20, 190, 90
    picture = np.full((40 + row * (len(shown) + (len(names) > MAX_BARS)) + 10, WIDTH, 3), 255, np.uint8)
    _text(picture, title, (10, 24), 0.6)
    top = max((v for _, v in shown), default=0) or 1
    for k, (name, value) in enumerate(shown):
        y = 40 + k * row
        _text(picture, _short(name), (10, y + 15))
        length = round((WIDTH - left - right) * value / top)
        cv2.rectangle(picture, (left, y + 3), (left + max(length, 1), y + row - 3), _colour(k), -1)
        _text(picture, fmt.format(value), (left + length + 6, y + 15))
    if len(names) > MAX_BARS:
        _text(picture, f"... and {len(names) - MAX_BARS} more classes (see summary.json)",
              (10, 40 + len(shown) * row + 15))
    return picture


def histogram(values: np.ndarray, edges: np.ndarray, title: str, tick, tick_every: int = 4) -> np.ndarray:
    """Vertical bars of how many ``values`` fall between consecutive ``edges``; ``tick``
    labels every ``tick_every``-th edge."""
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), edges)
    height, left, bottom, top_margin = 280, 50, 40, 40
    picture = np.full((height, WIDTH, 3), 255, np.uint8)
    _text(picture, title, (10, 24), 0.6)
    plot_w, plot_h = WIDTH - left - 20, height - bottom - top_margin
    peak = int(counts.max()) or 1
    bar = plot_w / len(counts)
    for k, count in enumerate(counts):
        x = left + round(k * bar)
        h = round(plot_h * count / peak)
        cv2.rectangle(picture, (x + 1, height - bottom - h), (left + round((k + 1) * bar) - 1, height - bottom),
                      (70, 120, 200), -1)
    cv2.line(picture, (left, height - bottom), (left + plot_w, height - bottom), (0, 0, 0), 1)
    _text(picture, str(peak), (6, top_margin + 10))
    for k in range(0, len(edges), tick_every):
        x = left + round(k * bar)
        cv2.line(picture, (x, height - bottom), (x, height - bottom + 4), (0, 0, 0), 1)
        _text(picture, tick(edges[k]), (max(x - 14, 0), height - bottom + 18), 0.4)
    return picture


def _draw_sample(result: CheckResult, entry: Entry) -> np.ndarray:
    labels = result.labels
    name = lambda c: labels[c] if 0 <= c < len(labels) else str(c)  # noqa: E731
    image = read_image(entry.image)
    if result.format == "seg":
        picture = visualize(image, {"label_map": read_label_image(entry.annotation)}, labels=labels, min_size=0)
    elif result.format == "imagenet":  # the class is the caption below
        picture = image
    else:
        picture = np.ascontiguousarray(image)
        thickness = max(1, round(max(picture.shape[:2]) / 300))
        for class_id, (x1, y1, x2, y2) in zip(entry.classes, entry.boxes, strict=True):
            cv2.rectangle(picture, (round(x1), round(y1)), (round(x2), round(y2)), _colour(class_id), thickness)
            cv2.putText(picture, name(class_id), (round(x1) + 2, max(round(y1) - 3, 12)), FONT,
                        0.4 * thickness, _colour(class_id), thickness, cv2.LINE_AA)
    scale = min(TILE / picture.shape[1], (TILE - 34) / picture.shape[0])
    small = cv2.resize(picture, (max(1, round(picture.shape[1] * scale)), max(1, round(picture.shape[0] * scale))),
                       interpolation=cv2.INTER_AREA)
    tile = np.full((TILE, TILE, 3), 255, np.uint8)
    tile[: small.shape[0], : small.shape[1]] = small
    _text(tile, _short(entry.image.name, 30), (2, TILE - 20), 0.4)
    caption = ", ".join(sorted({name(c) for c in entry.classes})) or "(no annotations)"
    _text(tile, _short(caption, 30), (2, TILE - 6), 0.4)
    return tile


def sample_grid(result: CheckResult, count: int = 12, columns: int = 4) -> np.ndarray | None:
    """Up to ``count`` usable images, spread evenly over the set, annotations drawn."""
    usable = [e for e in result.entries if e.drop is None and e.image is not None]
    if not usable or count < 1:
        return None
    picks = [usable[i] for i in sorted({round(k * (len(usable) - 1) / max(count - 1, 1))
                                        for k in range(min(count, len(usable)))})]
    tiles = []
    for entry in picks:
        try:
            tiles.append(_draw_sample(result, entry))
        except PxError:  # changed on disk since the check, say: leave it out of the picture
            continue
    if not tiles:
        return None
    rows = math.ceil(len(tiles) / columns)
    grid = np.full((rows * (TILE + 6), columns * (TILE + 6), 3), 255, np.uint8)
    for k, tile in enumerate(tiles):
        y, x = divmod(k, columns)
        grid[y * (TILE + 6): y * (TILE + 6) + TILE, x * (TILE + 6): x * (TILE + 6) + TILE] = tile
    return grid


def pictures(result: CheckResult, samples: int = 12) -> list[tuple[str, np.ndarray]]:
    """(title, RGB picture) for the report."""
    out = []
    totals = result.class_totals()
    if result.labels:
        what = {"imagenet": "images", "seg": "images showing it"}.get(result.format, "objects")
        out.append(("Samples per class", bar_chart(result.labels, totals, f"{what} per class (all splits)",
                                                   "{:.0f}")))
    if result.box_sizes:
        sizes = np.asarray(result.box_sizes, np.float64)
        side = np.sqrt(sizes[:, 0] * sizes[:, 1])
        top = max(1, math.ceil(math.log2(max(float(side.max()), 2))))
        out.append(("Box sizes", histogram(np.log2(np.maximum(side, 1)), np.linspace(0, top, 4 * top + 1),
                                           "box size: sqrt(width x height), pixels",
                                           lambda e: f"{2 ** e:.0f}")))
        ratio = np.log2(sizes[:, 0] / sizes[:, 1])
        out.append(("Box aspect ratios", histogram(ratio, np.linspace(-4, 4, 33),
                                                   "box aspect ratio width / height (ends hold the rest)",
                                                   lambda e: f"{2 ** e:g}" if e >= 0 else f"1/{2 ** -e:g}")))
    if result.pixels and sum(result.pixels):
        total = sum(result.pixels)
        out.append(("Pixel share per class", bar_chart(result.labels, [100 * p / total for p in result.pixels],
                                                       "share of labelled pixels per class, %", "{:.2f}%")))
    grid = sample_grid(result, samples)
    if grid is not None:
        out.append(("Sample images", grid))
    return out


def _png(picture: np.ndarray) -> str:
    ok, data = cv2.imencode(".png", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    if not ok:  # pragma: no cover - PNG encoding of a uint8 array does not fail
        raise DatasetError("the report's picture could not be encoded as PNG")
    return base64.b64encode(data.tobytes()).decode("ascii")


STYLE = ("body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;"
         "margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}"
         ".error{color:#b00}.warning{color:#a60}img{display:block;margin:1em 0;max-width:100%}")


def render_html(result: CheckResult, samples: int = 12) -> str:
    e = html.escape
    summary = result.summary()
    splits = list(summary["splits"])
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>px check-dataset: "
             f"{e(str(result.data_dir))}</title><style>{STYLE}</style></head><body>",
             f"<h1>{e(str(result.data_dir))} ({e(result.format)})</h1>",
             f"<p><b class='error'>{len(result.errors)} errors</b>, <b class='warning'>"
             f"{len(result.warnings)} warnings</b></p>",
             "<h2>Counts</h2><p>Usable images (listed ones less those a fix drops) and their "
             "annotations.</p><table><tr><th>split</th><th>file</th><th>listed</th><th>usable images</th>"
             "<th>annotations</th></tr>"]
    for split in splits:
        counts = summary["splits"][split]
        parts.append(f"<tr><td>{e(split)}</td><td>{e(summary['sources'][split])}</td>"
                     f"<td>{counts['listed']}</td><td>{counts['images']}</td><td>{counts['annotations']}</td></tr>")
    parts.append("</table><table><tr><th>class</th>" + "".join(f"<th>{e(s)}</th>" for s in splits) + "</tr>")
    columns = [result.per_class.get(s, []) for s in splits]
    for k, name in enumerate(result.labels):
        cells = "".join(f"<td>{counts[k] if k < len(counts) else 0}</td>" for counts in columns)
        parts.append(f"<tr><td>{k}: {e(name)}</td>{cells}</tr>")
    parts.append("</table><h2>Pictures</h2>")
    for title, picture in pictures(result, samples):
        parts.append(f"<h3>{e(title)}</h3><img alt='{e(title)}' src='data:image/png;base64,{_png(picture)}'>")
    parts.append(f"<h2>Findings ({len(result.findings)})</h2>")
    if result.findings:
        parts.append("<table><tr><th>severity</th><th>problem</th><th>where</th><th>message</th></tr>")
        for f in sorted(result.findings, key=lambda f: f.severity != "error"):
            parts.append(f"<tr class='{f.severity}'><td>{f.severity}</td><td>{e(f.code)}</td>"
                         f"<td>{e(f.where())}</td><td>{e(f.message)}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>No problems found.</p>")
    if result.fixes:
        parts.append(f"<h2>Fixes ({len(result.fixes)})</h2><ul>"
                     + "".join(f"<li>{e(line)}</li>" for line in result.fixes) + "</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(result: CheckResult, out_dir: str | os.PathLike, samples: int = 12) -> tuple[Path, Path]:
    """``out_dir/report.html`` and ``out_dir/summary.json``; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    page, summary = out_dir / "report.html", out_dir / "summary.json"
    page.write_text(render_html(result, samples), encoding="utf-8")
    summary.write_text(json.dumps(result.summary(), indent=1) + "\n", encoding="utf-8")
    return page, summary
