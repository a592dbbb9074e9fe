"""``px check-dataset`` / ``pxcore.datasets.check``: generated defects in every format are
each found with their file and line (or annotation id), ``--fix`` writes a copy the
loaders accept without touching the originals, the HTML report is self-contained, and the
exit status says whether there are errors."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from pxcore.cli import main
from pxcore.datasets import (
    CocoDetection,
    DatasetError,
    ImageNet,
    SegDataset,
    VOCDetection,
    check,
    make_shapes,
)
from pxcore.datasets.check_fix import write_fixed
from pxcore.datasets.check_report import render_html, write_report


def image(path: Path, h: int = 24, w: int = 32, seed: int = 0) -> Path:
    """A distinct random picture (``seed`` sets its content, so duplicates are chosen)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8))
    return path


def voc_xml(path: Path, objects, size=(32, 24), difficult="0") -> None:
    """``objects``: (name, (x1, y1, x2, y2))."""
    body = "".join(f"<object><name>{n}</name><difficult>{difficult}</difficult><bndbox>"
                   + "".join(f"<{t}>{v}</{t}>" for t, v in zip(("xmin", "ymin", "xmax", "ymax"), b, strict=True))
                   + "</bndbox></object>" for n, b in objects)
    size_xml = f"<size><width>{size[0]}</width><height>{size[1]}</height></size>" if size else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<annotation>{size_xml}{body}</annotation>")


def found(result) -> set[tuple]:
    """(code, file name, line, item) of every finding."""
    return {(f.code, Path(f.file).name, f.line, f.item) for f in result.findings}


def tree_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# --- a clean set: nothing found, and the counts are the loaders' ---------------------

@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return make_shapes(tmp_path_factory.mktemp("shapes"), num_images=12, image_size=64, seed=3)


def test_a_clean_set_has_no_findings_and_the_loaders_counts(shapes):
    voc = check(shapes, "voc")
    assert voc.findings == [] and voc.ok
    for split in ("train", "val", "test"):
        dataset = VOCDetection(shapes, shapes / f"{split}_list.txt", shapes / "labels.txt")
        expected = np.bincount([c for r in dataset.samples for c in r.classes], minlength=3).tolist()
        assert voc.per_class[split] == expected and voc.images[split] == len(dataset)
    coco = check(shapes, "coco", ["annotations/train.json"])
    dataset = CocoDetection(shapes, shapes / "annotations/train.json")
    assert coco.findings == [] and coco.labels == dataset.labels
    assert coco.annotations["train"] == sum(len(r.boxes) for r in dataset.samples)
    seg = check(shapes, "seg", ["seg_train_list.txt"], label_list=shapes / "seg_labels.txt")
    assert seg.findings == [] and seg.images["seg_train"] == len(
        SegDataset(shapes, shapes / "seg_train_list.txt", shapes / "seg_labels.txt"))
    assert seg.pixels[0] > 0 and sum(seg.pixels) == seg.images["seg_train"] * 64 * 64


def test_coco_jsons_are_found_in_the_annotations_folder(shapes, tmp_path):
    """Without --file-list: annotations/{split}.json (as px's shapes write them) and
    annotations/instances_{split}2017.json (COCO's own download) are the splits."""
    found = check(shapes, "coco")
    assert sorted(found.images) == ["test", "train", "val"] and found.findings == []
    assert found.annotations["train"] == check(shapes, "coco", ["annotations/train.json"]).annotations["train"]
    coco = tmp_path / "coco"
    (coco / "annotations").mkdir(parents=True)
    for name in ("JPEGImages",):
        (coco / name).symlink_to(shapes / name)
    for split in ("train", "val"):
        (coco / "annotations" / f"instances_{split}2017.json").write_bytes(
            (shapes / "annotations" / f"{split}.json").read_bytes())
    assert sorted(check(coco, "coco").images) == ["train", "val"]


# --- VOC ------------------------------------------------------------------------------

