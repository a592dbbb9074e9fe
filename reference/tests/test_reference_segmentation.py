"""Every semantic segmentation zoo row against PaddleX 1.3's static network
(reference/segmentation.py)."""

from __future__ import annotations

import pytest

from reference.harness import TOLERANCE
from reference.rows import rows_for
from reference.segmentation import check

pytestmark = pytest.mark.reference


@pytest.mark.parametrize("row", rows_for("segmentation"), ids=lambda row: row.id)
def test_logits_equal_paddlex(row, measured):
    differences = check(row.model, row.num_classes)
    measured(differences)
    failing = {how: d for how, d in differences.items() if not d < TOLERANCE}
    assert not failing, (f"{row.id}: pxcore's logits differ from PaddleX 1.3's program by {failing} "
                         f"(max relative difference; tolerance {TOLERANCE})")
