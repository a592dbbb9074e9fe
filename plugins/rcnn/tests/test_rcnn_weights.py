"""The R-CNN rows take PaddleDetection's weight files: 2.x checkpoints through
``weight_aliases()``, the zoo's static-era archives (PaddleDetection 0.x, PaddleX 1.x)
through ``legacy_names.from_static`` (background class first, C4 anchors ratio-major,
affine-channel backbones), and pxcore's own .pdparams; the layouts are the manifests
that tools/make_layouts.py wrote by running PaddleDetection's and PaddleX's code."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.errors import WeightsError
from pxcore.testing.layouts import assert_placed, load_manifest, random_state, write_pickled_state
from pxcore.weights import fit_state, load_weights, read_state, write_legacy_tensor
from pxcore_rcnn.legacy_names import (
    dygraph_names,
    from_static,
    static_converted,
    static_names,
)
from pxcore_rcnn.plugin import presets

LAYOUTS = Path(__file__).parent / "layouts"
ROWS = [name for name, *_ in presets()]
# The file round trips for one row of each kind of layout (C4 with affine channels,
# PaddleX's R18-FPN, FPN with batch norm, HRNet with HRFPN); every row's names are
# checked against its manifest above.
ROUND_TRIP_ROWS = ["FasterRCNN-ResNet50", "MaskRCNN-ResNet50", "FasterRCNN-ResNet18-FPN",
                   "MaskRCNN-ResNet101_vd-FPN", "MaskRCNN-HRNet_W18-FPN"]


def _static_archive(manifest: dict, state: dict[str, np.ndarray], rng) -> dict[str, np.ndarray]:
    """``state`` as the row's static archive holds it, written from the reference's
    conventions (not through from_static): class 0 the background, four more box deltas
    and one more mask map for it in front, the C4 RPN's anchors ratio-major."""
    converted = manifest["legacy_converted"]
    archive = {}
    for name, key in manifest["legacy"].items():
        value = state[key]
        if name.startswith("cls_score_"):
            value = np.concatenate([value[..., -1:], value[..., :-1]], axis=-1)
        elif name.startswith("bbox_pred_"):
            value = np.concatenate([rng.standard_normal(value[..., :4].shape, dtype=np.float32), value], -1)
        elif name.startswith("mask_fcn_logits_"):
            value = np.concatenate([rng.standard_normal(value[:1].shape, dtype=np.float32), value], 0)
        elif name.startswith(("rpn_cls_logits_", "rpn_bbox_pred_")) and name in converted:
            # 15 anchors: ours size-major (s * 3 + r), theirs ratio-major (r * 5 + s)
            per = 4 if name.startswith("rpn_bbox_pred_") else 1
            ours = value.reshape(15, per, *value.shape[1:])
            theirs = np.empty_like(ours)
            for s in range(5):
                for r in range(3):
                    theirs[r * 5 + s] = ours[s * 3 + r]
            value = theirs.reshape(value.shape)
        assert list(value.shape) == converted.get(name, list(value.shape)), name
        archive[name] = value
    return archive


@pytest.mark.parametrize("row", ROWS)
def test_names_come_from_rules_that_match_the_manifest(row):
    manifest = load_manifest(LAYOUTS / f"{row}.json")
    with paddle.LazyGuard():  # names and shapes only: skip initialising the values
        net = pxcore.create_model(row).net
    assert {k: list(v.shape) for k, v in net.state_dict().items()} == manifest["pdparams"]
    assert static_names(net, affine_channel=manifest["legacy_affine_channel"]) == manifest["legacy"]
    assert sorted(static_converted(net)) == sorted(manifest["legacy_converted"])
    assert dygraph_names(net) == manifest["paddledet_2x"]
    # every tensor of ours named once in each layout
    assert sorted(manifest["paddledet_2x"].values()) == sorted(manifest["pdparams"])
    statistics = [k for k in manifest["pdparams"] if k.startswith("backbone.")
                  and k.endswith(("._mean", "._variance"))]
    named = set(manifest["legacy"].values())
    assert named == set(manifest["pdparams"]) - (set(statistics) if manifest["legacy_affine_channel"] else set())
    renamed = {name: key for name, key in manifest["paddledet_2x"].items() if name != key}
    plain = {name: key for name, key in static_names(net).items()
             if name not in manifest["legacy_converted"]}
    assert net.weight_aliases() == {**plain, **renamed}


class _RenamesOnly:
    """The network as fit_state sees it without ``convert_weights``."""

    def __init__(self, net) -> None:
        self.net = net

    def state_dict(self):
        return self.net.state_dict()

    def weight_aliases(self):
        return self.net.weight_aliases()


