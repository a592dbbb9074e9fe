"""The YOLO rows take PaddleDetection's weight files: the zoo's static-era archives
(per-variable .tar, and fluid.save's .pdparams keyed by variable name), PaddleDetection
2.x checkpoints, and pxcore's own .pdparams; the layouts are the manifests that
tools/make_layouts.py wrote by running PaddleDetection's code."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.errors import PxError, WeightsError
from pxcore.testing.layouts import (
    assert_placed,
    check_weight_layouts,
    load_manifest,
    random_state,
    write_pickled_state,
)
from pxcore.weights import load_weights, read_pdparams
from pxcore_yolov3.legacy_names import dygraph_names, static_names
from pxcore_yolov3.plugin import YOLOV3_BACKBONES

LAYOUTS = Path(__file__).parent / "layouts"
ROWS = [*YOLOV3_BACKBONES, "PPYOLO"]


@pytest.mark.parametrize("row", ROWS)
def test_names_come_from_rules_that_match_the_manifest(row):
    manifest = load_manifest(LAYOUTS / f"{row}.json")
    with paddle.LazyGuard():  # shapes only: skip initialising the values
        net = pxcore.create_model(row).net
    assert {k: list(v.shape) for k, v in net.state_dict().items()} == manifest["pdparams"]
    assert static_names(net) == manifest["legacy"]
    assert dygraph_names(net) == manifest["paddledet_2x"]
    renamed = {name: key for name, key in manifest["paddledet_2x"].items() if name != key}
    assert net.weight_aliases() == {**manifest["legacy"], **renamed}


@pytest.mark.slow  # up to 62 M values written and read in five layouts
@pytest.mark.parametrize("row", ROWS)
def test_takes_the_official_weight_layouts(row, tmp_path):
    manifest = load_manifest(LAYOUTS / f"{row}.json")
    # pxcore's .pdparams, the zoo's per-variable directory and its .tar
    check_weight_layouts(manifest, tmp_path)
    shutil.rmtree(tmp_path)
    tmp_path.mkdir()
    state = random_state(manifest["pdparams"], seed=1)
    # create_model(pretrained=...) builds the net and calls load_weights, which
    # check_weight_layouts did three times above: one build takes both files below, each
    # with other values, so that a tensor either leaves unloaded shows
    net = pxcore.create_model(row).net
    # the static-era .pdparams (yolov3_mobilenet_v3.pdparams, ppyolo_2x.pdparams): fluid.save's
    # dict keyed by variable name
    path = write_pickled_state(tmp_path / "static.pdparams",
                           {name: state[key] for name, key in manifest["legacy"].items()})
    load_weights(net, path)
    assert_placed(net, state, f"{row} static .pdparams")
    path.unlink()
    # a PaddleDetection 2.x checkpoint
    state = {key: value + 1.0 for key, value in state.items()}
    path = write_pickled_state(tmp_path / "ppdet2x.pdparams",
                           {name: state[key] for name, key in manifest["paddledet_2x"].items()})
    load_weights(net, path)
    assert_placed(net, state, f"{row} 2.x .pdparams")


def test_a_file_for_another_class_count_loads_with_the_heads_reinitialised(tmp_path):
    # the zoo's static-era layout for 20 classes, loaded into an 80-class model
    manifest = load_manifest(LAYOUTS / "YOLOv3-MobileNetV1.json")
    shapes = dict(manifest["pdparams"])
    for key, shape in shapes.items():
        if key.startswith("yolo_output."):
            shapes[key] = [3 * (5 + 20), *shape[1:]]
    state = random_state(shapes, seed=2)
    path = write_pickled_state(tmp_path / "yolov3_mobilenet_v1_voc.pdparams",
                           {name: state[key] for name, key in manifest["legacy"].items()})
    net = pxcore.create_model("YOLOv3-MobileNetV1").net
    notes = load_weights(net, path)
    assert any("re-initialised" in note and "yolo_output.0.weight [75, 1024, 1, 1] -> "
               "[255, 1024, 1, 1]" in note for note in notes), notes
    loaded = net.state_dict()
    for key, value in state.items():
        if not key.startswith("yolo_output."):
            assert np.array_equal(loaded[key].numpy(), value), key
    for i in range(3):
        # the fresh head: box offsets at 0, objectness and classes at the 1% prior
        bias = loaded[f"yolo_output.{i}.bias"].numpy().reshape(3, 85)
        assert list(loaded[f"yolo_output.{i}.weight"].shape)[0] == 255
        np.testing.assert_allclose(bias[:, :4], 0)
        np.testing.assert_allclose(bias[:, 4:], np.log(0.01 / 0.99), rtol=1e-5)


def test_mobilenetv1_taps_paddledetections_blocks():
    # conv3_2, conv4_2 and conv6: the first block at strides 8 and 16, the last at 32
    with paddle.LazyGuard():  # shapes only: skip initialising the values
        backbone = pxcore.create_model("YOLOv3-MobileNetV1").net.backbone
    assert backbone._level_blocks == (3, 5, 12)
    assert [(f.channels, f.stride) for f in backbone.out_features] == [(256, 8), (512, 16), (1024, 32)]
    with pytest.raises(PxError, match="both work at stride 8"):
        pxcore.create_backbone("MobileNetV1", level_blocks=(3, 4, 12))
    with pytest.raises(PxError, match="increasing block indices"):
        pxcore.create_backbone("MobileNetV1", level_blocks=(3, 5, 13))


def test_ppyolo_drops_blocks_where_paddledetection_does():
    with paddle.LazyGuard():  # shapes only: skip initialising the values
        neck = pxcore.create_model("PPYOLO").net.neck
    orders = [[name for name, _ in block.conv_module.named_children()] for block in neck._blocks]
    assert orders[0] == ["conv0", "conv1", "conv2", "spp", "conv3", "drop_block", "route"]
    assert orders[1] == orders[2] == ["conv0", "conv1", "drop_block", "conv2", "conv3", "route"]


class _Rot13:
    def __reduce__(self):
        import codecs

        return codecs.encode, ("text", "rot13")


def test_fluid_saves_protocol_2_pickles_are_read_and_nothing_more(tmp_path):
    # Paddle 1.x's fluid.save pickled at protocol 2, where Python 3 rebuilds an array's
    # bytes with _codecs.encode(text, "latin1"); any other use of it is refused
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = write_pickled_state(tmp_path / "fluid.pdparams", {"conv1_weights": array})
    assert b"_codecs" in path.read_bytes()
    np.testing.assert_array_equal(read_pdparams(path)["conv1_weights"], array)
    path.write_bytes(pickle.dumps({"conv1_weights": _Rot13()}, protocol=2))
    with pytest.raises(WeightsError, match="not a readable .pdparams file.*rot13"):
        read_pdparams(path)
