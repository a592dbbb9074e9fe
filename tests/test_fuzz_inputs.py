"""Hostile inputs: every parser of a file a user hands pxcore is fuzzed with hypothesis.

The property, for each parser: the file either loads (and what comes back is sane) or
the parser raises pxcore's own error (a ``PxError``: ``DatasetError``, ``ImageError``,
``WeightsError``) whose message names the file. Any other exception fails the test, and
so does a slow example (hypothesis' ``deadline``) or a hang (a watchdog alarm); a crash
would take the run down. Examples are derandomized, so every run tries the same inputs.
The counts are printed at the end of the file's run and quoted in docs/reliability.md.
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import zlib
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from pxcore.data.images import ImageError, read_image
from pxcore.datasets import CocoDetection, DatasetError, ImageNet, SegDataset, VOCDetection
from pxcore.datasets.segmentation import check_label_values, read_label_image
from pxcore.errors import PxError, WeightsError
from pxcore.ops.masks import rle_to_mask
from pxcore.weights import read_pdparams, safe_unpickle

# Examples per property; the sum per parser is what docs/reliability.md reports.
EXAMPLES = {
    "imagenet_list": 200, "seg_list": 150, "voc_list": 120, "voc_xml_built": 250,
    "voc_xml_mutated": 200, "coco_built": 300, "coco_mutated": 200, "image_bytes": 150,
    "image_mutated": 250, "label_image": 250, "pickle_bytes": 150, "pickle_mutated": 300,
    "pickle_globals": 150, "pickle_programs": 300,
}
RUN: collections.Counter = collections.Counter()  # examples run, per property
OUTCOME: collections.Counter = collections.Counter()  # (property, loaded | refused)
WATCHDOG_S = 20
# Pillow warns about the corrupt files it is handed here (and raises on them as it should).
pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning:PIL"),
              pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")]


def fuzz(name: str):
    return settings(max_examples=EXAMPLES[name], derandomize=True, database=None,
                    deadline=timedelta(seconds=5), print_blob=False,
                    suppress_health_check=list(HealthCheck))


@contextlib.contextmanager
def watchdog(what: str):
    """A Python-level hang fails the example instead of the run (C loops that never
    return to the interpreter are caught by the deadline once they end)."""
    def alarm(signum, frame):
        raise TimeoutError(f"{what}: no answer after {WATCHDOG_S} s")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(WATCHDOG_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def outcome(prop: str, names, call) -> bool:
    """Run ``call``: True if it loaded, False if it raised a PxError naming one of
    ``names``; anything else propagates (and fails the property)."""
    RUN[prop] += 1
    with watchdog(prop):
        try:
            call()
        except PxError as exc:
            message = str(exc)
            assert any(str(n) in message for n in names), (
                f"{prop}: {type(exc).__name__} {message[:300]!r} names none of {names}")
            OUTCOME[prop, "refused"] += 1
            return False
    OUTCOME[prop, "loaded"] += 1
    return True


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    yield
    if not RUN:
        return
    lines = ["", "fuzzed inputs per property (loaded / refused with pxcore's error):"]
    for prop in EXAMPLES:
        if RUN[prop]:
            lines.append(f"  {prop:16} {RUN[prop]:5}  ({OUTCOME[prop, 'loaded']} loaded, "
                         f"{OUTCOME[prop, 'refused']} refused)")
    if RUN["voc_entity_attacks"]:
        lines.append(f"  {'voc_entity':16} {RUN['voc_entity_attacks']:5}  (all refused)")
    lines.append(f"  {'total':16} {sum(RUN.values()):5}")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\n".join(lines))


def test_the_checker_fails_on_a_foreign_exception_or_an_unnamed_file():
    with pytest.raises(ValueError):
        outcome("self-test", ["x"], lambda: int("x"))
    with pytest.raises(AssertionError, match="names none of"):
        outcome("self-test", ["list.txt"], lambda: (_ for _ in ()).throw(PxError("no name")))
    assert outcome("self-test", ["f"], lambda: None)
    assert not outcome("self-test", ["f.txt"], lambda: (_ for _ in ()).throw(PxError("f.txt: bad")))
    del RUN["self-test"]


# --- shared material ------------------------------------------------------------------

RNG = np.random.default_rng(0)
PHOTO = (RNG.random((24, 32, 3)) * 255).astype(np.uint8)


def encoded(ext: str, image: np.ndarray = PHOTO) -> bytes:
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with_header(width: int, height: int, depth: int, color: int, body: bytes) -> bytes:
    """A PNG whose header says anything, with valid CRCs so decoders believe it."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(body))
            + png_chunk(b"IEND", b""))


def pil_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


REAL_IMAGES = [encoded(".png"), encoded(".jpg"), encoded(".bmp"), encoded(".tiff"),
               encoded(".webp"), encoded(".png", PHOTO[:, :, 0]),
               encoded(".png", (PHOTO.astype(np.uint16) * 257)),
               encoded(".png", np.dstack([PHOTO, PHOTO[:, :, :1]]))]
LABELS = np.tile(np.arange(8, dtype=np.uint8) % 3, (6, 1))  # 6x8, classes 0..2
palette = Image.fromarray(LABELS, "P")
palette.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
REAL_LABELS = [pil_bytes(Image.fromarray(LABELS, "L")), pil_bytes(palette),
               pil_bytes(Image.fromarray(LABELS.astype(np.uint16) * 300)),
               pil_bytes(Image.fromarray(LABELS > 0)), pil_bytes(Image.fromarray(LABELS), "BMP"),
               pil_bytes(Image.fromarray(LABELS), "TIFF")]


