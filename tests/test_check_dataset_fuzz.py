# ruff: noqa: F811 - the fuzz module's fixtures are imported, then named as test arguments
"""The hostile inputs of test_fuzz_inputs.py (its hypothesis strategies and files) run
through ``check``, ``write_fixed`` and ``write_report``. Properties, per example:

- the checker never raises, and answers within the watchdog and hypothesis' deadline;
- its summary is plain JSON, and the report and a fixed copy can be written;
- where it finds no error, the loader loads every sample (the check is not laxer than
  loading);
- the fixed copy has no error when checked again, other than lists left empty and
  errors of the whole file that were there before (a COCO file without categories).
"""

from __future__ import annotations

import collections
import json
import shutil
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz_inputs import (  # noqa: F401 - fixtures are used by name
    IMAGE_TOKENS,
    LABEL_TOKENS,
    VALID_COCO,
    VALID_XML,
    coco_dir,
    coco_docs,
    coco_tree_mutations,
    list_text,
    lists_dir,
    mutated,
    voc_dir,
    voc_xml,
    watchdog,
)

from pxcore.datasets import CocoDetection, ImageNet, SegDataset, VOCDetection, check
from pxcore.datasets.check_fix import write_fixed
from pxcore.datasets.check_report import render_html

EXAMPLES = 100  # per property: each runs check, fix, a re-check and the report
RUN: collections.Counter = collections.Counter()  # examples per format
LOADED: collections.Counter = collections.Counter()  # ... found clean and so loaded
pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning:PIL"),
              pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")]


def fuzz():
    return settings(max_examples=EXAMPLES, derandomize=True, database=None,
                    deadline=timedelta(seconds=10), print_blob=False,
                    suppress_health_check=list(HealthCheck))


def through_the_checker(data_dir, format, source, load, tmp, label_list=None):
    """Check, report, fix and re-check; ``load()`` must succeed when nothing is wrong."""
    with watchdog(f"check {format}"):
        result = check(data_dir, format, [source], label_list)
        json.dumps(result.summary(), allow_nan=False)
        assert all(f.severity in ("error", "warning") and f.file for f in result.findings)
        assert "<img" in render_html(result, samples=1) or not result.labels
        RUN[format] += 1
        if not result.errors:
            load()
            LOADED[format] += 1
        dst = tmp / "fixed"
        shutil.rmtree(dst, ignore_errors=True)
        write_fixed(result, dst)
        if not (dst / source.name).exists():  # not written: the file itself is unreadable
            assert {(f.file, f.code) for f in result.errors} & {
                (str(source), "list_unreadable"), (str(source), "annotation_invalid")}
            return
        again = check(dst, format, [dst / source.name], dst / "labels.txt" if label_list else None)
        # what no dropping or clipping mends: a list left empty, a COCO file with no category
        whole_file = {f.code for f in result.errors if f.file == str(source) and not (f.line or f.item)}
        left = {f.code for f in again.errors} - {"list_empty"} - whole_file
        assert not left, [str(f) for f in again.errors]


def load_all(dataset_type, *args):
    def load():
        dataset = dataset_type(*args)
        for index in range(len(dataset)):
            dataset.load(index)
    return load


@fuzz()
@given(data=st.data())
def test_imagenet_lists_through_the_checker(lists_dir, tmp_path_factory, data):
    labels = st.one_of(st.integers(-3, 5).map(str), st.text(max_size=4), st.sampled_from(["+1", "9" * 50]))
    path = lists_dir / "check_list.txt"
    path.write_bytes(list_text(data.draw, IMAGE_TOKENS, labels, ["a.png 0", "b c.png 2", "gray.png 1", ""]))
    through_the_checker(lists_dir, "imagenet", path,
                        load_all(ImageNet, lists_dir, path, lists_dir / "labels.txt"),
                        tmp_path_factory.getbasetemp(), lists_dir / "labels.txt")


@fuzz()
@given(data=st.data())
def test_segmentation_lists_through_the_checker(lists_dir, tmp_path_factory, data):
    path = lists_dir / "check_seg.txt"
    path.write_bytes(list_text(data.draw, LABEL_TOKENS + IMAGE_TOKENS,
                               st.sampled_from(IMAGE_TOKENS) | st.text(max_size=8),
                               ["a.png lab.png", "gray.png lab.png", ""]))
    through_the_checker(lists_dir, "seg", path, load_all(SegDataset, lists_dir, path, lists_dir / "labels.txt"),
                        tmp_path_factory.getbasetemp(), lists_dir / "labels.txt")


@fuzz()
@given(xml=voc_xml() | mutated([VALID_XML.encode()]) | st.binary(max_size=200))
def test_voc_annotations_through_the_checker(voc_dir, tmp_path_factory, xml):
    (voc_dir / "Annotations/a.xml").write_bytes(xml)
    through_the_checker(voc_dir, "voc", voc_dir / "list.txt",
                        load_all(VOCDetection, voc_dir, voc_dir / "list.txt", voc_dir / "labels.txt"),
                        tmp_path_factory.getbasetemp(), voc_dir / "labels.txt")


@fuzz()
@given(text=st.builds(lambda d: json.dumps(d).encode(), coco_docs()) | coco_tree_mutations()
       | mutated([VALID_COCO.encode()]) | st.binary(max_size=200))
def test_coco_files_through_the_checker(coco_dir, tmp_path_factory, text):
    path = coco_dir / "check.json"
    path.write_bytes(text)
    through_the_checker(coco_dir, "coco", path, load_all(CocoDetection, coco_dir, path),
                        tmp_path_factory.getbasetemp())


def test_the_valid_fuzz_seeds_check_clean(voc_dir, coco_dir, tmp_path):
    """The strategies' starting points are clean, so the properties above are not
    vacuous: a clean file takes the loading branch."""
    (voc_dir / "Annotations/a.xml").write_text(VALID_XML)
    result = check(voc_dir, "voc", ["list.txt"])
    assert result.errors == [] and [f.code for f in result.findings] == ["class_empty"]  # no dog
    (coco_dir / "seed.json").write_text(VALID_COCO)
    result = check(coco_dir, "coco", ["seed.json"])
    assert result.errors == [] and result.per_class["seed"] == [1, 1]
    np.testing.assert_allclose(result.box_sizes, [(10, 12), (32, 24)])


def test_every_property_above_took_the_loading_branch():
    """Runs after the properties (file order); a property filtered out is not asked."""
    assert all(LOADED[f] for f in RUN), (RUN, LOADED)
