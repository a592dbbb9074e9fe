"""Detection data: the generated shapes set, VOC and COCO loaders that agree on it,
annotation errors that name the file, LabelMe conversion and split-dataset."""

from __future__ import annotations

import base64
import json
import shutil

import cv2
import numpy as np
import pytest

from pxcore.cli import main
from pxcore.datasets import (
    CocoDetection,
    DatasetError,
    VOCDetection,
    coco_to_voc,
    convert_labelme,
    make_shapes,
    voc_to_coco,
)

CLASSES = ("circle", "square", "triangle")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return make_shapes(tmp_path_factory.mktemp("shapes"), num_images=20, image_size=(64, 80),
                       seed=3, val=0.25, test=0.25)


def voc(root, split="train"):
    return VOCDetection(root, root / f"{split}_list.txt", root / "labels.txt")


def by_path(dataset):
    return {s["im_path"]: s for s in (dataset.load(i) for i in range(len(dataset)))}


def test_make_shapes_writes_every_format_deterministically(tmp_path, shapes):
    a = make_shapes(tmp_path / "a", num_images=4, image_size=48, seed=7)
    b = make_shapes(tmp_path / "b", num_images=4, image_size=48, seed=7)
    c = make_shapes(tmp_path / "c", num_images=4, image_size=48, seed=8)
    files = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert (a / "JPEGImages/0000.jpg").read_bytes() != (c / "JPEGImages/0000.jpg").read_bytes()

    assert (shapes / "labels.txt").read_text().split() == list(CLASSES)
    assert (shapes / "seg_labels.txt").read_text().split() == ["background", *CLASSES]
    lists = {s: (shapes / f"{s}_list.txt").read_text().split("\n")[:-1] for s in ("train", "val", "test")}
    assert [len(v) for v in lists.values()] == [10, 5, 5]
    assert len(set(sum(lists.values(), []))) == 20
    seg_val = (shapes / "seg_val_list.txt").read_text().split()
    assert seg_val[0] == lists["val"][0].split()[0] and seg_val[1].startswith("SegmentationClass/")
    image = cv2.imread(str(shapes / "JPEGImages/0000.jpg"))
    assert image.shape == (64, 80, 3) and image.std() > 10  # a real photo behind the shapes
    for sample in by_path(voc(shapes, "val")).values():
        mask = cv2.imread(sample["im_path"].replace("JPEGImages", "SegmentationClass")
                          .replace(".jpg", ".png"), cv2.IMREAD_UNCHANGED)
        assert mask.dtype == np.uint8 and mask.shape == (64, 80) and mask.max() <= len(CLASSES)
        for (x1, y1, x2, y2), cls in zip(sample["gt_bbox"].astype(int), sample["gt_class"], strict=True):
            assert 0.2 * 64 <= max(x2 - x1, y2 - y1) <= 0.5 * 64 + 2  # 20-50% of the side
            assert (mask[y1:y2, x1:x2] == cls + 1).any()


