"""Fast-SCNN takes the zoo's weight layout: PaddleSeg legacy / PaddleX 1.x static
variable names (fast_scnn_cityscape.tar) through ``weight_aliases()``, and pxcore's own
.pdparams. The manifest was written by tools/make_layouts.py from PaddleX 1.3's static
program."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import paddle

import pxcore
from pxcore.testing.layouts import check_weight_layouts, legacy_archive, load_manifest
from pxcore.weights import fit_state
from pxcore_fastscnn.fastscnn import FastSCNN
from pxcore_fastscnn.legacy_names import static_names

MANIFEST = Path(__file__).parent / "layouts" / "Fast-SCNN.json"


def test_legacy_names_are_the_manifests():
    manifest = load_manifest(MANIFEST)
    with paddle.LazyGuard():
        net = pxcore.create_model("Fast-SCNN").net
    assert manifest["num_classes"] == 19
    assert {k: list(v.shape) for k, v in net.state_dict().items()} == manifest["pdparams"]
    assert net.weight_aliases() == manifest["legacy"] == static_names(net)
    assert sorted(manifest["legacy"].values()) == sorted(manifest["pdparams"])
    # both naming conventions of the reference meet in it
    assert manifest["legacy"]["inverted_block_2_3_dwise_bn_variance"] == "bottlenecks.1.2.dwise.bn._variance"
    assert manifest["legacy"]["learning_to_downsample/dsconv1/depthwise/BatchNorm/gamma"] == (
        "dsconv1.depthwise.bn.weight")


def test_takes_the_official_weight_layouts(tmp_path):
    check_weight_layouts(MANIFEST, tmp_path)


def test_the_archive_loads_without_the_auxiliary_head():
    """PaddleX's default multi_loss_weight [1.0] builds no auxiliary head: the archive's
    aux_layer_higher tensors are left out, the rest placed."""
    manifest = load_manifest(MANIFEST)
    archive = legacy_archive(manifest)
    net = FastSCNN(num_classes=19, multi_loss_weight=[1.0])
    fitted, notes = fit_state(net, archive, "fast_scnn_cityscape")
    assert set(fitted) == set(net.state_dict())
    assert any("left out 7 tensors" in n and "aux_layer_higher/" in n for n in notes), notes
    np.testing.assert_array_equal(fitted["classifier.logit.weight"], archive["classifier/weights"])


def test_another_class_count_reinitialises_the_logit_convs():
    manifest = load_manifest(MANIFEST)
    archive = legacy_archive(manifest, seed=1)
    net = FastSCNN(num_classes=4, multi_loss_weight=[1.0, 0.4])
    fitted, notes = fit_state(net, archive, "fast_scnn_cityscape")
    reset = {"classifier.logit.weight", "classifier.logit.bias", "aux_higher.logit.weight",
             "aux_higher.logit.bias"}
    assert set(fitted) == set(net.state_dict()) - reset
    assert any("re-initialised" in n for n in notes)
