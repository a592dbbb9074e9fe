"""UNet takes the zoo's weight layout: PaddleSeg legacy / PaddleX 1.x static variable
names (unet_coco_v3.tgz) through ``weight_aliases()``, and pxcore's own .pdparams. The
manifest was written by tools/make_layouts.py from PaddleX 1.3's static program."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import paddle

import pxcore
from pxcore.testing.layouts import check_weight_layouts, legacy_archive, load_manifest
from pxcore.weights import fit_state, write_legacy_tensor
from pxcore_unet.legacy_names import static_names
from pxcore_unet.unet import UNet

MANIFEST = Path(__file__).parent / "layouts" / "UNet.json"


def test_legacy_names_are_the_manifests():
    manifest = load_manifest(MANIFEST)
    with paddle.LazyGuard():
        net = pxcore.create_model("UNet").net
    assert manifest["num_classes"] == 81
    assert {k: list(v.shape) for k, v in net.state_dict().items()} == manifest["pdparams"]
    assert net.weight_aliases() == manifest["legacy"] == static_names(net)
    assert sorted(manifest["legacy"].values()) == sorted(manifest["pdparams"])


def test_deconv_mode_names_its_transposed_convs():
    with paddle.LazyGuard():
        net = UNet(num_classes=2, upsample_mode="deconv")
    names = net.weight_aliases()
    assert names["decode/decode1/up/weights"] == "decode.0.deconv.weight"
    assert sorted(names.values()) == sorted(net.state_dict())


def test_takes_the_official_weight_layouts(tmp_path):
    check_weight_layouts(MANIFEST, tmp_path)


def test_a_legacy_archive_with_velocities_and_another_class_count_loads(tmp_path):
    """What the zoo's archive holds (per-variable files, momentum velocities besides),
    loaded into a 5-class network: the logit conv keeps its fresh initialisation."""
    manifest = load_manifest(MANIFEST)
    net = UNet(num_classes=5)
    state = legacy_archive(manifest)
    fitted, notes = fit_state(net, state, "unet_coco_v3")
    assert any("training bookkeeping" in n for n in notes)
    assert any("re-initialised" in n and "logit.weight [81, 64, 3, 3] -> [5, 64, 3, 3]" in n
               for n in notes), notes
    assert set(fitted) == set(net.state_dict()) - {"logit.weight"}
    np.testing.assert_array_equal(fitted["decode.3.convs.conv1.bn._variance"],
                                  state["decode/decode4/up/conv1/BatchNorm/moving_variance"])
    # and through the files: a per-variable directory as fluid.io.save_persistables wrote it
    folder = tmp_path / "unet_coco_v3"
    for name in ("encode/block1/conv0/weights", "encode/block1/conv0/BatchNorm/gamma"):
        write_legacy_tensor(folder / name, state[name])
    from pxcore.weights import read_state

    read = read_state(folder)
    assert set(read) == {"encode/block1/conv0/weights", "encode/block1/conv0/BatchNorm/gamma"}