@pytest.fixture
def bad_voc(tmp_path):
    root = tmp_path / "voc"
    for k in range(1, 8):
        image(root / f"JPEGImages/{k}.jpg", seed=k)
    image(root / "JPEGImages/copy.jpg", seed=1).write_bytes((root / "JPEGImages/1.jpg").read_bytes())
    (root / "JPEGImages/broken.jpg").write_bytes(b"not a jpeg")
    voc_xml(root / "Annotations/1.xml", [("cat", (2, 3, 20, 19))])
    voc_xml(root / "Annotations/2.xml", [("cat", (2, 3, 20, 19))], size=(64, 48))  # size mismatch
    voc_xml(root / "Annotations/3.xml", [
        ("cat", (5, 5, 5, 10)),     # object 1: zero area
        ("dog", (20, 5, 10, 10)),   # object 2: x2 < x1
        ("cat", (40, 30, 50, 40)),  # object 3: wholly outside the 32x24 image
        ("dog", (-4, 2, 12, 30)),   # object 4: partly outside: clipped (a warning)
        ("zebra", (1, 1, 5, 5)),    # object 5: not in the label list
        ("dog", (1, 1, 9, 9)),      # object 6: fine
    ])
    voc_xml(root / "Annotations/4.xml", [])  # no objects: a warning
    voc_xml(root / "Annotations/5.xml", [("cat", (1, 1, 5, 5))], difficult="x")
    (root / "Annotations/6.xml").write_text("<annotation><object>")  # not well-formed
    (root / "labels.txt").write_text("cat\ndog\n")
    (root / "train_list.txt").write_text(
        "JPEGImages/1.jpg Annotations/1.xml\n"          # 1 fine
        "JPEGImages/2.jpg Annotations/2.xml extra\n"    # 2 malformed
        "JPEGImages/none.jpg Annotations/1.xml\n"       # 3 missing image
        "JPEGImages/broken.jpg Annotations/1.xml\n"     # 4 corrupt image
        "JPEGImages/2.jpg Annotations/2.xml\n"          # 5 size mismatch
        "JPEGImages/3.jpg Annotations/3.xml\n"          # 6 the boxes
        "JPEGImages/4.jpg Annotations/4.xml\n"          # 7 no objects
        "JPEGImages/copy.jpg Annotations/1.xml\n"       # 8 same content as line 1
        "JPEGImages/5.jpg Annotations/5.xml\n"          # 9 bad <difficult>
        "JPEGImages/6.jpg Annotations/6.xml\n"          # 10 broken XML
        "JPEGImages/7.jpg Annotations/none.xml\n")      # 11 missing XML
    (root / "val_list.txt").write_text("# val\nJPEGImages/1.jpg Annotations/1.xml\n")  # line 2: in train too
    return root


def test_every_voc_defect_is_found_where_it_is(bad_voc):
    result = check(bad_voc, "voc")
    assert found(result) == {
        ("list_line_malformed", "train_list.txt", 2, None),
        ("image_missing", "train_list.txt", 3, None),
        ("image_unreadable", "train_list.txt", 4, None),
        ("size_mismatch", "2.xml", None, None),
        ("box_zero_area", "3.xml", None, "object 1"),
        ("box_degenerate", "3.xml", None, "object 2"),
        ("box_outside_image", "3.xml", None, "object 3"),
        ("box_out_of_image", "3.xml", None, "object 4"),
        ("label_unknown", "3.xml", None, "object 5"),
        ("no_annotations", "4.xml", None, None),
        ("duplicate_image", "train_list.txt", 8, None),
        ("box_malformed", "5.xml", None, "object 1"),
        ("annotation_invalid", "6.xml", None, None),
        ("annotation_missing", "none.xml", None, None),
        ("image_in_two_splits", "val_list.txt", 2, None),
    }
    severities = {f.code: f.severity for f in result.findings}
    assert {c for c, s in severities.items() if s == "warning"} == {
        "box_out_of_image", "no_annotations", "duplicate_image"}
    # what a fix keeps: line 1's cat and 3.xml's clipped and fine dogs
    assert result.per_class["train"] == [1, 2] and result.images["train"] == 4 and result.listed["train"] == 11
    with pytest.raises(DatasetError):  # what the loader does: stop at the first
        VOCDetection(bad_voc, bad_voc / "train_list.txt", bad_voc / "labels.txt")


