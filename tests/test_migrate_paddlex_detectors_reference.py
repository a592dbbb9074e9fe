"""PaddleX 2.1's own FasterRCNN, MaskRCNN and PPYOLO, built by its
``paddlex/cv/models/detector.py`` and saved by its ``BaseModel.save_model``
(``paddlex/cv/models/base.py``), loaded by ``pxcore.load_model``: the anchors and the
network's outputs equal PaddleX's (``reference/paddlex2_detectors.py`` says what runs and
what is compared). Needs PaddleX 2.1.0's code: ``python -m reference.install paddlex2``.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.reference, pytest.mark.uses_installed_plugins]

# (PaddleX class, its constructor's arguments, the pxcore model it must load as); each
# exercises one of PaddleX 2.1's rules that pxcore.migrate.detectors follows.
CASES = {
    # C4: one anchor level, whose zip keeps the first of the five default sizes (3 anchors)
    "FasterRCNN-ResNet50-C4": ("FasterRCNN", {"backbone": "ResNet50", "with_fpn": False},
                               "FasterRCNN-ResNet50"),
    # with_fpn=False is overridden for HRNet (HRFPN); ResNet50_vd_ssld is ResNet50_vd with FPN
    "FasterRCNN-HRNet_W18": ("FasterRCNN", {"backbone": "HRNet_W18", "with_fpn": False},
                             "FasterRCNN-HRNet_W18-FPN"),
    "MaskRCNN-ResNet50_vd_ssld": ("MaskRCNN", {"backbone": "ResNet50_vd_ssld", "with_fpn": False},
                                  "MaskRCNN-ResNet50_vd-FPN"),
    # C4 mask head on the box head's stage 5; one list of sizes shared by the level
    "MaskRCNN-ResNet50-C4": ("MaskRCNN", {"backbone": "ResNet50", "with_fpn": False,
                                          "anchor_sizes": [[64, 128]], "aspect_ratios": [1.0, 2.0]},
                             "MaskRCNN-ResNet50"),
    # CoordConv from -1 to -0.5, IoU-aware head, SPP, DropBlock
    "PPYOLO-ResNet50_vd_dcn": ("PPYOLO", {}, "PPYOLO"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_paddlex21_detector_dir_computes_paddlexs_outputs(case, tmp_path):
    from reference.harness import TOLERANCE
    from reference.paddlex2_detectors import check

    cls, params, name = CASES[case]
    result = check(cls, {"num_classes": 3, **params}, tmp_path / "saved")
    assert result.pop("name") == name
    # the reference checks' measure and tolerance: max |ours - theirs| / max |theirs|
    assert all(v < TOLERANCE for v in result.values()), (case, result)