@pytest.mark.slow  # up to 64 M values written and read in four layouts (10-17 s each)
@pytest.mark.parametrize("row", ROUND_TRIP_ROWS)
def test_takes_the_official_weight_layouts(row, tmp_path):
    manifest = load_manifest(LAYOUTS / f"{row}.json")
    net = pxcore.create_model(row).net
    state = random_state(manifest["pdparams"], seed=1)
    # pxcore's own .pdparams
    path = tmp_path / "pxcore.pdparams"
    paddle.save({k: paddle.to_tensor(v) for k, v in state.items()}, str(path))
    load_weights(net, path)
    assert_placed(net, state, f"{row} pxcore .pdparams")
    path.unlink()
    # a PaddleDetection 2.x checkpoint
    state = {key: value + 1.0 for key, value in state.items()}
    path = write_pickled_state(tmp_path / "ppdet2x.pdparams",
                           {name: state[key] for name, key in manifest["paddledet_2x"].items()})
    load_weights(net, path)
    assert_placed(net, state, f"{row} 2.x .pdparams")
    path.unlink()
    # the zoo's static .tar: converted by from_static, then fitted as load_weights does
    state = {key: value - 2.0 for key, value in state.items()}
    if manifest["legacy_affine_channel"]:
        for key in state:
            if key.startswith("backbone.") and key.endswith("._mean"):
                state[key] = np.zeros_like(state[key])
            elif key.startswith("backbone.") and key.endswith("._variance"):
                state[key] = np.full_like(state[key], 1.0 - 1e-5)
    archive = _static_archive(manifest, state, np.random.default_rng(2))
    folder = tmp_path / row
    for name, value in archive.items():
        write_legacy_tensor(folder / name, value)
    with tarfile.open(tmp_path / f"{row}.tar", "w") as tar:
        tar.add(folder, arcname=folder.name)
    read = read_state(tmp_path / f"{row}.tar")
    assert read.keys() == archive.keys()
    # renames alone refuse it, naming what needs converting: nothing is placed silently
    # in the wrong order; load_weights converts first (net.convert_weights)
    with pytest.raises(WeightsError, match="not in the model: cls_score_w"):
        fit_state(_RenamesOnly(net), read, f"{row}.tar")
    load_weights(net, tmp_path / f"{row}.tar")
    assert_placed(net, state, f"{row} static .tar")


def test_a_2x_checkpoint_for_another_class_count_loads_with_the_heads_reinitialised(tmp_path):
    manifest = load_manifest(LAYOUTS / "MaskRCNN-ResNet18-FPN.json")
    shapes = dict(manifest["pdparams"])
    shapes["predictor.bbox_score.weight"] = [1024, 21]
    shapes["predictor.bbox_score.bias"] = [21]
    shapes["predictor.bbox_delta.weight"] = [1024, 80]
    shapes["predictor.bbox_delta.bias"] = [80]
    shapes["mask_head.mask_logits.weight"] = [20, 256, 1, 1]
    shapes["mask_head.mask_logits.bias"] = [20]
    state = random_state(shapes, seed=3)
    path = write_pickled_state(tmp_path / "mask_rcnn_r18_fpn_voc.pdparams",
                           {name: state[key] for name, key in manifest["paddledet_2x"].items()})
    net = pxcore.create_model("MaskRCNN-ResNet18-FPN").net
    fresh = {k: v.numpy() for k, v in net.state_dict().items()}
    notes = load_weights(net, path)
    assert any("re-initialised" in note and "predictor.bbox_score.weight [1024, 21] -> [1024, 81]"
               in note and "mask_head.mask_logits.weight [20, 256, 1, 1] -> [80, 256, 1, 1]" in note
               for note in notes), notes
    loaded = net.state_dict()
    for key, value in state.items():
        if key.startswith(("predictor.", "mask_head.mask_logits.")):
            assert np.array_equal(loaded[key].numpy(), fresh[key]), key
        else:
            assert np.array_equal(loaded[key].numpy(), value), key


# --- from_static on a small network: what each conversion does ------------------------

@pytest.fixture(scope="module")
def small_c4():
    # C4 with masks: every conversion applies (15 anchors per cell)
    return pxcore.create_model("MaskRCNN-ResNet50", num_classes=3, backbone="ResNet18").net


def _static_state(net, rng) -> dict[str, np.ndarray]:
    """A 0.x archive for ``net`` with the reference's shapes, random values."""
    shapes = {k: list(v.shape) for k, v in net.state_dict().items()}
    names = static_names(net)
    out = {}
    for name, key in names.items():
        shape = list(shapes[key])
        if name.startswith("cls_score_"):
            pass  # C + 1 columns either way
        elif name.startswith("bbox_pred_"):
            shape[-1] += 4
        elif name.startswith("mask_fcn_logits_"):
            shape[0] += 1
        out[name] = rng.standard_normal(shape, dtype=np.float32)
    return out


