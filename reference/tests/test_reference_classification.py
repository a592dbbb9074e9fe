"""Every classification zoo row against PaddleClas 2.6 (reference/classification.py)."""

from __future__ import annotations

import pytest

from reference.classification import NETWORKS, check
from reference.harness import TOLERANCE
from reference.rows import rows_for

pytestmark = pytest.mark.reference


@pytest.mark.parametrize("row", rows_for("classification"), ids=lambda row: row.id)
def test_logits_equal_paddleclas(row, measured):
    differences = check(row.model)
    measured(differences)
    assert set(differences) >= {"by key"}
    failing = {how: d for how, d in differences.items() if not d < TOLERANCE}
    assert not failing, (f"{row.id}: pxcore's logits differ from PaddleClas 2.6 "
                         f"{NETWORKS[row.model].factory}'s by {failing} (max relative difference; "
                         f"tolerance {TOLERANCE})")


def test_a_swapped_tensor_fails():
    """The measure sees one misplaced tensor deep in a network: ResNet18's last block's
    batch-norm mean and variance exchanged (same shape, so loading accepts it)."""
    mean, variance = "blocks.7.conv1.bn._mean", "blocks.7.conv1.bn._variance"
    assert check("ResNet18", swap=(mean, variance))["by key"] > 100 * TOLERANCE
