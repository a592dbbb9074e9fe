"""PaddleX's ``DeepLabv3p(backbone="MobileNetV2_x1.0")`` and the zoo's MobileNetV2 rows
are two networks: the rows are what their archives hold (backbone and a logit conv),
PaddleX's class adds ASPP and the decoder. ``pxcore.seg.DeepLabv3p`` builds PaddleX's
(the preset ``DeepLabv3_MobileNetV2_x1.0-paddlex``), which takes a zoo archive only with
``partial=True``, reporting the tensors left at their initial values."""

from __future__ import annotations

import logging
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.errors import WeightsError
from pxcore.testing.layouts import legacy_archive, load_manifest
from pxcore.weights import load_weights, write_legacy_tensor
from pxcore_deeplab.deeplabv3p import ASPP, ConcatDecoder, ConvBN, SeparableConv
from pxcore_deeplab.plugin import PADDLEX_SUFFIX, paddlex_description

PADDLEX_PRESET = "DeepLabv3_MobileNetV2_x1.0" + PADDLEX_SUFFIX
LAYOUTS = Path(__file__).parent / "layouts"


@pytest.fixture(scope="module")
def paddlex_net():
    paddle.seed(0)
    return pxcore.seg.DeepLabv3p(19, backbone="MobileNetV2_x1.0").net


def test_the_paddlex_spelling_builds_paddlex_s_network(paddlex_net):
    """What PaddleX 1.3.11 builds for DeepLabv3p(backbone="MobileNetV2_x1.0"), by its
    source: paddlex/cv/models/deeplabv3p.py:72-76 (output_stride 16, separable convs in
    ASPP and decoder, ASPP and decoder on), :132-140 (image pooling, 256 ASPP channels, a
    concat projection, the concat decoder with 256 channels), :174-175 (decode point 4);
    paddlex/cv/nets/segmentation/deeplabv3p.py:151 (dilations 6/12/18), :285 (dropout
    0.9), :322 (a 48-channel shortcut), :448 (the logit conv)."""
    model = pxcore.seg.DeepLabv3p(19, backbone="MobileNetV2_x1.0")
    assert model.spec.name == PADDLEX_PRESET and model.entry is None
    net = paddlex_net
    assert net.output_stride == 16
    encoder = net.encoder
    assert isinstance(encoder, ASPP) and encoder.dilations == (6, 12, 18)
    assert all(isinstance(b, SeparableConv) for b in encoder.branches)
    assert encoder.image_level_feature and not encoder.with_se and encoder.pool_size is None
    assert encoder.concat.conv.weight.shape == [256, 5 * 256, 1, 1]  # pool, 1x1, 3 dilated
    assert encoder.dropout.p == 0.9
    decoder = net.decoder
    assert isinstance(decoder, ConcatDecoder) and decoder.out_channels == 256
    assert [type(c) for c in decoder.convs] == [SeparableConv, SeparableConv]
    # the shortcut: conv3's last expanded depthwise output (144 channels at stride 4)
    assert decoder.concat.conv.weight.shape == [48, 144, 1, 1]
    assert net.encoder_kind.low_level.stride == 4 and net.encoder_kind.channels == 320
    assert isinstance(net.logit, ConvBN) and net.logit.conv.weight.shape == [19, 256, 1, 1]
    out = net.eval()(paddle.rand([1, 3, 64, 96]))
    assert out.shape == [1, 19, 64, 96]