def test_voc_fix_writes_a_copy_the_loader_accepts_and_logs_each_change(bad_voc, tmp_path):
    before = tree_hashes(bad_voc)
    result = check(bad_voc, "voc")
    dst = tmp_path / "fixed"
    write_fixed(result, dst)
    assert tree_hashes(bad_voc) == before  # the originals are untouched
    dataset = VOCDetection(dst, dst / "train_list.txt", dst / "labels.txt")
    assert [r.path.name for r in dataset.samples] == ["1.jpg", "3.jpg", "4.jpg", "5.jpg"]
    boxes = dict(zip([r.path.name for r in dataset.samples], [r.boxes for r in dataset.samples], strict=True))
    assert boxes["3.jpg"] == [[0.0, 2.0, 12.0, 24.0], [1.0, 1.0, 9.0, 9.0]]  # clipped, fine
    for index in range(len(dataset)):
        dataset.load(index)
    assert (dst / "val_list.txt").read_text() == ""  # its one image is train's
    log = (dst / "fixes.log").read_text()
    for expected in ["train_list.txt line 2: dropped (list_line_malformed)",
                     "train_list.txt line 3: dropped (image_missing)",
                     "train_list.txt line 5: dropped (size_mismatch)",
                     "3.xml: object 1 dropped (box_zero_area)", "3.xml: object 2 dropped (box_degenerate)",
                     "3.xml: object 3 dropped (box_outside_image)", "3.xml: object 4 clipped to [0, 2, 12, 24]",
                     "3.xml: object 5 dropped (label_unknown)", "train_list.txt line 8: dropped (duplicate_image)",
                     "val_list.txt line 2: dropped (image_in_two_splits)"]:
        assert expected in log
    assert "val_list.txt: every line dropped (written empty)" in log
    assert len(log.splitlines()) == len(result.fixes) == 15
    again = check(dst, "voc")
    assert [(f.code, f.split) for f in again.errors] == [("list_empty", "val")] and {f.code for f in again.warnings} == {"no_annotations"}  # 4.xml, 5.xml


def test_fix_refuses_to_write_over_the_data_set(bad_voc):
    with pytest.raises(DatasetError, match="where the data set is"):
        write_fixed(check(bad_voc, "voc"), bad_voc)


# --- COCO -----------------------------------------------------------------------------

@pytest.fixture
def bad_coco(tmp_path):
    root = tmp_path / "coco"
    for k in range(1, 5):
        image(root / f"im/{k}.jpg", seed=k)
    image(root / "im/big.jpg", h=48, w=64, seed=9)
    good = {"image_id": 1, "category_id": 1, "iscrowd": 0}
    train = {
        "images": [{"id": 1, "file_name": "im/1.jpg", "width": 32, "height": 24},
                   {"id": 2, "file_name": "im/2.jpg", "width": 32, "height": 24},  # no annotations
                   {"id": 3, "file_name": "im/none.jpg", "width": 32, "height": 24},
                   {"id": 4, "file_name": "im/big.jpg", "width": 32, "height": 24},  # size mismatch
                   {"id": 5, "file_name": "im/3.jpg"}],
        "annotations": [
            {"id": 10, **good, "bbox": [1, 1, 10, 10], "segmentation": [[1, 1, 11, 1, 11, 11]]},
            {"id": 11, **good, "bbox": [5, 5, 0, 8]},              # zero area
            {"id": 12, **good, "bbox": [5, 5, -3, 8]},             # negative width
            {"id": 13, **good, "bbox": [40, 30, 5, 5]},            # outside the image
            {"id": 14, **good, "bbox": [20, 10, 20, 20]},          # partly outside: clipped
            {"id": 15, **good, "bbox": [1, 1, 5, 5], "segmentation": [[1, 1, 5, 5]]},  # 2 points
            {"id": 16, **good, "category_id": 7, "bbox": [1, 1, 5, 5]},  # unknown category
            {"id": 10, **good, "bbox": [1, 1, 5, 5]},              # id repeats
            {"id": 17, **good, "image_id": 99, "bbox": [1, 1, 5, 5]},  # no such image
            {"id": 18, **good, "image_id": 5, "category_id": 2, "bbox": [2, 2, 9, 9]}],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]}
    val = {"images": [{"id": 1, "file_name": "im/1.jpg", "width": 32, "height": 24},
                      {"id": 2, "file_name": "im/4.jpg", "width": 32, "height": 24}],
           "annotations": [{"id": 1, "image_id": 2, "category_id": 2, "bbox": [1, 1, 9, 9]}],
           "categories": train["categories"]}
    (root / "train.json").write_text(json.dumps(train))
    (root / "val.json").write_text(json.dumps(val))
    return root


