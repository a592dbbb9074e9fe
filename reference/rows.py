"""The zoo rows the reference checks run over, read from pxcore's catalog: each family's
check covers the rows whose model its map names (reference/tests/ parametrise over
``rows_for``), and reference/tests/test_reference_coverage.py fails for a row that no
check covers and ``UNCHECKED`` does not list with its reason."""

from __future__ import annotations

# Rows no check covers, with the reason. Empty: every row has one.
UNCHECKED: dict[str, str] = {}


def _families() -> dict[str, tuple[tuple[str, ...], object]]:
    """Family -> (the tasks of its rows, its map of zoo row model -> network)."""
    from . import classification, rcnn, segmentation, yolov3

    return {
        "classification": (("classification",), classification.NETWORKS),
        "yolov3": (("detection",), yolov3.networks()),
        "rcnn": (("detection", "instance_segmentation"), rcnn.networks()),
        "segmentation": (("semantic_segmentation",), segmentation.NETWORKS),
    }


def catalog() -> list:
    import pxcore

    return list(pxcore.zoo.catalog())


def covering(row) -> list[str]:
    """The families whose check covers ``row``."""
    return [family for family, (tasks, networks) in _families().items()
            if row.task in tasks and row.model in networks]


def rows_for(family: str) -> list:
    """The catalog's rows ``family``'s check covers, in catalog order."""
    tasks, networks = _families()[family]
    return [row for row in catalog() if row.task in tasks and row.model in networks]
