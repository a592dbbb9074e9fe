"""The zoo's Cityscapes HRNet_W18 against the reference code: PaddleX 1.3's static
program (``paddlex/cv/nets/segmentation/hrnet.py``, built by tools/make_seg_layouts.py on
reference/fluid.py's ``paddle.fluid`` stand-in), with random weights set by variable name.

- Loaded as the zoo's archive is (a Paddle 1.x per-variable directory, through
  ``create_model("HRNet_W18", pretrained=...)``, which picks the row's
  ``fuse_upsample="bilinear_align_corners"``), pxcore gives the logits of the program with
  the fusions' resizes corner-aligned: PaddleSeg's legacy HRNet, which trained the archive.
- Built with the preset's default (``fuse_upsample="bilinear"``), pxcore gives PaddleX 1.3's
  logits.

Tolerance: max |difference| / max |reference| < 1e-4. Both sides run the same float32
convolutions on oneDNN with different summation orders (one static program, one
dygraph), about 1e-6 apart per layer over some 80 layers; a wrong convention is far
off (0.81 apart with the same weights, tests/layouts/HRNet_W18_seg.json).

Needs PaddleX 1.3.11's code: ``python -m reference.install paddlex`` (skips, saying so,
without it). Each network runs in its own process: the static program needs
FLAGS_enable_pir_api=0 set before Paddle starts.
"""

from __future__ import annotations

import numpy as np
import pytest

from reference.harness import TOLERANCE, relative_difference
from reference.tools import LEGACY_STATIC, run_in_child
from reference.tools import tool as reference_tool

pytestmark = [pytest.mark.reference, pytest.mark.slow]

def _from_archive(folder: str, image: np.ndarray) -> dict:
    """In a fresh process: the zoo row built from a per-variable directory, as a user
    loads the zoo's archive, and its logits."""
    import paddle

    import pxcore

    model = pxcore.create_model("HRNet_W18", task="semantic_segmentation", pretrained=folder)
    model.net.eval()
    with paddle.no_grad():
        logits = model.net(paddle.to_tensor(image)).numpy()
    return {"fuse_upsample": model.build_args["fuse_upsample"], "logits": logits}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from reference import require

    root = str(require("paddlex"))
    tool = reference_tool("hrnet", "make_seg_layouts")
    default = run_in_child(tool.build, "bilinear")
    folder = tmp_path_factory.mktemp("hrnet_w18_bn_cityscapes")
    from pxcore.weights import write_legacy_tensor

    for name, value in default["archive"].items():
        write_legacy_tensor(folder / name, value)
    archived = run_in_child(_from_archive, str(folder), default["image"])
    static = {corners: run_in_child(tool.run_static, root, corners, default["archive"], default["image"],
                                    env=LEGACY_STATIC) for corners in (False, True)}
    return {"default": default, "archived": archived, "static": static, "tool": tool}


def test_the_program_is_the_one_pxcore_names(runs):
    shapes = {name: runs["default"]["shapes"][key] for name, key in runs["default"]["legacy"].items()}
    for run in runs["static"].values():
        assert run["variables"] == shapes
        assert run["fuse_resizes"] == runs["tool"].FUSE_RESIZES  # every fusion resize was seen
    assert np.isfinite(runs["static"][True]["logits"]).all()
    assert np.abs(runs["static"][True]["logits"]).max() > 1e-2  # not degenerate


def test_the_archive_computes_what_paddleseg_legacy_trained(runs):
    assert runs["archived"]["fuse_upsample"] == "bilinear_align_corners"
    gap = relative_difference(runs["archived"]["logits"], runs["static"][True]["logits"])
    assert gap < TOLERANCE, f"archive-built HRNet_W18 differs from the reference by {gap:.3g}"


def test_the_default_computes_what_paddlex_13_does(runs):
    gap = relative_difference(runs["default"]["logits"], runs["static"][False]["logits"])
    assert gap < TOLERANCE, f"default HRNet_W18 differs from PaddleX 1.3 by {gap:.3g}"


def test_the_two_conventions_are_told_apart(runs):
    # Otherwise the two checks above could pass with either convention.
    assert relative_difference(runs["static"][True]["logits"], runs["static"][False]["logits"]) > 100 * TOLERANCE