def test_every_coco_defect_is_found_with_its_id(bad_coco):
    result = check(bad_coco, "coco")
    assert found(result) == {
        ("no_annotations", "train.json", None, "image id 2"),
        ("image_missing", "train.json", None, "image id 3"),
        ("size_mismatch", "train.json", None, "image id 4"),
        ("box_zero_area", "train.json", None, "annotation id 11"),
        ("box_degenerate", "train.json", None, "annotation id 12"),
        ("box_outside_image", "train.json", None, "annotation id 13"),
        ("box_out_of_image", "train.json", None, "annotation id 14"),
        ("polygon_too_few_points", "train.json", None, "annotation id 15"),
        ("label_unknown", "train.json", None, "annotation id 16"),
        ("annotation_id_repeats", "train.json", None, "annotation id 10"),
        ("annotation_invalid", "train.json", None, "annotation id 17"),
        ("image_in_two_splits", "val.json", None, "image id 1"),
        ("no_annotations", "val.json", None, "image id 1"),  # its annotations are train's
    }
    assert result.labels == ["cat", "dog"] and result.per_class == {"train": [2, 1], "val": [0, 1]}


def test_coco_fix_drops_and_clips_and_the_loader_accepts_it(bad_coco, tmp_path):
    before = tree_hashes(bad_coco)
    dst = tmp_path / "fixed"
    write_fixed(check(bad_coco, "coco"), dst)
    assert tree_hashes(bad_coco) == before
    train = CocoDetection(dst, dst / "train.json")
    assert sorted(r.im_id for r in train.samples) == [1, 2, 5]
    assert {a for r in train.samples for a in r.ann_ids} == {10, 14, 18}
    assert [r.boxes for r in train.samples if r.im_id == 1][0][1] == [20.0, 10.0, 32.0, 24.0]
    assert [r.im_id for r in CocoDetection(dst, dst / "val.json").samples] == [2]
    log = (dst / "fixes.log").read_text()
    assert "train.json annotation id 11: dropped (box_zero_area)" in log
    assert "train.json annotation id 14: bbox clipped to [20.0, 10.0, 12.0, 14.0]" in log
    assert "train.json image id 3: dropped with its annotations (image_missing)" in log
    assert "val.json image id 1: dropped with its annotations (image_in_two_splits)" in log
    assert check(dst, "coco").errors == []


# --- segmentation ---------------------------------------------------------------------

