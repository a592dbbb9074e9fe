"""The segmentation HRNet (the zoo's Cityscapes HRNet_W18, preset HRNet_W18_seg): its zoo
name, conformance, output sizes, export, size, the upsampling it shares with the
reference, and the weight layout tools/make_seg_layouts.py wrote from PaddleX 1.3."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

import pxcore
from pxcore.errors import PxError
from pxcore.nn.resize import resize_bilinear
from pxcore.testing import conformance_params
from pxcore.testing.layouts import check_weight_layouts, load_manifest, manifest_parameter_count
from pxcore.testing.runtimes import check_outputs, paddle_inference_outputs, save_dynamic
from pxcore.weights import write_legacy_tensor
from pxcore_hrnet.hrnet import HRNet, upsample_branch
from pxcore_hrnet.seg import HRNetSegmentation

DIST = "pxcore-hrnet"
PRESET = "HRNet_W18_seg"
MANIFEST = Path(__file__).parent / "layouts" / f"{PRESET}.json"
# Every tensor with 19 classes, BatchNorm running statistics included (PaddleX 1.3's
# program's variables, tools/make_seg_layouts.py).
VALUES = 9_675_306
ZOO_SIZE_MB = 77.3


@pytest.fixture(scope="module")
def net():
    """One W18 network with 19 classes, in eval mode (the tests below only read it)."""
    paddle.seed(0)
    network = pxcore.create_model("HRNet_W18", task="semantic_segmentation").net
    network.eval()
    return network


def test_the_zoo_name_builds_the_preset_with_its_class_count():
    model = pxcore.create_model("HRNet_W18", task="semantic_segmentation", dataset="Cityscapes")
    assert model.spec.name == PRESET and model.spec.task == "semantic_segmentation"
    assert model.num_classes == 19 and model.net.num_classes == 19
    assert isinstance(model.net, HRNetSegmentation)
    assert model.entry is not None and model.entry.id == "HRNet_W18.cityscapes"
    # the preset's own name finds the same row
    assert pxcore.create_model(PRESET).entry.id == "HRNet_W18.cityscapes"


def test_the_shared_name_alone_is_still_the_classifier():
    with paddle.LazyGuard():  # shapes only: skip initialising the values
        model = pxcore.create_model("HRNet_W18")
    assert model.spec.name == "HRNet_W18" and model.spec.task == "classification"
    assert model.num_classes == 1000 and type(model.net).__name__ == "HRNetClassifier"
    assert model.net.fuse_upsample == "nearest"


def test_paddlex_spelling_builds_the_preset():
    with paddle.LazyGuard():
        model = pxcore.seg.HRNet(2, width=18)
    assert model.spec.name == PRESET and model.num_classes == 2
    assert list(model.net.cls.weight.shape) == [2, 270, 1, 1]


def test_preset_registration():
    spec = pxcore.get_registry().get("model", PRESET)
    assert spec.distribution == DIST and spec.task == "semantic_segmentation"
    assert spec.paddlex == {"class": "HRNet", "width": 18}
    assert spec.defaults == {"width": 18, "num_classes": 19}
    meta = spec.metadata
    assert meta["input_size"] == 769 and meta["test_input_size"] == 64 and meta["size_divisor"] == 32
    assert meta["mean"] == [0.5, 0.5, 0.5] and meta["std"] == [0.5, 0.5, 0.5]


def test_conformance_covers_the_preset():
    # test_hrnet.py's test_conformance (slow: to_static of ~2,000 ops) runs pxcore's checks
    # on every spec of the plugin, this one included: logits at the input size, also
    # non-square, training outputs against loss_weights, to_static parity.
    assert PRESET in [param.values[0].name for param in conformance_params(DIST)]


@pytest.mark.parametrize(("height", "width"), [(64, 96), (96, 160), (128, 64)])
def test_logits_at_the_input_size(net, height, width):
    with paddle.no_grad():
        out = net(paddle.rand([2, 3, height, width]))
    assert list(out.shape) == [2, 19, height, width]


def test_training_mode_gives_the_same_logits_shape():
    net = HRNetSegmentation(num_classes=3, width=8)  # a narrow one: this runs backward
    net.train()
    out = net(paddle.rand([2, 3, 64, 96]))
    assert list(out.shape) == [2, 3, 64, 96] and net.loss_weights == (1.0,)
    out.mean().backward()
    assert net.cls.weight.grad is not None and net.backbone.conv_layer1_1.conv.weight.grad is not None


def _inference_round_trip(net, images: list[np.ndarray], workdir: Path) -> None:
    """to_static with dynamic sizes gives the eager outputs; saved with paddle.jit.save,
    Paddle Inference with oneDNN (which rejects every interpolation op) gives them too."""
    eager = save_dynamic(net, images, workdir)
    check_outputs(paddle_inference_outputs(workdir, images), eager, "Paddle Inference", rtol=1e-3)


# The whole network's export and runtime parity: tests/test_segmentation_zoo_rows.py
# (pxcore.testing.segmentation, every segmentation preset).


class _Fusions(paddle.nn.Layer):
    """What the segmentation HRNet adds to the graph, small: the fusions' upsampling in
    both bilinear modes, the head's corner-aligned resizes to the finest branch and to
    the input."""

    def __init__(self):
        super().__init__()
        self.fine = paddle.nn.Conv2D(3, 4, 3, stride=4, padding=1)
        self.coarse = paddle.nn.Conv2D(4, 4, 3, stride=4, padding=1)

    def forward(self, x):
        fine = self.fine(x)
        coarse = self.coarse(fine)
        joined = (fine + upsample_branch(coarse, 4, fine, "bilinear")
                  + upsample_branch(coarse, 4, fine, "bilinear_align_corners")
                  + resize_bilinear(coarse, fine, align_corners=True))
        return resize_bilinear(joined, x, align_corners=True)


def test_the_heads_resizes_export_and_run_under_onednn(tmp_path):
    rng = np.random.default_rng(0)
    images = [rng.standard_normal(shape).astype("float32") for shape in [(1, 3, 64, 96), (2, 3, 96, 32)]]
    _inference_round_trip(_Fusions(), images, tmp_path)


def test_parameter_count_matches_the_zoo_size():
    with paddle.LazyGuard():
        net = pxcore.create_model(PRESET).net
    values = sum(int(np.prod(t.shape)) for t in net.state_dict().values())
    trainable = sum(int(np.prod(p.shape)) for p in net.parameters() if not p.stop_gradient)
    assert values == VALUES == manifest_parameter_count(load_manifest(MANIFEST))
    # The archive is a training checkpoint: the network and one Momentum velocity per
    # trainable parameter, float32.
    assert round((values + trainable) * 4 / 1e6, 1) == ZOO_SIZE_MB


def test_legacy_names_are_the_manifests():
    with paddle.LazyGuard():
        net = pxcore.create_model(PRESET).net
    manifest = load_manifest(MANIFEST)
    assert manifest["model"] == PRESET and manifest["num_classes"] == 19
    assert {k: list(t.shape) for k, t in net.state_dict().items()} == manifest["pdparams"]
    assert net.weight_aliases() == manifest["legacy"]
    assert manifest["legacy"]["conv-1_weights"] == "cls.weight"
    assert manifest["legacy"]["conv-2_bn_variance"] == "last_conv.bn._variance"
    assert manifest["legacy"]["st4_3_layer_1_4_bn_mean"].startswith("backbone.st4.")


@pytest.mark.slow  # builds the net three times and writes 1,531 tensor files
def test_takes_the_official_weight_layouts(tmp_path):
    check_weight_layouts(MANIFEST, tmp_path)


def test_legacy_archive_loads_and_another_class_count_keeps_the_body(tmp_path):
    manifest = load_manifest(MANIFEST)
    rng = np.random.default_rng(0)
    state = {k: rng.standard_normal(s).astype("float32") for k, s in manifest["pdparams"].items()}
    folder = tmp_path / "hrnet_w18_bn_cityscapes"
    folder.mkdir()
    for legacy, key in manifest["legacy"].items():
        write_legacy_tensor(folder / legacy, state[key])
    write_legacy_tensor(folder / "conv-1_weights_velocity_0", state["cls.weight"])  # bookkeeping
    loaded = pxcore.create_model(PRESET, pretrained=folder).net.state_dict()
    for key, value in state.items():
        np.testing.assert_array_equal(loaded[key].numpy(), value)
    # fine-tuning on 5 classes: everything but the classifier conv is loaded
    loaded = pxcore.create_model(PRESET, num_classes=5, pretrained=folder).net.state_dict()
    assert list(loaded["cls.weight"].shape) == [5, 270, 1, 1]
    np.testing.assert_array_equal(loaded["last_conv.conv.weight"].numpy(), state["last_conv.conv.weight"])


def test_the_archive_picks_its_fusions_and_model_yml_keeps_them(tmp_path):
    """The zoo's archive (Paddle 1.x per-variable files) was trained with corner-aligned
    fusions (PaddleSeg's legacy HRNet): loading it builds them, a .pdparams keeps
    PaddleX 1.x's default, a named argument wins, and model.yml rebuilds the same."""
    manifest = load_manifest(MANIFEST)
    rng = np.random.default_rng(1)
    state = {k: (rng.standard_normal(s) * 0.05).astype("float32") for k, s in manifest["pdparams"].items()}
    for key in state:  # variances must be positive for finite logits
        if key.endswith("._variance"):
            state[key] = np.abs(state[key]) + 1.0
    folder = tmp_path / "hrnet_w18_bn_cityscapes"
    folder.mkdir()
    for legacy, key in manifest["legacy"].items():
        write_legacy_tensor(folder / legacy, state[key])
    paddle.save({k: paddle.to_tensor(v) for k, v in state.items()}, str(tmp_path / "w.pdparams"))
    row = {"task": "semantic_segmentation"}

    archived = pxcore.create_model("HRNet_W18", pretrained=folder, **row)
    assert archived.entry.legacy_args == {"fuse_upsample": "bilinear_align_corners"}
    assert archived.net.backbone.fuse_upsample == "bilinear_align_corners"
    assert archived.build_args["fuse_upsample"] == "bilinear_align_corners"
    assert pxcore.create_model("HRNet_W18", pretrained=tmp_path / "w.pdparams",
                               **row).net.backbone.fuse_upsample == "bilinear"
    assert pxcore.create_model("HRNet_W18", pretrained=folder, fuse_upsample="bilinear",
                               **row).net.backbone.fuse_upsample == "bilinear"

    archived.save(tmp_path / "saved")
    assert "bilinear_align_corners" in (tmp_path / "saved" / "model.yml").read_text()
    reloaded = pxcore.load_model(tmp_path / "saved")
    assert reloaded.net.backbone.fuse_upsample == "bilinear_align_corners"
    archived.net.eval()
    x = paddle.to_tensor(rng.standard_normal((1, 3, 64, 64)).astype("float32"))
    with paddle.no_grad():
        np.testing.assert_array_equal(reloaded.net(x).numpy(), archived.net(x).numpy())


def test_classifier_body_weights_are_the_segmenters_backbone():
    """The body is the classifier's, key for key (under ``backbone.``): ImageNet weights
    of HRNet_W18_C fit it."""
    with paddle.LazyGuard():
        seg = pxcore.create_model(PRESET).net
        classifier = pxcore.create_model("HRNet_W18").net
    body = {k.removeprefix("backbone."): list(t.shape) for k, t in seg.state_dict().items()
            if k.startswith("backbone.")}
    theirs = {k: list(t.shape) for k, t in classifier.state_dict().items()
              if not k.startswith(classifier.unused_prefixes)}
    assert body == theirs


@pytest.mark.parametrize("factor", [2, 4, 8])
@pytest.mark.parametrize(("mode", "interpolate"), [
    # PaddleX 1.x: fluid resize_bilinear(align_corners=False, align_mode=1)
    ("bilinear", {"align_corners": False, "align_mode": 1}),
    # PaddleSeg's legacy HRNet: fluid's defaults, corners aligned
    ("bilinear_align_corners", {"align_corners": True}),
])
def test_fusion_upsampling_is_the_references(factor, mode, interpolate):
    x = paddle.rand([2, 3, 4, 6])
    like = paddle.zeros([2, 5, 4 * factor, 6 * factor])
    expected = F.interpolate(x, size=[4 * factor, 6 * factor], mode="bilinear", **interpolate)
    got = upsample_branch(x, factor, like, mode)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)