def test_its_layout_is_paddlex_s_program(paddlex_net):
    """A snapshot: tools/make_layouts.py wrote the manifest after requiring its names and
    shapes to be exactly the persistable variables of PaddleX 1.3.11's static program for
    this backbone with PaddleX's defaults, and the same logits with the same weights
    (test_matches_paddlex_s_program reruns that where PaddleX's code is installed)."""
    manifest = load_manifest(LAYOUTS / f"{PADDLEX_PRESET}.json")
    assert manifest["model"] == PADDLEX_PRESET and manifest["num_classes"] == 19
    assert "encoder_with_aspp True, enable_decoder True" in manifest["source"]
    shapes = {k: list(v.shape) for k, v in paddlex_net.state_dict().items()}
    assert shapes == manifest["pdparams"]
    assert paddlex_net.weight_aliases() == manifest["legacy"]
    scopes = {name.split("/")[0] for name in manifest["legacy"] if "/" in name}
    assert scopes == {"encoder", "decoder", "logit"}  # PaddleX's head scopes, all present


@pytest.mark.reference
def test_matches_paddlex_s_program(tmp_path):
    """Rerun tools/make_layouts.py (``python -m reference.manifests deeplab``) for this
    preset: it builds PaddleX 1.3.11's static DeepLabv3p for MobileNetV2_x1.0 with
    PaddleX's defaults, requires its variables' names and shapes to be the manifest's and
    the same logits (within 1e-4 of the largest: float32 through two differently ordered
    programs), and writes the manifest again, which must equal the one kept here."""
    import reference

    root = reference.require("paddlex")
    done = subprocess.run([sys.executable, "-m", "reference.manifests", "deeplab", "--paddlex", str(root),
                           "--out", str(tmp_path), PADDLEX_PRESET], capture_output=True, text=True,
                          timeout=600, cwd=reference.REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    written = load_manifest(tmp_path / f"{PADDLEX_PRESET}.json")
    assert written == load_manifest(LAYOUTS / f"{PADDLEX_PRESET}.json")


def test_the_zoo_rows_stay_the_archives_network():
    """The rows' PaddleX spelling says how they differ from PaddleX's class, and spelling
    that out builds the row."""
    assert paddlex_description("MobileNetV2_x1.0") == {
        "class": "DeepLabv3p", "backbone": "MobileNetV2_x1.0",
        "encoder_with_aspp": False, "enable_decoder": False}
    row = pxcore.seg.DeepLabv3p(2, backbone="MobileNetV2_x1.0", encoder_with_aspp=False,
                                enable_decoder=False)
    assert row.entry.name == "DeepLabv3_MobileNetV2_x1.0" and row.net.encoder is None
    assert row.net.decoder is None and row.net.logit.conv.weight.shape == [2, 320, 1, 1]
    # a PaddleX argument no row states reaches PaddleX's network as an override
    no_aspp = pxcore.seg.DeepLabv3p(2, backbone="MobileNetV2_x1.0", encoder_with_aspp=False)
    assert no_aspp.spec.name == PADDLEX_PRESET and no_aspp.net.encoder is None
    assert isinstance(no_aspp.net.decoder, ConcatDecoder)
    # Xception65 and MobileNetV3: the rows are PaddleX's network; no second preset
    for backbone in ("Xception65", "MobileNetV3_large_x1_0_ssld"):
        assert paddlex_description(backbone) == paddlex_description(backbone, zoo_weights=False)
        assert pxcore.get_registry().find("model", f"DeepLabv3_{backbone}{PADDLEX_SUFFIX}") is None


def _backbone_only(net, path: Path) -> dict:
    rng = np.random.default_rng(1)
    state = {k: rng.standard_normal(v.shape).astype("float32")
             for k, v in net.state_dict().items() if k.startswith("backbone.")}
    paddle.save({k: paddle.to_tensor(v) for k, v in state.items()}, str(path))
    return state


def test_backbone_weights_need_partial_true(paddlex_net, tmp_path, caplog):
    path = tmp_path / "backbone.pdparams"
    state = _backbone_only(paddlex_net, path)
    head = sorted(k for k in paddlex_net.state_dict() if not k.startswith("backbone."))
    assert head and all(k.startswith(("encoder.", "decoder.", "logit.")) for k in head)
    with pytest.raises(WeightsError) as info:
        pxcore.seg.DeepLabv3p(19, backbone="MobileNetV2_x1.0", pretrained=path)
    message = str(info.value)
    assert "pass partial=True" in message and f"{len(head)} are missing" in message
    assert "missing from the file: encoder.aspp1.depthwise.conv.weight [320, 1, 3, 3]" in message

    paddle.seed(0)
    fresh = pxcore.create_model(PADDLEX_PRESET, num_classes=19).net
    before = {k: v.numpy() for k, v in fresh.state_dict().items()}
    with caplog.at_level(logging.WARNING, logger="pxcore"):
        report = load_weights(fresh, path, partial=True)
    assert sorted(report.left_at_init) == head
    assert f"partial=True: {len(head)} of the network's {len(before)} tensors" in caplog.text
    after = fresh.state_dict()
    for key, value in state.items():
        assert np.array_equal(after[key].numpy(), value), key
    for key in head:
        assert np.array_equal(after[key].numpy(), before[key]), key  # untouched


def test_a_zoo_archive_loads_its_backbone_with_a_report(tmp_path):
    """The COCO row's archive (its manifest's names, with momentum velocities) under
    PaddleX's network: the backbone is set, the logit conv (320 input channels in the
    archive, 256 here) is re-initialised, ASPP and decoder keep their initial values."""
    manifest = load_manifest(LAYOUTS / "DeepLabv3_MobileNetV2_x1.0-COCO.json")
    archive = legacy_archive(manifest)
    folder = tmp_path / "deeplab_mobilenet_x1_0_coco"
    for name, value in archive.items():
        write_legacy_tensor(folder / name, value)
    tgz = tmp_path / "deeplab_mobilenet_x1_0_coco.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    with pytest.raises(WeightsError, match="pass partial=True"):
        pxcore.seg.DeepLabv3p(81, backbone="MobileNetV2_x1.0", pretrained=tgz)
    model = pxcore.seg.DeepLabv3p(81, backbone="MobileNetV2_x1.0", pretrained=tgz, partial=True)
    loaded = model.net.state_dict()
    for name, key in manifest["legacy"].items():
        if key.startswith("backbone."):
            assert np.array_equal(loaded[key].numpy(), archive[name]), key
    assert np.array_equal(loaded["logit.conv.bias"].numpy(), archive["logit/biases"])
    expected = {k for k in loaded if k.startswith(("encoder.", "decoder."))} | {"logit.conv.weight"}
    assert set(model.weights_report.left_at_init) == expected
    assert any("re-initialised (logit.conv.weight [81, 320, 1, 1] -> [81, 256, 1, 1])" in note
               for note in model.weights_report)


def test_partial_still_refuses_tensors_that_do_not_fit(paddlex_net, tmp_path):
    """partial=True excuses what the weights lack, never what they hold amiss."""
    path = tmp_path / "odd.pdparams"
    state = _backbone_only(paddlex_net, path)
    state["backbone.conv1._conv.weight"] = np.zeros([8, 3, 3, 3], "float32")
    state["not.a.tensor.of.this.net"] = np.zeros([2], "float32")
    paddle.save({k: paddle.to_tensor(v) for k, v in state.items()}, str(path))
    with pytest.raises(WeightsError) as info:
        pxcore.create_model(PADDLEX_PRESET, pretrained=path, partial=True)
    message = str(info.value)
    assert "shape of backbone.conv1._conv.weight: file [8, 3, 3, 3]" in message
    assert "not in the model: not.a.tensor.of.this.net" in message
    assert "partial=True" not in message.splitlines()[-1]  # it would not help
    none = tmp_path / "none.pdparams"
    paddle.save({"@LR_DECAY_COUNTER@": paddle.zeros([1])}, str(none))
    with pytest.raises(WeightsError, match="hold none of DeepLabV3P's tensors"):
        pxcore.create_model(PADDLEX_PRESET, pretrained=none, partial=True)
