"""Every YOLOv3 / PP-YOLO zoo row against PaddleDetection 2.6 (reference/yolov3.py)."""

from __future__ import annotations

import pytest

from reference.harness import TOLERANCE
from reference.rows import rows_for
from reference.yolov3 import check

pytestmark = pytest.mark.reference


@pytest.mark.parametrize("row", rows_for("yolov3"), ids=lambda row: row.id)
def test_head_maps_equal_paddledetection(row, measured):
    differences = check(row.model)
    measured(differences)
    failing = {how: d for how, d in differences.items() if not d < TOLERANCE}
    assert not failing, (f"{row.id}: pxcore's raw head maps differ from PaddleDetection 2.6's by "
                         f"{failing} (max relative difference; tolerance {TOLERANCE})")
