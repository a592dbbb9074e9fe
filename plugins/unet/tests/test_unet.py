"""UNet: the zoo's COCO row as a preset, shapes at non-square sizes in both upsampling
modes, training outputs, to_static and Paddle Inference (oneDNN) parity, and the
parameter count against the zoo's archive size."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.testing import pytest_plugin as kit
from pxcore.testing.random_weights import randomise
from pxcore_unet.unet import UNet

DIST = "pxcore-unet"
PRESET = "UNet"


@pytest.fixture(scope="module")
def small():
    """A 3-class UNet with its weights (13 M values: the channels are fixed)."""
    paddle.seed(0)
    return randomise(UNet(num_classes=3))


def test_the_zoo_name_builds_the_preset_with_its_class_count():
    with paddle.LazyGuard():  # shapes only
        model = pxcore.create_model("UNet", task="semantic_segmentation", dataset="COCO")
    assert model.spec.name == PRESET and model.spec.task == "semantic_segmentation"
    assert model.num_classes == 81 and model.net.num_classes == 81
    assert model.net.upsample_mode == "bilinear"


def test_preset_registration():
    kit.check_segmenter_preset(PRESET, DIST, {"class": "UNet"}, 512)


test_conformance = kit.conformance_test(DIST)


@pytest.mark.parametrize("height, width", [(64, 96), (96, 160), (32, 32)])
def test_logits_at_the_input_size(small, height, width):
    with paddle.no_grad():
        out = small(paddle.rand([2, 3, height, width]))
    assert list(out.shape) == [2, 3, height, width]


def test_deconv_upsampling_gives_the_same_shapes():
    paddle.seed(0)
    net = UNet(num_classes=2, upsample_mode="deconv")
    net.eval()
    with paddle.no_grad():
        assert list(net(paddle.rand([1, 3, 64, 96])).shape) == [1, 2, 64, 96]
    assert list(net.decode[0].deconv.weight.shape) == [512, 128, 2, 2]
    with pytest.raises(ValueError, match="upsample_mode"):
        UNet(num_classes=2, upsample_mode="nearest")


def test_training_mode_returns_the_logits_with_one_loss_weight():
    paddle.seed(0)
    net = UNet(num_classes=3)
    net.train()
    x = paddle.rand([2, 3, 64, 96])
    out = net(x)
    assert isinstance(out, paddle.Tensor) and list(out.shape) == [2, 3, 64, 96]
    assert net.loss_weights == (1.0,)
    out.mean().backward()
    assert net.encode[0].conv0.conv.weight.grad is not None


# to_static with dynamic sizes (the eager logits at every size; conformance compares them
# at a fixed size), paddle.jit.save, then Paddle Inference with oneDNN (which rejects every
# interpolation op it cannot size) and ONNX Runtime give the eager logits
exported, test_static_parity_and_paddle_inference_round_trip, test_onnx_runtime_round_trip = (
    kit.runtime_round_trips("small", [(1, 3, 64, 96), (2, 3, 96, 64)]))


def test_parameter_count_matches_the_zoo_size():
    """The zoo lists unet_coco_v3.tgz at 107.3 MB: twice the weights' 53.8 MB, as the
    archive holds a momentum velocity for every trainable tensor besides (PaddleSeg's
    legacy snapshots do; loading ignores them). Checked as (values + trainable values)
    * 4 bytes within 1% (the archive is gzipped)."""
    with paddle.LazyGuard():
        net = pxcore.create_model(PRESET).net
    state = net.state_dict()
    values = sum(int(np.prod(t.shape)) for t in state.values())
    trainable = sum(int(np.prod(t.shape)) for k, t in state.items()
                    if not k.endswith(("._mean", "._variance")))
    assert values == 13_445_888
    assert abs((values + trainable) * 4 / 1e6 - 107.3) / 107.3 < 0.01
