"""The HRNet R-CNN rows against the reference code: PaddleX 1.3's test-time Faster R-CNN
with its HRNet backbone and HRFPN (paddlex/cv/nets/hrnet.py, detection/fpn.py's HRFPN),
run as test_rcnn_reference.py runs the ResNet rows (reference/fluid.py's ``paddle.fluid``
stand-in, Paddle's own 1.x operators), given random weights by
variable name; pxcore loads the same tensors as a user loads the zoo's archive.

Paddle 1.x code upsampled in two places where PaddleDetection 2.x, pxcore's default,
does otherwise: HRFPN joined the branches with fluid ``resize_bilinear`` to the finest
branch's size, corners aligned (its default), and the backbone's fusions used
``resize_nearest(scale=2**k)``: PaddleX 1.3 with ``align_corners=False`` (repetition),
PaddleDetection 0.5, which trained the zoo's FasterRCNN-HRNet_W18-FPN archive, with
fluid's default ``align_corners=True``. PaddleDetection 0.5's hrnet.py
(static/ppdet/modeling/backbones/hrnet.py, release/0.5) is PaddleX 1.3's detection HRNet
but for that call, and it is not on PyPI, so its network is PaddleX 1.3's with that one
call made as 0.5 makes it (``_paddledetection_05_fusions``); both rows' HRFPN is the
same code. Checked, for each code against the row whose archive it trained:

- the pyramid's five levels (backbone + HRFPN), the proposals and the detections
  (class, score, box) equal the reference's, from the archive as the row's
  ``legacy_args`` build it (PaddleX 1.3's fusions: the Mask row's backbone_args);
- built with PaddleDetection 2.x's upsampling (``backbone_args`` and ``neck_args`` left
  at their defaults) the pyramid differs from either code's, and the fusions' option
  alone matters too.

Tolerance: max |difference| relative to the largest value < 1e-4 per pyramid level, on
proposals, and on boxes and scores: the same float32 network (about 300 convs, batch
norms calibrated on the image, so every layer stays near unit scale) computed in other
summation orders, static program against dygraph; the post-processing compares and
does float32 arithmetic on the same values. Measured (2026-12-06): the pyramid 5e-7,
proposals 2e-7, 100 detections each 2e-7 apart, for either code.

Needs PaddleX 1.3.11's code: ``python -m reference.install paddlex`` (skips, saying so,
without it). Each network runs in its own process: the static program needs
FLAGS_enable_pir_api=0 set before Paddle starts.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_rcnn_reference import _order, _tool, build_archive, pxcore_detect, reference_detect

from pxcore.testing import pytest_plugin as kit
from reference import fluid
from reference.harness import TOLERANCE, relative_difference
from reference.tools import LEGACY_STATIC, run_in_child

pytestmark = [pytest.mark.reference, pytest.mark.slow]

FASTER, MASK = "FasterRCNN-HRNet_W18-FPN", "MaskRCNN-HRNet_W18-FPN"
# 2.x's upsampling in pxcore, the 0.x box conventions kept
LATER_UPSAMPLING = {"backbone_args": {}, "neck_args": {}}


def _paddledetection_05_fusions() -> None:
    """The stand-in's ``resize_nearest`` taking fluid's default ``align_corners=True``
    whatever the caller passes: PaddleDetection 0.5's fusions call
    ``resize_nearest(input=y, scale=2**(j - i))``, PaddleX 1.3's the same with
    ``align_corners=False``. Nothing else in this network calls it (HRFPN resizes
    bilinearly)."""
    import paddle

    layers = paddle.fluid.layers
    resize = layers.resize_nearest

    def resize_nearest(*args, align_corners=True, **kwargs):
        return resize(*args, **kwargs)

    layers.resize_nearest = resize_nearest


def pxcore_run(arch: str, folder: str, image: np.ndarray, overrides: dict) -> dict:
    """pxcore built from the archive ``folder``: its pyramid's levels, proposals and
    detections (test_rcnn_reference's ``pxcore_detect``)."""
    import paddle

    import pxcore

    model = pxcore.create_model(arch, num_classes=80, pretrained=folder, **overrides)
    model.net.eval()
    with paddle.no_grad():
        features = [f.numpy() for f in model.net._features(paddle.to_tensor(image))]
    return {**pxcore_detect(arch, folder, image, None, overrides), "features": features}


def reference_run(root: str, arch: str, archive: dict, image: np.ndarray, paddledetection_05: bool) -> dict:
    """In a process with FLAGS_enable_pir_api=0: PaddleX 1.3's test-time network
    (``reference_detect``) and its pyramid's levels (the layouts tool's ``run_static``),
    with PaddleDetection 0.5's fusions if asked."""
    tool = _tool()
    install = fluid.install

    def install_stand_in(**options):
        stand_in = install(**options)
        if paddledetection_05:
            _paddledetection_05_fusions()
        return stand_in

    fluid.install = install_stand_in  # this process's: both networks below install it
    detected = reference_detect(root, arch, archive, image, None)
    net = tool._describe(arch)
    row = tool.Row("paddlex", "paddlex/cv/models/faster_rcnn.py", False, None)
    box_roi = np.zeros((1, 256, 7, 7), np.float32)  # the box head is not what this checks
    raw = tool.run_static("paddlex", root, row, net, "fluid", archive, {"image": image, "box_roi": box_roi})
    levels = len([k for k in raw["outputs"] if k.startswith("feature.")])
    return {**detected, "features": [raw["outputs"][f"feature.{i}"] for i in range(levels)]}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from pxcore import zoo
    from reference import require

    root = str(require("paddlex"))
    made = run_in_child(build_archive, FASTER)
    folder = kit.write_legacy_archive(tmp_path_factory.mktemp("faster_rcnn_hrnetv2p_w18_1x"),
                                      {name: name for name in made["archive"]}, made["archive"])
    paddlex_fusions = dict(next(e for e in zoo.catalog() if e.name == MASK).legacy_args)["backbone_args"]
    ours = {"paddledetection-0.5": run_in_child(pxcore_run, FASTER, str(folder), made["image"], {}),
            "paddlex-1.3": run_in_child(pxcore_run, FASTER, str(folder), made["image"],
                                        {"backbone_args": paddlex_fusions}),
            "later": run_in_child(pxcore_run, FASTER, str(folder), made["image"], LATER_UPSAMPLING)}
    theirs = {code: run_in_child(reference_run, root, FASTER, made["archive"], made["image"],
                                 code == "paddledetection-0.5", env=LEGACY_STATIC)
              for code in ("paddledetection-0.5", "paddlex-1.3")}
    return {"ours": ours, "theirs": theirs, "paddlex_fusions": paddlex_fusions}


CODES = ["paddledetection-0.5", "paddlex-1.3"]


def _feature_gap(ours: list, theirs: list) -> float:
    assert len(ours) == len(theirs) == 5  # P2..P6
    return max(relative_difference(a, b) for a, b in zip(ours, theirs, strict=True))


def test_the_archive_builds_the_rows_upsampling(runs):
    args = runs["ours"]["paddledetection-0.5"]["build_args"]
    assert args["backbone_args"] == {"fuse_upsample": "nearest_align_corners"}
    assert args["neck_args"] == {"upsample": "bilinear_align_corners"}
    assert (args["box_convention"], args["roi_align_sampling_ratio"]) == ("pixel", 2)
    assert runs["paddlex_fusions"] == {"fuse_upsample": "nearest"}
    for code in CODES:  # every variable of the program came from the archive
        assert runs["theirs"][code]["unset"] == []


@pytest.mark.parametrize("code", CODES)
def test_the_pyramid_equals_the_references(runs, code):
    gap = _feature_gap(runs["ours"][code]["features"], runs["theirs"][code]["features"])
    assert gap < TOLERANCE, f"{code}: the pyramid differs by {gap:.3g} relative"


@pytest.mark.parametrize("code", CODES)
def test_proposals_equal_the_references(runs, code):
    ours, theirs = runs["ours"][code]["rois"], runs["theirs"][code]["rois"]
    assert ours.shape == theirs.shape and len(theirs) > 10
    gap = relative_difference(ours, theirs)
    assert gap < TOLERANCE, f"{code}: proposals differ by {gap:.3g} relative"


@pytest.mark.parametrize("code", CODES)
def test_detections_equal_the_references(runs, code):
    ours, _ = _order(runs["ours"][code]["bbox"], background_first=False)
    theirs, _ = _order(runs["theirs"][code]["bbox"], background_first=True)
    assert len(theirs) >= 3, "too few detections to compare: raise the class scores in SCALES"
    assert ours.shape == theirs.shape, f"{len(ours)} detections, the reference {len(theirs)}"
    np.testing.assert_array_equal(ours[:, 0], theirs[:, 0])
    gap = relative_difference(ours[:, 1:], theirs[:, 1:])
    assert gap < TOLERANCE, f"{code}: detections differ by {gap:.3g} relative"


def test_the_later_upsampling_computes_something_else(runs):
    # Otherwise the checks above would pass without the options. Measured (2026-12-06):
    # 0.39 against 0.5's network, 0.27 against PaddleX 1.3's; the fusions alone 0.33.
    later = runs["ours"]["later"]["features"]
    for code in CODES:
        gap = _feature_gap(later, runs["theirs"][code]["features"])
        assert gap > 100 * TOLERANCE, f"{code}: 2.x's upsampling is only {gap:.3g} off"
    # and the fusions' option alone: 0.5's archive built with PaddleX 1.3's fusions
    gap = _feature_gap(runs["ours"]["paddlex-1.3"]["features"],
                       runs["theirs"]["paddledetection-0.5"]["features"])
    assert gap > 100 * TOLERANCE, f"the fusions' corners change only {gap:.3g}"