def test_voc_and_coco_load_the_same_samples(shapes):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    for split in ("train", "val", "test"):
        v, c = voc(shapes, split), CocoDetection(shapes, shapes / f"annotations/{split}.json")
        assert v.task == c.task == "detection" and v.labels == c.labels == list(CLASSES)
        vs, cs = by_path(v), by_path(c)
        assert vs.keys() == cs.keys()
        for path, a in vs.items():
            b = cs[path]
            np.testing.assert_array_equal(a["gt_bbox"], b["gt_bbox"])
            np.testing.assert_array_equal(a["gt_class"], b["gt_class"])
            assert "gt_poly" not in a and len(b["gt_poly"]) == len(b["gt_bbox"])
    sample = next(iter(vs.values()))
    assert sample["image"].shape == (64, 80, 3) and sample["image"].dtype == np.uint8
    assert sample["im_shape"].tolist() == [64, 80] and sample["scale_factor"].tolist() == [1, 1]
    assert sample["im_shape"].dtype == sample["scale_factor"].dtype == sample["gt_bbox"].dtype == np.float32
    assert {sample[k].dtype for k in ("gt_class", "is_crowd", "difficult")} == {np.dtype(np.int32)}
    poly = next(iter(cs.values()))["gt_poly"][0]
    assert isinstance(poly, list) and len(poly[0]) % 2 == 0 and len(poly[0]) >= 6

    gt = COCO()
    gt.dataset = v.to_coco()
    gt.createIndex()
    assert sorted(gt.getImgIds()) == sorted(s["im_id"] for s in vs.values())
    assert [c["id"] for c in gt.loadCats(gt.getCatIds())] == [1, 2, 3]
    detections = [{"image_id": s["im_id"], "category_id": int(k) + 1, "score": 1.0,
                   "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]}
                  for s in vs.values() for (x1, y1, x2, y2), k in zip(s["gt_bbox"], s["gt_class"], strict=True)]
    evaluator = COCOeval(gt, gt.loadRes(detections), "bbox")
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    assert evaluator.stats[0] == pytest.approx(1.0)  # the ground truth scores itself perfectly


def test_voc_coco_converters_round_trip(tmp_path, shapes):
    original = voc(shapes, "val")
    out = voc_to_coco(shapes, tmp_path / "val.json", file_list="val_list.txt")
    coco = CocoDetection(shapes, out)
    back = VOCDetection(coco_to_voc(coco, tmp_path / "voc", list_name="val_list.txt"),
                        tmp_path / "voc/val_list.txt", tmp_path / "voc/labels.txt")
    want = {s["im_path"].rsplit("/", 1)[1]: s for s in by_path(original).values()}
    for converted in (coco, back):
        got = {s["im_path"].rsplit("/", 1)[1]: s for s in by_path(converted).values()}
        assert got.keys() == want.keys()
        for name, sample in want.items():
            np.testing.assert_array_equal(got[name]["gt_bbox"], sample["gt_bbox"])
            np.testing.assert_array_equal(got[name]["gt_class"], sample["gt_class"])


def write_voc(root, objects_xml, name="a", size="<size><width>40</width><height>30</height></size>"):
    (root / "JPEGImages").mkdir(exist_ok=True)
    (root / "Annotations").mkdir(exist_ok=True)
    cv2.imwrite(str(root / f"JPEGImages/{name}.jpg"), np.zeros((30, 40, 3), np.uint8))
    (root / f"Annotations/{name}.xml").write_text(f"<annotation>{size}{objects_xml}</annotation>")
    (root / "labels.txt").write_text("cat\ndog\n")
    (root / "list.txt").write_text(f"\nJPEGImages/{name}.jpg Annotations/{name}.xml\n")
    return root


def obj(name="cat", box=(1, 2, 30, 25), extra=""):
    coords = "".join(f"<{t}>{v}</{t}>" for t, v in zip(("xmin", "ymin", "xmax", "ymax"), box, strict=True))
    return f"<object><name>{name}</name>{extra}<bndbox>{coords}</bndbox></object>"


def load_voc(root):
    return VOCDetection(root, root / "list.txt", root / "labels.txt")


def test_voc_parses_clips_and_keeps_negatives(tmp_path):
    root = write_voc(tmp_path, obj() + obj("dog", (-5, 3, 99, 20), "<difficult>1</difficult>"))
    sample = load_voc(root).load(0)
    assert sample["gt_bbox"].tolist() == [[1, 2, 30, 25], [0, 3, 40, 20]]  # clipped to 40x30
    assert sample["gt_class"].tolist() == [0, 1] and sample["difficult"].tolist() == [0, 1]
    assert sample["im_id"] == 1 and load_voc(root).to_coco()["annotations"][1]["ignore"] == 1

    negative = load_voc(write_voc(tmp_path, "", size=""))  # no objects, no size: read from the image
    assert negative.num_negatives == 1 and negative.load(0)["gt_bbox"].shape == (0, 4)
    assert "without objects" in repr(negative)


@pytest.mark.parametrize("objects, message", [
    (obj("bird"), r"a\.xml .*line 2.*object 1.*'bird' is not in the label list"),
    (obj() + obj(box=(1, 2, "x", 4)), r"object 2.*<xmax> 'x' is not a number"),
    ("<object><name>cat</name></object>", r"object 1.*<bndbox> is missing"),
    (obj(box=(1, 2, 3, 4)).replace("<ymax>4</ymax>", ""), r"<ymax> is missing"),
    (obj(box=(30, 2, 10, 20)), r"object 1.*empty once clipped"),
    (obj(box=(45, 2, 50, 20)), r"empty once clipped to the 40x30 image"),
    ("<object><name>cat</name>", r"a\.xml.*not well-formed XML"),
])
def test_voc_annotation_errors_name_the_file_and_object(tmp_path, objects, message):
    root = write_voc(tmp_path, objects)
    with pytest.raises(DatasetError, match=message):
        load_voc(root)


@pytest.mark.parametrize("doctype", [
    '<!DOCTYPE a [<!ENTITY x "xx"><!ENTITY y "&x;&x;&x;&x;&x;&x;&x;&x;">]>',
    '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
])
def test_voc_refuses_entity_declarations(tmp_path, doctype):
    root = write_voc(tmp_path, obj("&y;" if "ENTITY y" in doctype else "&x;"))
    xml = root / "Annotations/a.xml"
    xml.write_text('<?xml version="1.0"?>' + doctype + xml.read_text())
    with pytest.raises(DatasetError, match=r"a\.xml.*declares a DOCTYPE"):
        load_voc(root)


def test_voc_file_list_errors(tmp_path):
    root = write_voc(tmp_path, obj())
    (root / "list.txt").write_text("JPEGImages/a.jpg Annotations/a.xml\nJPEGImages/my a.jpg Annotations/a.xml\n")
    with pytest.raises(DatasetError, match=r"list\.txt, line 2: .*two paths without spaces"):
        load_voc(root)
    (root / "list.txt").write_text("JPEGImages/b.jpg Annotations/a.xml\n")
    with pytest.raises(DatasetError, match=r"line 1: image .*b\.jpg' does not exist"):
        load_voc(root)


def write_coco(root, **change):
    cv2.imwrite(str(root / "a.jpg"), np.zeros((30, 40, 3), np.uint8))
    coco = {"images": [{"id": 7, "file_name": "a.jpg", "width": 40, "height": 30}],
            "annotations": [{"id": 11, "image_id": 7, "category_id": 5, "bbox": [1, 2, 10, 20],
                             "iscrowd": 0, "segmentation": [[1, 2, 11, 2, 11, 22]]},
                            {"id": 12, "image_id": 7, "category_id": 2, "bbox": [5, 5, 0, 4]}],
            "categories": [{"id": 5, "name": "dog"}, {"id": 2, "name": "cat"}]}
    for key, value in change.items():
        coco[key] = value(coco[key])
    (root / "ann.json").write_text(json.dumps(coco))
    return CocoDetection(root, root / "ann.json")


def test_coco_maps_categories_to_contiguous_classes(tmp_path):
    dataset = write_coco(tmp_path)
    assert dataset.labels == ["cat", "dog"] and dataset.category_ids == [2, 5]
    sample = dataset.load(0)  # the zero-width box is skipped
    assert sample["im_id"] == 7 and sample["gt_class"].tolist() == [1]
    assert sample["gt_bbox"].tolist() == [[1, 2, 11, 22]] and sample["gt_poly"] == [[[1, 2, 11, 2, 11, 22]]]
    coco = dataset.to_coco()
    assert coco["annotations"][0]["category_id"] == 2 and coco["images"][0]["id"] == 7
    assert [c["name"] for c in coco["categories"]] == ["cat", "dog"]


@pytest.mark.parametrize("change, message", [
    ({"annotations": lambda a: [{**a[0], "category_id": 3}]}, r"annotation id 11 .*category_id 3 is not in"),
    ({"annotations": lambda a: [{**a[0], "bbox": [1, 2, 3]}]}, r"annotation id 11 .*bbox .* 4 numbers"),
    ({"annotations": lambda a: [{**a[0], "bbox": [1, 2, "3", 4]}]}, r"annotation id 11 .*4 numbers"),
    ({"annotations": lambda a: [{"id": 4, "image_id": 7, "bbox": [1, 2, 3, 4]}]},
     r"annotations\[0\] \(id 4\) lacks \['category_id'\]"),
    ({"annotations": lambda a: [{**a[0], "image_id": 8}]}, r"annotation id 11.*no image has id 8"),
    ({"images": lambda i: [{**i[0], "file_name": "b.jpg"}]}, r"image id 7 \('b\.jpg'\).*does not exist"),
    ({"categories": lambda c: None}, r"'categories' is missing or not a list"),
])
def test_coco_errors_name_the_annotation_or_image(tmp_path, change, message):
    with pytest.raises(DatasetError, match=message):
        write_coco(tmp_path, **change)


def write_labelme(src):
    """Two LabelMe files: one beside its PNG, one with its JPEG embedded."""
    src.mkdir()
    cv2.imwrite(str(src / "one.png"), np.full((40, 50, 3), 90, np.uint8))
    ok, jpeg = cv2.imencode(".jpg", np.full((30, 20, 3), 200, np.uint8))
    files = {
        "one": {"imagePath": "one.png", "imageHeight": 40, "imageWidth": 50, "imageData": None,
                "shapes": [{"label": "cat", "shape_type": "rectangle", "points": [[30, 25], [5, 4]]},
                           {"label": "dog", "shape_type": "polygon", "points": [[10, 10], [40, 10], [40, 60]]}]},
        "two": {"imagePath": "gone.jpg", "imageHeight": 30, "imageWidth": 20,
                "imageData": base64.b64encode(jpeg.tobytes()).decode(),
                "shapes": [{"label": "dog", "points": [[2, 2], [10, 2], [10, 12], [2, 12]]}]},
    }
    for name, data in files.items():
        (src / f"{name}.json").write_text(json.dumps(data))
    return src


def test_labelme_to_voc_coco_and_seg(tmp_path):
    src = write_labelme(tmp_path / "labelme")
    dst = convert_labelme(src, tmp_path / "voc", "voc")
    assert (dst / "labels.txt").read_text().split() == ["cat", "dog"]
    assert sorted(p.name for p in (dst / "JPEGImages").iterdir()) == ["one.png", "two.jpg"]
    (dst / "list.txt").write_text("JPEGImages/one.png Annotations/one.xml\nJPEGImages/two.jpg Annotations/two.xml\n")
    one, two = (load_voc(dst).load(i) for i in range(2))
    assert one["gt_bbox"].tolist() == [[5, 4, 30, 25], [10, 10, 40, 40]]  # polygon clipped to 50x40
    assert one["gt_class"].tolist() == [0, 1] and two["gt_bbox"].tolist() == [[2, 2, 10, 12]]

    dst = convert_labelme(src, tmp_path / "coco", "coco")
    coco = CocoDetection(dst, dst / "annotations.json")
    sample = coco.load(0)
    assert sample["gt_bbox"].tolist() == one["gt_bbox"].tolist()
    assert sample["gt_poly"][0] == [[5, 4, 30, 4, 30, 25, 5, 25]]  # the rectangle as a polygon
    assert coco.load(1)["image"].shape == (30, 20, 3)

    dst = convert_labelme(src, tmp_path / "seg", "seg")
    assert (dst / "labels.txt").read_text().split() == ["background", "cat", "dog"]
    mask = cv2.imread(str(dst / "Annotations/one.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (40, 50) and set(np.unique(mask)) == {0, 1, 2}
    assert mask[5, 6] == 1 and mask[12, 20] == 2 and mask[35, 5] == 0  # the dog is drawn last


@pytest.mark.parametrize("shape, data, message", [
    ({"label": "cat", "shape_type": "circle", "points": [[1, 1], [5, 5]]}, {},
     r"one\.json.*shape 1 \('cat', circle\).*'circle' is not supported"),
    ({"label": "cat", "shape_type": "polygon", "points": [[1, 1], [5, 5]]}, {}, r"at least 3 points"),
    ({"label": "cat", "shape_type": "rectangle", "points": [[1, 1], ["a", 5]]}, {}, r"'points' should be"),
    ({"label": "", "points": [[1, 1], [5, 5], [1, 5]]}, {}, r"shape 1: .*non-empty 'label'"),
    (None, {"imagePath": "gone.png"}, r"one\.json.*'gone\.png' not found"),
    (None, {"imageHeight": 41}, r"one\.json' says the image is 50x41 but it is 50x40"),
])
def test_labelme_errors_name_the_file_and_shape(tmp_path, shape, data, message):
    src = write_labelme(tmp_path / "labelme")
    (src / "two.json").unlink()
    one = json.loads((src / "one.json").read_text())
    one.update(data)
    if shape is not None:
        one["shapes"] = [shape]
    (src / "one.json").write_text(json.dumps(one))
    with pytest.raises(DatasetError, match=message):
        convert_labelme(src, tmp_path / "out", "voc")
    (src / "one.json").write_text("{not json")
    with pytest.raises(DatasetError, match=r"one\.json' is not valid JSON"):
        convert_labelme(src, tmp_path / "out", "coco")


def test_cli_convert_and_split_voc_coco_seg(tmp_path, shapes, capsys):
    src = write_labelme(tmp_path / "labelme")
    assert main(["convert", "--from", "labelme", "--to", "seg", str(src), str(tmp_path / "seg")]) == 0
    assert "px split-dataset --format seg" in capsys.readouterr().out
    assert main(["split-dataset", "--format", "seg", str(tmp_path / "seg"), "--val", "0.5"]) == 0
    lines = sorted((tmp_path / "seg/train_list.txt").read_text().split("\n")[:-1]
                   + (tmp_path / "seg/val_list.txt").read_text().split("\n")[:-1])
    assert lines == ["JPEGImages/one.png Annotations/one.png", "JPEGImages/two.jpg Annotations/two.png"]
    assert main(["convert", "--from", "labelme", "--to", "voc", str(tmp_path / "nowhere"), str(tmp_path / "x")]) == 1
    assert "nowhere' is not a directory" in capsys.readouterr().err

    root = tmp_path / "voc"
    shutil.copytree(shapes / "JPEGImages", root / "JPEGImages")
    shutil.copytree(shapes / "Annotations", root / "Annotations")
    assert main(["split-dataset", "--format", "voc", str(root), "--val", "0.2", "--test", "0.1"]) == 0
    assert "val    " in capsys.readouterr().out
    assert (root / "labels.txt").read_text().split() == list(CLASSES)
    splits = [voc(root, s) for s in ("train", "val", "test")]
    assert [len(s) for s in splits] == [14, 4, 2]
    assert len({p for s in splits for p in by_path(s)}) == 20

    root = tmp_path / "coco"
    shutil.copytree(shapes / "JPEGImages", root / "JPEGImages")
    whole = {"images": [], "annotations": [], "categories": []}
    for split in ("train", "val", "test"):
        part = json.loads((shapes / f"annotations/{split}.json").read_text())
        whole = {k: whole[k] + part[k] if k != "categories" else part[k] for k in whole}
    (root / "annotations.json").write_text(json.dumps(whole))
    assert main(["split-dataset", "--format", "coco", str(root), "--val", "0.3"]) == 0
    assert "(6 images)" in capsys.readouterr().out
    parts = [CocoDetection(root, root / f"{s}.json") for s in ("train", "val")]
    ids = [{r.im_id for r in p.samples} for p in parts]
    assert len(ids[0]) == 14 and len(ids[1]) == 6 and not ids[0] & ids[1]
    assert sum(len(r.boxes) for p in parts for r in p.samples) == len(whole["annotations"])
    assert not (root / "test.json").exists()