def label(path: Path, values: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(values.astype(np.uint8)).save(path)
    return path


def test_every_segmentation_defect_is_found_on_its_line(tmp_path):
    root = tmp_path / "seg"
    for k in range(1, 7):
        image(root / f"img/{k}.jpg", seed=k)
    ok = np.zeros((24, 32), np.uint8)
    ok[5:10, 5:10] = 1
    label(root / "lab/ok.png", ok)
    label(root / "lab/seven.png", ok * 7)  # 7 is outside a 2-class list
    label(root / "lab/small.png", ok[:12])  # 32x12 for a 32x24 image
    label(root / "lab/ignored.png", ok * 0 + 255)  # nothing labelled: a warning
    Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(root / "lab/rgb.png")
    (root / "labels.txt").write_text("background\nthing\n")
    (root / "train_list.txt").write_text(
        "img/1.jpg lab/ok.png\nimg/2.jpg lab/seven.png\nimg/3.jpg lab/small.png\nimg/4.jpg lab/ignored.png\n"
        "img/5.jpg lab/rgb.png\nimg/6.jpg lab/none.png\nimg/1.jpg\n")
    result = check(root, "seg")
    assert found(result) == {
        ("label_unknown", "train_list.txt", 2, None), ("size_mismatch", "train_list.txt", 3, None),
        ("no_annotations", "train_list.txt", 4, None), ("annotation_invalid", "train_list.txt", 5, None),
        ("annotation_missing", "train_list.txt", 6, None), ("list_line_malformed", "train_list.txt", 7, None)}
    assert result.pixels == [24 * 32 - 25, 25]
    dst = tmp_path / "fixed"
    write_fixed(result, dst)
    dataset = SegDataset(dst, dst / "train_list.txt", dst / "labels.txt")
    assert len(dataset) == 2 and all(dataset.load(i)["label_map"].shape == (24, 32) for i in range(2))


# --- classification -------------------------------------------------------------------

def test_every_imagenet_defect_is_found_on_its_line(tmp_path):
    root = tmp_path / "cls"
    for k in range(12):
        image(root / f"a/{k}.jpg", seed=k)
    image(root / "b/0.jpg", seed=100)
    (root / "labels.txt").write_text("a\nb\nc\n")
    lines = [f"a/{k}.jpg 0" for k in range(11)] + ["b/0.jpg 1", "a/11.jpg 3", "a/11.jpg x", "a/none.jpg 1",
                                                   "a/0.jpg"]
    (root / "train_list.txt").write_text("\n".join(lines) + "\n")
    (root / "val_list.txt").write_text("a/11.jpg 0\n")
    result = check(root, "imagenet")
    assert found(result) == {
        ("label_unknown", "train_list.txt", 13, None), ("label_unknown", "train_list.txt", 14, None),
        ("image_missing", "train_list.txt", 15, None), ("list_line_malformed", "train_list.txt", 16, None),
        ("class_empty", "labels.txt", None, None), ("class_imbalance", "labels.txt", None, None)}
    assert result.per_class == {"train": [11, 1, 0], "val": [1, 0, 0]}
    assert check(root, "imagenet", imbalance_ratio=20).findings != result.findings  # no imbalance at 20
    assert "class_imbalance" not in {f.code for f in check(root, "imagenet", imbalance_ratio=20).findings}
    dst = tmp_path / "fixed"
    write_fixed(result, dst)
    assert len(ImageNet(dst, dst / "train_list.txt", dst / "labels.txt")) == 12


def test_a_missing_label_list_is_a_finding_not_a_crash(tmp_path):
    image(tmp_path / "a.jpg")
    (tmp_path / "train_list.txt").write_text("a.jpg 0\n")
    result = check(tmp_path, "imagenet")
    assert [(f.code, Path(f.file).name) for f in result.errors] == [("label_list_invalid", "labels.txt")]


@pytest.mark.parametrize("kwargs, message", [
    ({"format": "yolo"}, "format 'yolo' is not one of"),
    ({"format": "voc", "imbalance_ratio": 0.5}, "imbalance_ratio 0.5"),
    ({"format": "coco"}, "has none of train.json"),
])
def test_bad_arguments_are_clear_errors(tmp_path, kwargs, message):
    with pytest.raises(DatasetError, match=message):
        check(tmp_path, **kwargs)


# --- the command, its exit status, the report -----------------------------------------

def test_the_command_exits_1_on_errors_and_writes_a_self_contained_report(bad_voc, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["check-dataset", str(bad_voc), "--format", "voc", "--report", str(out),
                 "--fix", str(tmp_path / "fixed")]) == 1
    printed = capsys.readouterr().out
    assert re.search(r"train_list\.txt, line 3: image .* does not exist \[image_missing\]", printed)
    assert "12 errors, 3 warnings" in printed
    page = (out / "report.html").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["errors"] == 12 and summary["warnings"] == 3 and len(summary["fixes"]) == 15
    assert summary["splits"]["train"]["per_class"] == {"cat": 1, "dog": 2}
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    assert not re.search(r"(?i)https?:|//[a-z]|<script|<link|@import|url\(|src='[^']", text)  # nothing fetched
    sources = re.findall(r"src='([^']*)'", page)
    assert len(sources) == 4  # class histogram, box sizes, aspect ratios, samples
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        picture = cv2.imdecode(np.frombuffer(base64.b64decode(source.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
        assert picture is not None and picture.shape[1] >= 200
    assert "3.xml, object 1" in page and "box_zero_area" in page and "object 4 clipped" in page


def test_a_closed_pipe_keeps_the_exit_status(bad_voc):
    """`px check-dataset ... | head` closes the pipe early: the status still says errors."""
    env = {**os.environ, "GLOG_minloglevel": "2"}
    child = subprocess.Popen([sys.executable, "-m", "pxcore.cli", "check-dataset", str(bad_voc),
                              "--format", "voc"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env)
    child.stdout.close()  # the reader is gone before the first line
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 1, stderr.decode()[-2000:]
    assert b"BrokenPipeError" not in stderr


def test_only_warnings_exit_0(tmp_path):
    image(tmp_path / "JPEGImages/1.jpg")
    voc_xml(tmp_path / "Annotations/1.xml", [("cat", (-2, 1, 10, 10))])  # clipped: a warning
    (tmp_path / "labels.txt").write_text("cat\n")
    (tmp_path / "train_list.txt").write_text("JPEGImages/1.jpg Annotations/1.xml\n")
    assert main(["check-dataset", str(tmp_path), "--format", "voc"]) == 0
    assert [f.code for f in check(tmp_path, "voc").findings] == ["box_out_of_image"]


def test_the_report_of_a_segmentation_set_shows_pixel_shares(shapes, tmp_path):
    result = check(shapes, "seg", ["seg_val_list.txt"], label_list=shapes / "seg_labels.txt")
    page, data = write_report(result, tmp_path / "r", samples=3)
    text = page.read_text()
    assert "Pixel share per class" in text and text.count("data:image/png;base64,") == 3
    assert abs(sum(json.loads(data.read_text())["pixel_share"].values()) - 1) < 1e-9  # shares of one total
    assert render_html(result, samples=0).count("<img") == 2  # no sample grid asked for


def test_html_escapes_what_the_files_say(tmp_path):
    image(tmp_path / "JPEGImages/1.jpg")
    voc_xml(tmp_path / "Annotations/1.xml", [("&lt;script&gt;x", (1, 1, 5, 5))])
    (tmp_path / "labels.txt").write_text("cat\n")
    (tmp_path / "train_list.txt").write_text("JPEGImages/1.jpg Annotations/1.xml\n")
    page = render_html(check(tmp_path, "voc"), samples=0)
    assert "<script" not in page and "&lt;script&gt;" in page


def test_checking_imports_no_paddle(bad_voc, tmp_path):
    """The whole command, report and fix included, in a fresh interpreter."""
    code = ("import sys\nfrom pxcore.cli import main\n"
            "rc = main(['check-dataset', sys.argv[1], '--format', 'voc', '--report', sys.argv[2] + '/r', "
            "'--fix', sys.argv[2] + '/f'])\n"
            "print(rc, sorted(m for m in sys.modules if m.split('.')[0] == 'paddle'))")
    result = subprocess.run([sys.executable, "-c", code, str(bad_voc), str(tmp_path)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "1 []"
    assert (tmp_path / "r/report.html").is_file() and (tmp_path / "f/fixes.log").is_file()


def test_voc_xml_written_by_fix_is_plain_voc(bad_voc, tmp_path):
    write_fixed(check(bad_voc, "voc"), tmp_path / "f")
    root = ET.parse(tmp_path / "f/Annotations/3.xml").getroot()
    assert [o.findtext("name") for o in root.iter("object")] == ["dog", "dog"]


def test_devices_and_decompression_bombs_are_findings_at_once(tmp_path):
    """A device would be read for ever and a PNG header may claim 4.9 gigapixels: both are
    refused before reading or decoding (the watchdog-free bound: this test's own time)."""
    from test_fuzz_inputs import png_with_header

    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    (tmp_path / "huge.png").write_bytes(png_with_header(70000, 70000, 8, 0, b""))
    (tmp_path / "labels.txt").write_text("a\n")
    (tmp_path / "train_list.txt").write_text("/dev/zero 0\nhuge.png 0\n")
    result = check(tmp_path, "imagenet")
    assert found(result) - {("class_empty", "labels.txt", None, None)} == {
        ("image_unreadable", "train_list.txt", 1, None), ("image_unreadable", "train_list.txt", 2, None)}
    assert "'/dev/zero' is not a file" in result.findings[0].message
    assert "huge.png' cannot be decoded" in result.findings[1].message


def test_the_command_takes_file_lists_relative_to_the_folder(shapes, capsys):
    assert main(["check-dataset", str(shapes), "--format", "coco", "--file-list", "annotations/val.json"]) == 0
    out = capsys.readouterr().out
    assert "val    " in out and "annotations/val.json" in out and "0 errors, 0 warnings" in out