def test_fusion_upsampling_changes_the_body_not_its_tensors():
    nearest, bilinear = HRNet(width=8), HRNet(width=8, fuse_upsample="bilinear")
    assert nearest.fuse_upsample == "nearest"
    assert {k: t.shape for k, t in nearest.state_dict().items()} == {
        k: t.shape for k, t in bilinear.state_dict().items()}
    bilinear.set_state_dict(nearest.state_dict())
    nearest.eval()
    bilinear.eval()
    x = paddle.rand([1, 3, 64, 64])
    with paddle.no_grad():
        a, b = nearest.forward_features(x), bilinear.forward_features(x)
    assert not np.allclose(a[0].numpy(), b[0].numpy())  # the fused finest branch differs


def test_bad_arguments_fail_clearly():
    with pytest.raises(PxError, match="fuse_upsample must be one of"):
        HRNet(width=18, fuse_upsample="bicubic")
    with pytest.raises(PxError, match="upsamples bilinearly in its fusions"):
        HRNetSegmentation(num_classes=19, fuse_upsample="nearest")
    with pytest.raises(PxError, match="num_classes must be a positive integer"):
        HRNetSegmentation(num_classes=0)


def test_input_sizes_that_do_not_halve_fail_clearly(net):
    with pytest.raises(PxError, match="a 100x72 input does not fit"), paddle.no_grad():
        net(paddle.rand([1, 3, 100, 72]))