@st.composite
def mutated(draw, originals):
    """A real file with a few byte-level changes: truncation, a flipped, inserted or
    deleted run, or the header overwritten."""
    data = bytearray(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "header"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "truncate":
            del data[pos:]
        elif kind == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[pos:pos + draw(st.integers(1, 32))]
        else:
            head = draw(st.binary(min_size=1, max_size=32))
            data[:len(head)] = head
    return bytes(data)


# --- file lists -----------------------------------------------------------------------

def list_text(draw, tokens, labels, good):
    """A file list: mostly ``good`` lines, with lines of random tokens and text mixed in
    (one bad line refuses the file), now and then random bytes."""
    bad = st.one_of(
        st.builds(lambda a, b: f"{a} {b}", st.sampled_from(tokens) | st.text(max_size=20),
                  labels),
        st.text(max_size=40), st.sampled_from(["", "# a comment", "   ", "\t"]),
        st.sampled_from(tokens))
    line = st.integers(0, 5).flatmap(lambda k: bad if k == 3 else st.sampled_from(good))
    text = "\n".join(draw(st.lists(line, min_size=1, max_size=6)))
    if draw(st.integers(0, 7)) == 4:
        return draw(st.binary(max_size=120))  # anything, UTF-8 or not
    return (draw(st.sampled_from(["", "\ufeff"])) + text).encode("utf-8")


@pytest.fixture(scope="module")
def lists_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("lists")
    (root / "a.png").write_bytes(encoded(".png"))
    (root / "b c.png").write_bytes(encoded(".jpg"))
    (root / "broken.jpg").write_bytes(encoded(".jpg")[:200])
    (root / "gray.png").write_bytes(encoded(".png", PHOTO[:, :, 0]))
    (root / "lab.png").write_bytes(pil_bytes(Image.fromarray(np.zeros((24, 32), np.uint8) + 1)))
    (root / "lab7.png").write_bytes(pil_bytes(Image.fromarray(np.full((24, 32), 7, np.uint8))))
    (root / "lab_small.png").write_bytes(REAL_LABELS[0])
    (root / "lab_rgb.png").write_bytes(encoded(".png"))
    (root / "sub").mkdir()
    (root / "labels.txt").write_text("cat\ndog\nbird\n")
    return root


IMAGE_TOKENS = ["a.png", "b c.png", "broken.jpg", "gray.png", "missing.png", "sub",
                "sub/../a.png", "x" * 300 + ".png", "a\x00.png", "labels.txt"]


@fuzz("imagenet_list")
@given(data=st.data())
def test_imagenet_file_lists(lists_dir, data):
    labels = st.one_of(st.integers(-3, 5).map(str), st.text(max_size=4),
                       st.sampled_from(["1.0", "+1", "0x1", "\u0661", "1e3", "9" * 5000, "-0"]))
    path = lists_dir / "list.txt"
    path.write_bytes(list_text(data.draw, IMAGE_TOKENS, labels,
                               ["a.png 0", "b c.png 2", "gray.png 1", "# c", ""]))

    def parse():
        dataset = ImageNet(lists_dir, path, lists_dir / "labels.txt")
        for image, label in dataset.samples:
            assert 0 <= label < 3 and image.is_file()
        for index in range(len(dataset)):
            sample = dataset.load(index)
            assert sample["image"].dtype == np.uint8 and sample["image"].shape[2] == 3
    outcome("imagenet_list", [path, lists_dir], parse)


LABEL_TOKENS = ["a.png lab.png", "gray.png lab.png", "a.png lab7.png", "a.png lab_small.png",
                "a.png lab_rgb.png", "broken.jpg lab.png", "a.png broken.jpg", "a.png missing.png"]


@fuzz("seg_list")
@given(data=st.data())
def test_segmentation_file_lists(lists_dir, data):
    path = lists_dir / "seg.txt"
    tokens = LABEL_TOKENS + IMAGE_TOKENS
    path.write_bytes(list_text(data.draw, tokens, st.sampled_from(IMAGE_TOKENS) | st.text(max_size=8),
                               ["a.png lab.png", "gray.png lab.png", ""]))

    def parse():
        dataset = SegDataset(lists_dir, path, lists_dir / "labels.txt")
        for index in range(len(dataset)):
            sample = dataset.load(index)
            assert sample["label_map"].shape == sample["image"].shape[:2]
            assert set(np.unique(sample["label_map"])) <= {0, 1, 2, 255}
    outcome("seg_list", [path, lists_dir], parse)


# --- VOC ------------------------------------------------------------------------------

VALID_XML = ("<annotation><filename>a.jpg</filename><size><width>32</width><height>24</height>"
             "<depth>3</depth></size><object><name>cat</name><difficult>0</difficult><bndbox>"
             "<xmin>2</xmin><ymin>3</ymin><xmax>20</xmax><ymax>19</ymax></bndbox></object>"
             "</annotation>")


@pytest.fixture(scope="module")
def voc_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("voc")
    (root / "JPEGImages").mkdir()
    (root / "Annotations").mkdir()
    (root / "JPEGImages/a.jpg").write_bytes(encoded(".jpg"))
    (root / "JPEGImages/bad.jpg").write_bytes(b"not a jpeg")
    (root / "Annotations/ok.xml").write_text(VALID_XML)
    (root / "Annotations/nosize.xml").write_text(VALID_XML.replace("<width>32</width>", ""))
    (root / "labels.txt").write_text("cat\ndog\n")
    (root / "list.txt").write_text("JPEGImages/a.jpg Annotations/a.xml\n")
    return root


def check_voc(root, xml_path):
    def parse():
        dataset = VOCDetection(root, root / "list.txt", root / "labels.txt")
        record = dataset.samples[0]
        for box in record.boxes:
            x1, y1, x2, y2 = box
            assert 0 <= x1 < x2 <= record.width and 0 <= y1 < y2 <= record.height
        assert all(0 <= c < 2 for c in record.classes)
        sample = dataset.load(0)
        assert np.isfinite(sample["gt_bbox"]).all()
        json.dumps(dataset.to_coco())
    return parse


numbers = st.one_of(st.integers(-50, 80).map(str), st.floats(allow_nan=True).map(repr),
                    st.sampled_from(["nan", "inf", "-inf", "1e999", "", " 7 ", "x", "0x10",
                                     "9" * 400]), st.text(max_size=6))


@st.composite
def voc_xml(draw):
    def tag(name, value):
        return f"<{name}>{value}</{name}>" if value is not None else ""
    text_value = st.none() | numbers
    objects = []
    for _ in range(draw(st.integers(0, 3))):
        box = "".join(tag(t, draw(text_value)) for t in ("xmin", "ymin", "xmax", "ymax"))
        objects.append("<object>" + tag("name", draw(st.sampled_from(["cat", "dog", "bird", " cat "])
                                                 | st.text(max_size=5)))
                       + tag("difficult", draw(text_value))
                       + (f"<bndbox>{box}</bndbox>" if draw(st.booleans()) else box) + "</object>")
    size = tag("width", draw(text_value)) + tag("height", draw(text_value))
    body = (f"<annotation>{tag('size', size) if draw(st.booleans()) else ''}"
            f"{''.join(objects)}</annotation>")
    if not draw(st.integers(0, 4)):  # sometimes not well-formed: a tag cut short
        body = body[:draw(st.integers(0, len(body)))]
    return body.encode("utf-8", "surrogatepass")


@fuzz("voc_xml_built")
@given(xml=voc_xml())
def test_voc_xml_built_from_random_fields(voc_dir, xml):
    (voc_dir / "Annotations/a.xml").write_bytes(xml)
    outcome("voc_xml_built", ["a.xml"], check_voc(voc_dir, voc_dir / "Annotations/a.xml"))


@fuzz("voc_xml_mutated")
@given(xml=mutated([VALID_XML.encode(), VALID_XML.replace("cat", "dog").encode("utf-16")])
       | st.binary(max_size=300))
def test_voc_xml_mutated_and_random_bytes(voc_dir, xml):
    (voc_dir / "Annotations/a.xml").write_bytes(xml)
    outcome("voc_xml_mutated", ["a.xml"], check_voc(voc_dir, voc_dir / "Annotations/a.xml"))


ENTITY_PAIRS = [
    ("billion laughs", '<!DOCTYPE a [<!ENTITY l0 "ha">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)) + "]>", "&l9;"),
    ("quadratic blowup", f'<!DOCTYPE a [<!ENTITY x "{"x" * 50000}">]>', "&x;" * 1000),
    ("external file", '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>', "&x;"),
    ("external url", '<!DOCTYPE a [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]>', "&x;"),
    ("parameter entity", '<!DOCTYPE a [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>', "cat"),
    ("external dtd", '<!DOCTYPE a SYSTEM "http://127.0.0.1:9/a.dtd">', "cat"),
    ("empty doctype", "<!DOCTYPE annotation>", "cat"),
]


@pytest.mark.parametrize("name, doctype, use", ENTITY_PAIRS, ids=[p[0] for p in ENTITY_PAIRS])
def test_voc_xml_entity_attacks_are_refused(voc_dir, name, doctype, use):
    xml = '<?xml version="1.0"?>' + doctype + VALID_XML.replace(">cat<", f">{use}<")
    (voc_dir / "Annotations/a.xml").write_text(xml)
    with pytest.raises(DatasetError, match=r"a\.xml.*declares a DOCTYPE"):
        VOCDetection(voc_dir, voc_dir / "list.txt", voc_dir / "labels.txt")
    RUN["voc_entity_attacks"] += 1


@fuzz("voc_list")
@given(data=st.data())
def test_voc_file_lists(voc_dir, data):
    tokens = ["JPEGImages/a.jpg Annotations/ok.xml", "JPEGImages/bad.jpg Annotations/nosize.xml",
              "JPEGImages/a.jpg Annotations/nosize.xml", "JPEGImages/a.jpg Annotations/none.xml",
              "JPEGImages/a.jpg JPEGImages/a.jpg", "Annotations/ok.xml Annotations/ok.xml",
              "JPEGImages/a.jpg", "JPEGImages JPEGImages", "x" * 300 + " y"]
    path = voc_dir / "voc_list.txt"
    path.write_bytes(list_text(data.draw, tokens, st.sampled_from(tokens) | st.text(max_size=8),
                               tokens[:1] + ["# c"]))

    def parse():
        dataset = VOCDetection(voc_dir, path, voc_dir / "labels.txt")
        for index in range(len(dataset)):
            dataset.load(index)
    outcome("voc_list", [path, voc_dir], parse)


# --- COCO -----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 10 ** 30) | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                 max_size=3),
    max_leaves=8)
coco_numbers = st.integers(0, 9).flatmap(lambda k: (
    st.integers(-5, 60) | st.floats(-10, 60) if k != 5 else
    st.floats() | st.sampled_from([10 ** 400, -(10 ** 400), True, 1e12])))


def maybe(value, odds: int = 12):
    """The strategy ``value``, or once in ``odds`` any JSON value (hypothesis favours
    the ends of a range, so the odd one out is in its middle)."""
    return st.integers(0, odds - 1).flatmap(lambda k: json_values if k == odds // 2 else value)


@st.composite
def coco_docs(draw):
    def entry(fields):
        item = {k: draw(maybe(v)) for k, v in fields.items()}
        if draw(st.integers(0, 7)) == 4:  # now and then a field is missing
            item.pop(draw(st.sampled_from(sorted(fields))))
        return item
    polygon = st.lists(coco_numbers, min_size=6, max_size=10)
    rle = st.fixed_dictionaries({
        "size": st.sampled_from([[24, 32], [32, 24], [1, 1]]) | json_values,
        "counts": st.sampled_from(["0Q51", "`<", "o" * 3, "PPP0", "0", "OOOO"]) | st.text(max_size=8)
        | st.lists(st.integers(-3, 800), max_size=4) | st.just([768]) | st.just([100, 668])})
    images = [entry({"id": st.integers(1, 2), "file_name": st.sampled_from(
                         ["a.jpg", "a.jpg", "a.jpg", "a.jpg", "bad.jpg", "none.jpg", ""]),
                     "width": maybe(st.sampled_from([32, 0]), 4).flatmap(
                         lambda w: st.just(w) if isinstance(w, int) else coco_numbers),
                     "height": maybe(st.sampled_from([24, 0]), 4).flatmap(
                         lambda h: st.just(h) if isinstance(h, int) else coco_numbers)})
              for _ in range(draw(st.integers(1, 2)))]
    annotations = [entry({"id": st.integers(1, 5), "image_id": st.integers(1, 2),
                          "category_id": st.integers(1, 3),
                          "bbox": st.lists(coco_numbers, min_size=4, max_size=4),
                          "iscrowd": st.integers(0, 1), "ignore": maybe(st.just(0), 6),
                          "area": coco_numbers,
                          "segmentation": st.lists(polygon, max_size=2) | rle})
                   for _ in range(draw(st.integers(0, 3)))]
    categories = [entry({"id": st.just(k) if draw(st.integers(0, 5)) != 3 else st.integers(1, 3),
                         "name": st.sampled_from(["cat", "dog"])})
                  for k in range(1, draw(st.integers(1, 3)) + (draw(st.integers(0, 9)) != 5))]
    doc = {"images": images, "annotations": annotations, "categories": categories}
    if draw(st.integers(0, 9)) == 5:
        doc[draw(st.sampled_from(sorted(doc)))] = draw(json_values)
    return doc if draw(st.integers(0, 19)) != 10 else draw(json_values)


@pytest.fixture(scope="module")
def coco_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco")
    (root / "a.jpg").write_bytes(encoded(".jpg"))
    (root / "bad.jpg").write_bytes(encoded(".jpg")[:100])
    return root


def check_coco(root, path):
    def parse():
        dataset = CocoDetection(root, path)
        gt = json.loads(json.dumps(dataset.to_coco(), allow_nan=False))  # plain JSON again
        sizes = {im["id"]: (im["height"], im["width"]) for im in gt["images"]}
        for ann in gt["annotations"]:
            x, y, w, h = ann["bbox"]
            assert w > 0 and h > 0
            if "segmentation" in ann:  # what evaluation and mask targets hand pycocotools
                rle_to_mask(ann["segmentation"], size=sizes[ann["image_id"]])
        for index in range(len(dataset)):
            dataset.load(index)
    return parse


VALID_COCO = json.dumps({
    "images": [{"id": 1, "file_name": "a.jpg", "width": 32, "height": 24}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 2, "bbox": [1, 2, 10, 12],
                     "iscrowd": 0, "area": 100.0, "segmentation": [[1, 2, 11, 2, 11, 14]]},
                    {"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, 32, 24],
                     "iscrowd": 1, "segmentation": {"size": [24, 32], "counts": [700, 68]}}],
    "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]})


def test_the_valid_coco_file_loads(coco_dir):
    (coco_dir / "valid.json").write_text(VALID_COCO)
    assert outcome("coco_built", ["valid.json"], check_coco(coco_dir, coco_dir / "valid.json"))


@fuzz("coco_built")
@given(doc=coco_docs())
def test_coco_json_built_from_random_structures(coco_dir, doc):
    path = coco_dir / "ann.json"
    path.write_text(json.dumps(doc))  # NaN and Infinity included, as Python writes them
    outcome("coco_built", ["ann.json", "a.jpg", "bad.jpg"], check_coco(coco_dir, path))


@st.composite
def coco_tree_mutations(draw):
    """The valid COCO file with a few values replaced, removed or repeated."""
    doc = json.loads(VALID_COCO)
    for _ in range(draw(st.integers(1, 3))):
        node, parent, key = doc, None, None
        while True:  # walk down to a random value: parent[key]
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            parent, key = node, draw(st.sampled_from(keys))
            if not isinstance(node[key], dict | list) or not draw(st.integers(0, 2)):
                break
            node = node[key]
        if parent is None:
            continue
        node = parent
        action = draw(st.sampled_from(["replace", "replace", "number", "remove", "repeat"]))
        if action == "remove":
            del node[key]
        elif action == "repeat" and isinstance(node, list):
            node.append(json.loads(json.dumps(node[key])))
        elif action == "number":
            node[key] = draw(coco_numbers)
        else:
            node[key] = draw(json_values)
    return json.dumps(doc).encode()


@fuzz("coco_mutated")
@given(text=coco_tree_mutations() | mutated([VALID_COCO.encode()]) | st.binary(max_size=200))
def test_coco_json_mutated_and_random_bytes(coco_dir, text):
    path = coco_dir / "mut.json"
    path.write_bytes(text)
    outcome("coco_mutated", ["mut.json", "a.jpg"], check_coco(coco_dir, path))


# --- images and label images ----------------------------------------------------------

@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("images")


def check_image(path):
    def parse():
        image = read_image(path)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    return parse


def check_label(path):
    def parse():
        label = read_label_image(path)
        assert label.ndim == 2 and label.dtype.kind in "iu"
        check_label_values(label, 3, str(path))
    return parse


headers = st.builds(png_with_header, st.sampled_from([0, 1, 7, 40000, 2 ** 31 - 1, 2 ** 32 - 1]),
                    st.sampled_from([0, 1, 5, 70000, 2 ** 31 - 1]), st.sampled_from([1, 8, 16, 3]),
                    st.sampled_from([0, 2, 3, 4, 6, 5]), st.binary(max_size=64))


@fuzz("image_bytes")
@given(data=st.binary(max_size=400) | headers)
def test_images_from_random_bytes_and_headers(image_dir, data):
    path = image_dir / "random.png"
    path.write_bytes(data)
    outcome("image_bytes", ["random.png"], check_image(path))


@fuzz("image_mutated")
@given(data=mutated(REAL_IMAGES))
def test_images_truncated_and_mutated(image_dir, data):
    path = image_dir / "mutated.jpg"
    path.write_bytes(data)
    outcome("image_mutated", ["mutated.jpg"], check_image(path))


@fuzz("label_image")
@given(data=mutated(REAL_LABELS) | st.binary(max_size=300) | headers)
def test_label_images_random_truncated_and_mutated(image_dir, data):
    path = image_dir / "label.png"
    path.write_bytes(data)
    outcome("label_image", ["label.png"], check_label(path))


# --- weight files ---------------------------------------------------------------------

class _PaddleTensor:
    """Pickles as paddle.save writes a tensor: tuple((name, array))."""

    def __init__(self, name, array):
        self.name, self.array = name, array

    def __reduce__(self):
        return (tuple, ((self.name, self.array),))


STATE = collections.OrderedDict(
    [("conv.weight", RNG.random((4, 3, 3, 3), dtype=np.float32)),
     ("conv.bias", np.arange(4, dtype=np.float64)), ("bn.steps", np.int64(3)),
     ("fc.weight", _PaddleTensor("linear_0.w_0", np.ones((2, 3), np.float16))),
     ("mask", np.array([True, False]))])
REAL_PICKLES = [pickle.dumps(STATE, protocol=p) for p in (2, 3, 4)]
REAL_PICKLES.append(pickle.dumps({"opt": {"m": np.zeros(3)}, "LR_Scheduler": {"last_epoch": 2}},
                                 protocol=4))


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("weights")


def check_weights(path):
    def parse():
        opt = path.with_suffix(".pdopt")  # checkpoints (optimizer, EMA) are read the same way
        opt.write_bytes(path.read_bytes())
        try:
            safe_unpickle(opt)
        except WeightsError as exc:
            assert opt.name in str(exc), str(exc)[:300]
        state = read_pdparams(path)
        assert all(isinstance(k, str) and isinstance(v, np.ndarray) for k, v in state.items())
        for value in state.values():
            assert value.dtype.kind in "biufc"
            assert value.nbytes <= path.stat().st_size  # every byte of data came from the file
    return parse


def test_real_pickles_load(weights_dir):
    path = weights_dir / "real.pdparams"
    for data in REAL_PICKLES[:3]:
        path.write_bytes(data)
        state = read_pdparams(path)
        assert list(state) == list(STATE)
        np.testing.assert_array_equal(state["fc.weight"], STATE["fc.weight"].array)


@fuzz("pickle_bytes")
@given(data=st.binary(max_size=300) | st.binary(max_size=60).map(lambda b: b"\x80\x04" + b))
def test_weight_files_of_random_bytes(weights_dir, data):
    path = weights_dir / "random.pdparams"
    path.write_bytes(data)
    outcome("pickle_bytes", ["random.pdparams", "random.pdopt"], check_weights(path))


@fuzz("pickle_mutated")
@given(data=mutated(REAL_PICKLES))
def test_weight_files_truncated_and_mutated(weights_dir, data):
    path = weights_dir / "mutated.pdparams"
    path.write_bytes(data)
    outcome("pickle_mutated", ["mutated.pdparams", "mutated.pdopt"], check_weights(path))


MARKER = Path("/tmp/pxcore-fuzz-pwned")
DANGEROUS = [("os", "system"), ("posix", "system"), ("builtins", "eval"), ("builtins", "exec"),
             ("builtins", "getattr"), ("builtins", "__import__"), ("builtins", "open"),
             ("subprocess", "Popen"), ("subprocess", "check_output"), ("pickle", "loads"),
             ("numpy", "load"), ("numpy", "frombuffer"), ("numpy.lib.npyio", "load"),
             ("numpy", "memmap"), ("numpy._core.numeric", "_frombuffer"), ("_codecs", "decode"),
             ("functools", "partial"), ("shutil", "rmtree"), ("collections", "namedtuple"),
             ("paddle", "load"), ("copyreg", "_reconstructor"), ("builtins", "setattr")]


@st.composite
def global_pickles(draw):
    """A pickle that names a global (a dangerous one, or any name) and calls it."""
    module, name = draw(st.sampled_from(DANGEROUS) | st.tuples(
        st.from_regex(r"[a-z_][a-z0-9_.]{0,12}", fullmatch=True),
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)))
    arg = pickle.dumps(f"touch {MARKER}", protocol=2)[2:-1]  # the argument's opcodes
    call = f"c{module}\n{name}\n".encode() + arg + b"\x85R"
    if draw(st.booleans()):  # deep inside an otherwise fine state dict
        call = b"}X\x01\x00\x00\x00k" + call + b"s"
    return b"\x80\x02" + call + b"."


@fuzz("pickle_globals")
@given(data=global_pickles())
def test_pickles_naming_any_global_run_nothing(weights_dir, data):
    path = weights_dir / "global.pdparams"
    path.write_bytes(data)
    MARKER.unlink(missing_ok=True)
    loaded = outcome("pickle_globals", ["global.pdparams"], check_weights(path))
    assert not loaded and not MARKER.exists()
    with pytest.raises(WeightsError, match="refused to load: the file asks to run"):
        read_pdparams(path)


OPCODES = [b"(", b")", b"]", b"}", b"0", b"1", b"2", b"t", b"l", b"d", b"s", b"u", b"a", b"e",
           b"b", b"R", b"\x81", b"\x85", b"\x86", b"\x87", b"\x8f", b"\x90", b"\x91", b"\x94",
           b"\x93", b"N", b"\x88", b"\x89", b"\x8c\x01k", b"\x8c\x02f4", b"\x8c\x06latin1",
           b"K\x00", b"K\x03", b"J\xff\xff\xff\x7f", b"C\x04\x00\x00\x80?", b"q\x00", b"q\x01",
           b"h\x00", b"h\x01", b"r\x02\x00\x00\x00", b"j\x02\x00\x00\x00", b"G\x7f\xf0" + b"\0" * 6,
           b"cnumpy\ndtype\n", b"cnumpy\nndarray\n", b"cnumpy._core.multiarray\n_reconstruct\n",
           b"cnumpy._core.multiarray\nscalar\n", b"ccollections\nOrderedDict\n",
           b"cbuiltins\ntuple\n", b"c_codecs\nencode\n", b"\x8a\x09" + b"\xff" * 9,
           b"\x8b\x04\x00\x00\x00\x01", b"T\xff\xff\xff\x7f", b"\x95\x08" + b"\0" * 7, b"P1\n",
           b"\x82\x01", b"\x92"]


@fuzz("pickle_programs")
@given(ops=st.lists(st.sampled_from(OPCODES), max_size=40))
def test_random_pickle_programs_of_state_dict_opcodes(weights_dir, ops):
    """Opcode sequences over what a state dict uses (memo, DUP, BUILD, REDUCE on the
    admitted globals): the unpickler is tried where legal files never go."""
    path = weights_dir / "program.pdparams"
    path.write_bytes(b"\x80\x04" + b"".join(ops) + b".")
    outcome("pickle_programs", ["program.pdparams", "program.pdopt"], check_weights(path))


# --- regressions: what the fuzzing and review found (each failed before its fix) ------

def _shared_tuple_key_pickle(depth: int) -> bytes:
    """{T: 1} where T = (S, S), S = (R, R), ... built from the memo: ~250 bytes whose
    key takes 2**depth steps to hash (or print)."""
    out = bytearray(b"\x80\x02})q\x000")
    for k in range(1, depth + 1):
        out += b"h" + bytes([k - 1]) + b"h" + bytes([k - 1]) + b"\x86q" + bytes([k]) + b"0"
    return bytes(out + b"h" + bytes([depth]) + b"K\x01s.")


def test_a_pickle_that_shares_one_tuple_exponentially_is_refused_at_once(tmp_path):
    path = tmp_path / "dag.pdparams"
    path.write_bytes(_shared_tuple_key_pickle(64))
    code = ("import sys; from pxcore.weights import read_pdparams\n"
            "try:\n    read_pdparams(sys.argv[1])\nexcept Exception as e:\n    print(e)\n")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                            text=True, timeout=60)  # before the fix: hashing for ever
    assert "refused to load: the file uses a nested tuple twice" in result.stdout, result.stderr


def _array_opcodes(shape=(2,), dtype_flags=0, count=2):
    """Protocol 2 opcodes of an ndarray of float64, its dtype state's flags settable."""
    return (b"cnumpy._core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R"
            b"(K\x01" + b"K\x02" * len(shape) + bytes([0x84 + len(shape)])
            + b"cnumpy\ndtype\nX\x02\x00\x00\x00f8\x89\x88\x87R"
            + b"(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xff"
            + b"K" + bytes([dtype_flags]) + b"tb\x89C" + bytes([8 * count]) + b"\x00" * 8 * count
            + b"tb")


@pytest.mark.parametrize("program, message", [
    # tuple() of an array: iterating a huge one would never end
    (b"\x80\x02}X\x01\x00\x00\x00wcbuiltins\ntuple\n" + _array_opcodes() + b"\x85Rs.",
     "builtins.tuple of a ndarray"),
    # a dtype state whose flags say "holds Python objects": numpy crashes on such arrays
    (b"\x80\x02}X\x01\x00\x00\x00w" + _array_opcodes(dtype_flags=1) + b"s.", "dtype state"),
    # numpy.ndarray called directly, or _reconstruct asked for 100 MB: memory from nothing
    (b"\x80\x02}X\x01\x00\x00\x00wcnumpy\nndarray\nJ\x00\xe1\xf5\x05\x85R" + b"s.",
     "calling numpy.ndarray directly"),
    (b"\x80\x02}X\x01\x00\x00\x00wcnumpy._core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
     b"J\x00\xe1\xf5\x05\x85C\x01b\x87Rs.", "larger than the file"),
    # one list used twice: the way to a structure that expands exponentially
    (b"\x80\x02}X\x01\x00\x00\x00w]q\x00h\x00\x86s.", "uses one list twice"),
    # an object dtype: arrays of arbitrary Python objects
    (b"\x80\x02cnumpy\ndtype\nX\x01\x00\x00\x00O\x85R.", "not a plain numeric type"),
])
def test_pickles_that_abuse_admitted_globals_are_refused(tmp_path, program, message):
    path = tmp_path / "abuse.pdparams"
    path.write_bytes(program)
    with pytest.raises(WeightsError, match=rf"abuse\.pdparams: refused to load: .*{message}"):
        read_pdparams(path)


def test_the_array_program_above_is_a_real_array(tmp_path):
    path = tmp_path / "ok.pdparams"
    path.write_bytes(b"\x80\x02}X\x01\x00\x00\x00w" + _array_opcodes() + b"s.")
    np.testing.assert_array_equal(read_pdparams(path)["w"], np.zeros(2))


@pytest.fixture
def coco_file(coco_dir):
    def write(**changes):
        doc = json.loads(VALID_COCO)
        for where, value in changes.items():
            section, index, key = where.split("__")
            doc[section][int(index)][key] = value
        path = coco_dir / "case.json"
        path.write_text(json.dumps(doc))
        return path
    return write


@pytest.mark.parametrize("changes, message", [
    ({"images__0__file_name": 5}, r"image id 1 \(5\): file_name should be a path"),
    ({"images__0__width": float("nan")}, r"width nan and height 24 should be positive"),
    ({"images__0__width": "x"}, r"width 'x' and height 24 should be positive"),
    ({"annotations__0__image_id": [1]}, r"annotation id 1 .*no image has id \[1\]"),
    ({"annotations__0__category_id": [1]}, r"annotation id 1 .*category_id \[1\] is not in"),
    ({"categories__1__id": "z"}, r"categories\[1\] id 'z' is not an integer"),
    ({"categories__1__id": 1}, r"categories\[1\] id 1 repeats"),
    ({"annotations__0__bbox": [10 ** 400, 1, 1, 1]}, r"annotation id 1 .*not finite"),
    ({"annotations__0__iscrowd": "x"}, r"annotation id 1 .*iscrowd 'x' should be 0 or 1"),
    ({"annotations__0__area": "x"}, r"annotation id 1 .*area 'x' should be a finite number"),
    ({"annotations__0__id": "x"}, r"annotation id x .*ids must be integers"),
    ({"annotations__0__segmentation": [["a"] * 6]}, r"annotation id 1 .*finite numbers"),
    ({"annotations__0__segmentation": [[0, 0, 1e12, 0, 0, 1e12]]},
     r"annotation id 1 .*point \(1e\+12, 0\) lies far outside the 32x24 image"),
    ({"annotations__0__segmentation": "abc"}, r"annotation id 1 .*not a str"),
    ({"annotations__1__segmentation": {"size": [24, 32], "counts": "o"}},
     r"annotation id 2 .*RLE counts cannot be decoded \(it ends inside a number\)"),
    ({"annotations__1__segmentation": {"size": [24, 32], "counts": [100000]}},
     r"annotation id 2 .*cover the 32x24 image's 768 pixels exactly"),
    ({"annotations__1__segmentation": {"size": [240, 320], "counts": [76800]}},
     r"annotation id 2 .*RLE's size \[240, 320\] should be the image's"),
])
def test_coco_fields_of_the_wrong_kind_name_the_annotation(coco_file, changes, message):
    """Each of these raised TypeError, ValueError or OverflowError, or (the polygon far
    outside and the RLE runs past the image) hung or crashed pycocotools later."""
    with pytest.raises(DatasetError, match=r"case\.json: .*" + message):
        CocoDetection(coco_file().parent, coco_file(**changes))


@pytest.mark.parametrize("text, message", [
    ("[" * 100000 + "]" * 100000, "RecursionError"),
    ('{"images": ' + "9" * 5000 + "}", "digits"),
])
def test_coco_json_too_deep_or_too_long_a_number(coco_dir, text, message):
    (coco_dir / "deep.json").write_text(text)
    with pytest.raises(DatasetError, match=rf"deep\.json' is not valid JSON .*{message}"):
        CocoDetection(coco_dir, coco_dir / "deep.json")


@pytest.mark.parametrize("xml, message", [
    ("<annotation><size><width>nan</width><height>5</height></size></annotation>",
     r"<size> nanx5 is not a finite size"),
    ("<annotation><size><width>32</width><height>24</height></size><object><name>cat</name>"
     "<difficult>1e999</difficult><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax>"
     "<ymax>5</ymax></bndbox></object></annotation>", r"object 1: <difficult> '1e999' is not 0"),
    ("<annotation><size><width>32</width><height>24</height></size><object><name>cat</name>"
     "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>" + "9" * 400 + "</ymax></bndbox>"
     "</object></annotation>", r"object 1 \('cat'\): box .* non-finite"),
])
def test_voc_sizes_and_flags_out_of_range_name_the_file(voc_dir, xml, message):
    (voc_dir / "Annotations/a.xml").write_text(xml)
    with pytest.raises(DatasetError, match=r"a\.xml .*" + message):
        VOCDetection(voc_dir, voc_dir / "list.txt", voc_dir / "labels.txt")


def test_a_path_too_long_for_the_system_is_a_dataset_error(lists_dir):
    (lists_dir / "long.txt").write_text("x" * 300 + ".png 0\n")
    with pytest.raises(DatasetError, match=r"long\.txt, line 1: image .* does not exist"):
        ImageNet(lists_dir, lists_dir / "long.txt", lists_dir / "labels.txt")


def test_image_headers_beyond_the_decoders_limits_are_clear_errors(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(png_with_header(70000, 70000, 8, 0, b""))
    with pytest.raises(ImageError, match=r"huge\.png' cannot be decoded"):
        read_image(path)  # was cv2.error
    with pytest.raises(DatasetError, match=r"huge\.png' cannot be read.*DecompressionBombError"):
        read_label_image(path)  # was PIL.Image.DecompressionBombError


# --- image kinds, and labels outside the class list, named -----------------------------

def test_image_kinds_are_read_as_rgb_uint8(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    np.testing.assert_array_equal(read_image(tmp_path / "gray.png"), np.dstack([gray] * 3))
    deep = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 257 * 20)
    cv2.imwrite(str(tmp_path / "deep.png"), deep)  # 16-bit gray: scaled to 8 bits
    np.testing.assert_array_equal(read_image(tmp_path / "deep.png"), np.dstack([gray] * 3))
    cv2.imwrite(str(tmp_path / "deep_rgb.png"), np.dstack([deep, deep // 2, deep // 4]))
    assert read_image(tmp_path / "deep_rgb.png")[0, 1].tolist() == [5, 10, 20]  # RGB order
    rgba = np.zeros((3, 4, 4), np.uint8)
    rgba[..., :3] = (30, 20, 10)  # BGR in the file: red 10, green 20, blue 30
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)  # fully transparent: alpha dropped
    assert read_image(tmp_path / "rgba.png")[0, 0].tolist() == [10, 20, 30]


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((10, 20, 3), np.uint8)
    stored[:5] = (255, 0, 0)  # top half red as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    Image.fromarray(stored).save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    image = read_image(tmp_path / "phone.jpg")
    assert image.shape == (20, 10, 3)  # upright: taller than wide
    assert image[:, 7:, 0].min() > 200 and image[:, :3, 0].max() < 60  # red on the right


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.9])
@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".bmp"])
def test_truncated_images_are_refused_naming_the_file(tmp_path, ext, fraction):
    data = encoded(ext)
    (tmp_path / f"cut{ext}").write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ImageError, match=rf"cut\{ext}' cannot be decoded: .*truncated"):
        read_image(tmp_path / f"cut{ext}")