def test_from_static_moves_the_background_and_drops_its_outputs(small_c4):
    archive = _static_state(small_c4, np.random.default_rng(4))
    state = from_static(small_c4, archive)
    np.testing.assert_array_equal(state["predictor.bbox_score.weight"][:, :3], archive["cls_score_w"][:, 1:])
    np.testing.assert_array_equal(state["predictor.bbox_score.weight"][:, 3], archive["cls_score_w"][:, 0])
    np.testing.assert_array_equal(state["predictor.bbox_score.bias"],
                                  archive["cls_score_b"][[1, 2, 3, 0]])
    np.testing.assert_array_equal(state["predictor.bbox_delta.weight"], archive["bbox_pred_w"][:, 4:])
    np.testing.assert_array_equal(state["predictor.bbox_delta.bias"], archive["bbox_pred_b"][4:])
    np.testing.assert_array_equal(state["mask_head.mask_logits.weight"], archive["mask_fcn_logits_w"][1:])
    np.testing.assert_array_equal(state["mask_head.mask_logits.bias"], archive["mask_fcn_logits_b"][1:])
    # the rest is renamed untouched, and the whole fits
    np.testing.assert_array_equal(state["backbone.blocks.0.conv0.conv.weight"],
                                  archive["res2a_branch2a_weights"])
    fit_state(small_c4, state, "archive")


def test_from_static_reorders_the_c4_anchors_from_ratio_major(small_c4):
    archive = _static_state(small_c4, np.random.default_rng(5))
    # Paddle 1.x's anchor_generator: anchor r * 5 + s has ratio r and size s
    archive["rpn_cls_logits_b"] = np.array([10 * r + s for r in range(3) for s in range(5)], np.float32)
    boxes = np.array([[10 * r + s + k / 10 for k in range(4)] for r in range(3) for s in range(5)],
                     np.float32)
    archive["rpn_bbox_pred_b"] = boxes.reshape(-1)
    state = from_static(small_c4, archive)
    # ours: anchor s * 3 + r (cell_anchors is size-major)
    expected = np.array([10 * r + s for s in range(5) for r in range(3)], np.float32)
    np.testing.assert_array_equal(state["rpn_head.score.bias"], expected)
    np.testing.assert_allclose(state["rpn_head.delta.bias"].reshape(15, 4)[:, 0], expected)
    np.testing.assert_allclose(state["rpn_head.delta.bias"].reshape(15, 4)[4], [11, 11.1, 11.2, 11.3])
    weight = archive["rpn_cls_logits_w"]
    np.testing.assert_array_equal(state["rpn_head.score.weight"][1], weight[5])  # size 0, ratio 1


def test_fpn_anchors_need_no_reordering():
    with paddle.LazyGuard():  # names only
        net = pxcore.create_model("FasterRCNN-ResNet18-FPN", num_classes=3).net
    assert "rpn_cls_logits_fpn2_w" not in static_converted(net)
    assert net.weight_aliases()["rpn_cls_logits_fpn2_w"] == "rpn_head.score.weight"


def test_affine_channel_archives_get_neutral_statistics(small_c4):
    archive = _static_state(small_c4, np.random.default_rng(6))
    affine = {k: v for k, v in archive.items() if not (k.startswith("bn") and k.endswith(("_mean", "_variance")))}
    state = from_static(small_c4, affine)
    fit_state(small_c4, state, "affine archive")
    np.testing.assert_array_equal(state["backbone.stem.0.bn._mean"], np.zeros(64, np.float32))
    np.testing.assert_allclose(state["backbone.stem.0.bn._variance"], 1 - 1e-5)
    np.testing.assert_array_equal(state["backbone.stem.0.bn.weight"], archive["bn_conv1_scale"])
    # with statistics, they are the archive's; one missing is an error, not filled in
    state = from_static(small_c4, archive)
    np.testing.assert_array_equal(state["backbone.stem.0.bn._mean"], archive["bn_conv1_mean"])
    del archive["bn_conv1_mean"]
    with pytest.raises(WeightsError, match="missing from the file: backbone.stem.0.bn._mean"):
        fit_state(small_c4, from_static(small_c4, archive), "archive")


def test_from_static_leaves_other_layouts_alone(small_c4):
    # safe to run on whatever file is loaded: pxcore's and 2.x's keys pass unchanged
    ours = {k: v.numpy() for k, v in small_c4.state_dict().items()}
    converted = from_static(small_c4, ours)
    assert converted.keys() == ours.keys()
    assert all(converted[k] is ours[k] for k in ours)
    ppdet = {name: ours[key] for name, key in dygraph_names(small_c4).items()}
    converted = from_static(small_c4, ppdet)
    assert converted.keys() == ppdet.keys() and all(converted[k] is ppdet[k] for k in ppdet)


def test_affine_channel_statistics_make_batch_norm_an_affine_map(small_c4):
    norm = small_c4.backbone.stem[0].bn
    state = from_static(small_c4, {"bn_conv1_scale": np.full(64, 2.0, np.float32),
                                   "bn_conv1_offset": np.full(64, 0.5, np.float32)})
    norm.set_state_dict({"weight": state["backbone.stem.0.bn.weight"], "bias": state["backbone.stem.0.bn.bias"],
                         "_mean": state["backbone.stem.0.bn._mean"],
                         "_variance": state["backbone.stem.0.bn._variance"]})
    norm.eval()
    x = paddle.randn([1, 64, 3, 3])
    np.testing.assert_allclose(norm(x).numpy(), 2.0 * x.numpy() + 0.5, rtol=1e-5, atol=1e-5)