def test_label_image_kinds(tmp_path):
    Image.fromarray(LABELS.astype(np.uint16) * 300).save(tmp_path / "l16.png")
    assert read_label_image(tmp_path / "l16.png").max() == 600  # 16-bit ids kept
    palette.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_label_image(tmp_path / "p.png"), LABELS)  # indices
    Image.fromarray(PHOTO).save(tmp_path / "rgb.png")
    with pytest.raises(DatasetError, match=r"rgb\.png' is a RGB colour image"):
        read_label_image(tmp_path / "rgb.png")
    (tmp_path / "cut.png").write_bytes(REAL_LABELS[0][:40])  # into the pixel data
    with pytest.raises(DatasetError, match=r"cut\.png' cannot be read: .*truncated"):
        read_label_image(tmp_path / "cut.png")


def test_a_label_outside_the_class_list_names_where_in_each_format(lists_dir, voc_dir, coco_dir):
    (lists_dir / "out.txt").write_text("a.png 0\n# fine so far\na.png 3\n")
    with pytest.raises(DatasetError, match=r"out\.txt, line 3: class id 3 is outside the label"):
        ImageNet(lists_dir, lists_dir / "out.txt", lists_dir / "labels.txt")
    (lists_dir / "segout.txt").write_text("a.png lab.png\n\na.png lab7.png\n")
    dataset = SegDataset(lists_dir, lists_dir / "segout.txt", lists_dir / "labels.txt")
    dataset.load(0)
    with pytest.raises(DatasetError, match=r"segout\.txt, line 3: label value 7 is outside"):
        dataset.load(1)
    (voc_dir / "Annotations/a.xml").write_text(VALID_XML.replace(">cat<", ">zebra<"))
    (voc_dir / "two.txt").write_text("JPEGImages/a.jpg Annotations/ok.xml\n"
                                     "JPEGImages/a.jpg Annotations/a.xml\n")
    with pytest.raises(DatasetError, match=r"a\.xml \(from .*two\.txt, line 2\), object 1: "
                                           r"class 'zebra' is not in the label list"):
        VOCDetection(voc_dir, voc_dir / "two.txt", voc_dir / "labels.txt")
    doc = json.loads(VALID_COCO)
    doc["annotations"][1]["category_id"] = 9
    (coco_dir / "out.json").write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match=r"out\.json: annotation id 2 \(image id 1\): "
                                           r"category_id 9 is not in 'categories' \(ids \[1, 2\]\)"):
        CocoDetection(coco_dir, coco_dir / "out.json")


def test_weight_files_from_devices_or_pipes_are_not_read(tmp_path):
    """A path to a device would be read for ever; it is refused as not a file."""
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    with pytest.raises(ImageError, match="is not a file"):
        read_image("/dev/zero")
    with pytest.raises(WeightsError, match="does not exist"):
        read_pdparams("/dev/zero")
